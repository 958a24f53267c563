// A throwaway PgBouncer (Debian's pgbouncer) in front of a test Postgres, as a platform team runs one: clients
// authenticate with scram-sha-256, their verifiers looked up in the server with auth_query (as the bootstrap
// superuser, who may read pg_shadow), every database passed through. Stopped and removed on stop() or exit.
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { stopWithDir } from "./leash";
import { freePort, type TestPostgres, waitForPort } from "./postgres";

export interface TestPooler {
  readonly host: string;
  readonly port: number;
  stop(): void;
}

const PGBOUNCER = "/usr/sbin/pgbouncer";

export async function startPgBouncer(pg: TestPostgres): Promise<TestPooler> {
  const dir = mkdtempSync(join(tmpdir(), "pg-kopf-pgbouncer-"));
  const port = await freePort();
  // The auth user's own password, the one line of the auth file; everyone else's verifier comes from the server.
  const quote = (v: string) => `"${v.replace(/"/g, '""')}"`;
  writeFileSync(join(dir, "users.txt"), `${quote("postgres")} ${quote(pg.superuserPassword)}\n`, { mode: 0o600 });
  const ini = [
    "[databases]",
    `* = host=${pg.host} port=${pg.port}`,
    "[pgbouncer]",
    `listen_addr = ${pg.host}`,
    `listen_port = ${port}`,
    `unix_socket_dir =`,
    "auth_type = scram-sha-256",
    `auth_file = ${join(dir, "users.txt")}`,
    "auth_user = postgres",
    "pool_mode = transaction",
    `logfile = ${join(dir, "pgbouncer.log")}`,
    "",
  ].join("\n");
  writeFileSync(join(dir, "pgbouncer.ini"), ini);
  // PgBouncer will not run as root: as root, it runs as the postgres system user, who must read its files.
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    for (const f of ["", "users.txt", "pgbouncer.ini"]) chownSync(join(dir, f), uid("postgres"), gid("postgres"));
    chmodSync(dir, 0o700);
  }
  const [cmd, ...args] = asRoot
    ? ["runuser", "-u", "postgres", "--", PGBOUNCER, join(dir, "pgbouncer.ini")]
    : [PGBOUNCER, join(dir, "pgbouncer.ini")];
  const stop = stopWithDir(spawn(cmd, args, { stdio: "ignore" }), dir);
  await waitForPort(pg.host, port, "PgBouncer");
  return { host: pg.host, port, stop };
}

const uid = (user: string) => Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
const gid = (user: string) => Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
