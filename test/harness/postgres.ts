// A throwaway PostgreSQL cluster for tests: initdb in a temporary directory, SCRAM password auth on a free loopback
// port, optional TLS with a CA made on the spot; stopped (and removed) on stop() or process exit. Any supported major
// (postgresMajors), with the bootstrap superuser as the admin or, as managed services give it, a CREATEDB CREATEROLE
// role that is not a superuser.
import { execFileSync, spawnSync } from "node:child_process";
import { tie, untie } from "./leash";
import { appendFileSync, chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { makeCa, signLeaf } from "./pki";
import type { TestRealm } from "./kerberos";
import { connectionSettings, type ConnectionSettings } from "../../core/connect";
import { adminMembershipSql } from "../../core/admin";
import { scramVerifier } from "../../core/scram";
import { DEBIAN_MAJOR, postgresBinaries, type PostgresMajor } from "./postgresBinaries";

/** Who the admin connection is: the bootstrap superuser, or a CREATEDB CREATEROLE role (RDS, Cloud SQL, Azure). */
export type AdminKind = "superuser" | "createrole";
export const ADMIN_KINDS: readonly AdminKind[] = ["superuser", "createrole"];

/** The non-superuser admin's name, as a managed service's master user would be called. */
export const MANAGED_ADMIN = "platform_admin";

export interface PostgresOptions {
  readonly tls?: boolean;
  /** The major version (default PGKOPF_PG_MAJOR, else Debian's 15). */
  readonly major?: PostgresMajor;
  /** Who the admin is (default PGKOPF_PG_ADMIN, else superuser). */
  readonly admin?: AdminKind;
  /**
   * A second address to listen on, and the clients (a CIDR) allowed in through it with a password: a real node's
   * pods reach Postgres on the node slot's machine address.
   */
  readonly alsoListen?: { readonly address: string; readonly clients: string };
  /** More names for the TLS certificate (subjectAltName entries such as DNS:postgres.pg-kopf.svc.cluster.local). */
  readonly tlsNames?: readonly string[];
  /**
   * Kerberos: the server's principal postgres/localhost in `realm` (its keytab as krb_server_keyfile), and every
   * role but the bootstrap superuser authenticated by GSSAPI over TCP (include_realm=0: the principal's name without
   * its realm is the role). The admin is then the managed admin, its principal MANAGED_ADMIN@realm.
   */
  readonly gss?: {
    readonly realm: TestRealm;
    /** More host names the server's principal is known by (postgres/<host>), e.g. a Service's. */
    readonly hosts?: readonly string[];
  };
}

/** The matrix cell a test process runs in, from the environment (scripts/test.sh sets it per cell). */
export function matrixCell(env: NodeJS.ProcessEnv = process.env): { major: PostgresMajor; admin: AdminKind } {
  const major = Number(env.PGKOPF_PG_MAJOR ?? DEBIAN_MAJOR) as PostgresMajor;
  const admin = (env.PGKOPF_PG_ADMIN ?? "superuser") as AdminKind;
  if (!ADMIN_KINDS.includes(admin)) throw new Error(`PGKOPF_PG_ADMIN=${admin}: use ${ADMIN_KINDS.join(" or ")}`);
  return { major, admin };
}

export interface TestPostgres {
  readonly host: string;
  readonly port: number;
  /** The admin's user and password (the superuser's, or the non-superuser admin's). */
  readonly user: string;
  readonly password: string;
  /** The bootstrap superuser's password (postgres), whoever the admin is. */
  readonly superuserPassword: string;
  readonly major: PostgresMajor;
  readonly admin: AdminKind;
  readonly dataDir: string;
  /** The server's log (log_statement and friends write here). */
  readonly logFile: string;
  /** PEM of the CA that signed the server certificate (tls only). */
  readonly caPem?: string;
  /** Admin connection settings for the core; `extra` overrides any of them. */
  settings(extra?: Parameters<typeof connectionSettings>[0]): ConnectionSettings;
  /** Runs one statement as the admin, in `database` (default postgres). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  /** Runs one statement as the bootstrap superuser (server settings, tablespaces): what only the operator of a managed service may do. */
  superQuery<T = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  /**
   * Writes libpq's password file (mode 0600) with the admin's line for this server, with `password` (default: the
   * admin's own): how pulumi up and psql find the password.
   */
  writePasswordFile(file: string, password?: string): void;
  /**
   * The statements a plan starts with for a non-superuser admin to act as `roles` it has not acted as yet (it grants
   * them to itself, core/admin); none for a superuser admin. What tests expect to see in a preview before the rest.
   */
  actsAs(...roles: string[]): string[];
  /** Stops the server (fast shutdown); start() brings it back on the same port and data. */
  stop(): void;
  start(): void;
  /** Stops the server and deletes its directory. */
  destroy(): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something listens on host:port (`what` names it in the timeout's error). */
export async function waitForPort(host: string, port: number, what = "the KDC"): Promise<void> {
  const { connect } = await import("node:net");
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, host, () => {
        socket.end();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// initdb and postgres refuse to run as root; as root we run them as the postgres system user.
function asServerUser(cmd: string, args: string[]): string[] {
  return userInfo().uid === 0 ? ["runuser", "-u", "postgres", "--", cmd, ...args] : [cmd, ...args];
}

function run(cmd: string, args: string[]): void {
  const [bin, ...rest] = asServerUser(cmd, args);
  const r = spawnSync(bin, rest, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
}

function makeCertificates(dir: string, names: readonly string[]): { caPem: string } {
  // A CA of our own signs a certificate for localhost (and the names asked for: so a test can prove the name is
  // checked), so verify-full can be tested for real.
  makeCa(dir, "pg-kopf test CA");
  signLeaf(dir, "server", "/CN=localhost", `subjectAltName=${["DNS:localhost", ...names].join(",")}\n`);
  chmodSync(join(dir, "server.key"), 0o600);
  return { caPem: readFileSync(join(dir, "ca.crt"), "utf8") };
}

/** initdb of a fresh cluster in `base`/data, the bootstrap superuser's password from a file that goes at once. */
function initCluster(pgBin: string, base: string, password: string): string {
  const dataDir = join(base, "data");
  const pwfile = join(base, "pwfile");
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (userInfo().uid === 0) {
    const { uid, gid } = pgUser();
    chownSync(base, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  // biome-ignore format: initdb's options, read as one line
  run(join(pgBin, "initdb"), ["-D", dataDir, "-U", "postgres", "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
  rmSync(pwfile);
  return dataDir;
}

/** postgresql.conf and pg_hba.conf for the options: the listen addresses, TLS (only) with its certificates. */
function configureServer(options: PostgresOptions, base: string, dataDir: string, port: number): string | undefined {
  const sockDir = join(base, "sock");
  run("mkdir", ["-p", sockDir]);
  let caPem: string | undefined;
  const conf = [
    `port = ${port}`,
    `listen_addresses = '${["127.0.0.1", ...(options.alsoListen ? [options.alsoListen.address] : [])].join(",")}'`,
    `unix_socket_directories = '${sockDir}'`,
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    "max_connections = 200",
    "password_encryption = 'scram-sha-256'",
    "log_min_messages = warning",
  ];
  if (options.tls) {
    caPem = makeCertificates(base, options.tlsNames ?? []).caPem;
    if (userInfo().uid === 0) {
      const { uid, gid } = pgUser();
      for (const f of ["server.key", "server.crt", "ca.crt"]) chownSync(join(base, f), uid, gid);
    }
    conf.push("ssl = on", `ssl_cert_file = '${join(base, "server.crt")}'`, `ssl_key_file = '${join(base, "server.key")}'`);
    // TLS only: plain TCP connections are refused, so a test that connects proves it used TLS.
    writeFileSync(
      join(dataDir, "pg_hba.conf"),
      "local all all trust\nhostnossl all all 0.0.0.0/0 reject\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
    );
  }
  if (options.gss) {
    const keytab = options.gss.realm.addPrincipals(["localhost", ...(options.gss.hosts ?? [])].map((h) => `postgres/${h}`));
    if (userInfo().uid === 0) {
      const { uid, gid } = pgUser();
      chownSync(keytab, uid, gid);
    }
    chmodSync(keytab, 0o600);
    conf.push(`krb_server_keyfile = '${keytab}'`);
    // The bootstrap superuser keeps its password (the harness's own queries); everyone else is a principal.
    writeFileSync(
      join(dataDir, "pg_hba.conf"),
      `local all all trust\nhost all postgres 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 gss include_realm=0 krb_realm=${options.gss.realm.realm}\n`,
    );
  }
  if (options.alsoListen)
    appendFileSync(
      join(dataDir, "pg_hba.conf"),
      `${options.tls ? "hostssl" : "host"} all all ${options.alsoListen.clients} ${
        options.gss ? `gss include_realm=0 krb_realm=${options.gss.realm.realm}` : "scram-sha-256"
      }\n`,
    );
  appendFileSync(join(dataDir, "postgresql.conf"), `\n${conf.join("\n")}\n`);
  return caPem;
}

/**
 * Starts the server, on another free port when the first was taken meanwhile (parallel matrix cells). pg_ctl leaves
 * the server running as a daemon: tied to this process (SIGQUIT: immediate shutdown), it goes even when this process
 * is killed hard.
 */
async function startServer(pgBin: string, dataDir: string, logFile: string, firstPort: number) {
  let postmaster: number | undefined;
  const start = () => {
    run(join(pgBin, "pg_ctl"), ["-D", dataDir, "-l", logFile, "-w", "-t", "60", "start"]);
    postmaster = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    tie(postmaster, "SIGQUIT");
  };
  const stop = () => {
    const [bin, ...rest] = asServerUser(join(pgBin, "pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "stop"]);
    spawnSync(bin, rest, { stdio: "ignore" });
    untie(postmaster);
    postmaster = undefined;
  };
  let port = firstPort;
  for (let attempt = 1; ; attempt++) {
    try {
      start();
      return { port, start, stop };
    } catch (err) {
      if (attempt >= 3 || !/already in use/i.test(readFileSync(logFile, "utf8"))) throw err;
      port = await freePort();
      appendFileSync(join(dataDir, "postgresql.conf"), `port = ${port}\n`);
    }
  }
}

/** Runs one statement in a connection of its own. */
async function queryOnce<T>(s: ConnectionSettings, sql: string, params: unknown[], database: string, ca: string | undefined): Promise<T[]> {
  const c = new Client({ host: s.host, port: s.port, user: s.user, password: s.password, database, ssl: ca ? { ca } : false });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

type ExtraSettings = Parameters<typeof connectionSettings>[0];

/** The bootstrap superuser's connection settings, with `extra` over them; TLS (verify-full) when there is a CA. */
function bootstrapSettings(host: string, port: number, password: string, caPem: string | undefined) {
  return (extra: ExtraSettings = {}) =>
    connectionSettings({
      // verify-full checks the certificate's name, which is localhost.
      host: caPem ? "localhost" : host,
      port,
      user: "postgres",
      password,
      database: "postgres",
      connectTimeoutSeconds: 5,
      ...(caPem ? { sslmode: "verify-full", sslrootcert: caPem } : { sslmode: "disable" }),
      ...extra,
    });
}

/** Starts a fresh cluster of the major the options (or the environment's matrix cell) name. */
export async function startPostgres(options: PostgresOptions = {}): Promise<TestPostgres> {
  const cell = matrixCell();
  const major = options.major ?? cell.major;
  const adminKind = options.gss ? "createrole" : (options.admin ?? cell.admin);
  const pgBin = postgresBinaries(major);
  const base = mkdtempSync(join(tmpdir(), "pg-kopf-pg-"));
  const password = randomBytes(18).toString("base64url");
  const dataDir = initCluster(pgBin, base, password);
  const firstPort = await freePort();
  const caPem = configureServer(options, base, dataDir, firstPort);
  const logFile = join(base, "server.log");
  const { port, start, stop } = await startServer(pgBin, dataDir, logFile, firstPort);
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    stop();
    rmSync(base, { recursive: true, force: true });
  };
  process.once("exit", destroy);

  const host = "127.0.0.1";
  const superSettings = bootstrapSettings(host, port, password, caPem);
  // The managed admin as RDS makes its master user: LOGIN CREATEDB CREATEROLE, no superuser, no other membership.
  const user = adminKind === "createrole" ? MANAGED_ADMIN : "postgres";
  const adminPassword = adminKind === "createrole" ? randomBytes(18).toString("base64url") : password;
  if (adminKind === "createrole")
    await queryOnce(
      superSettings(),
      `CREATE ROLE ${MANAGED_ADMIN} LOGIN CREATEDB CREATEROLE PASSWORD '${scramVerifier(adminPassword)}'`,
      [],
      "postgres",
      caPem,
    );
  const settings = (extra: ExtraSettings = {}) => superSettings({ user, password: adminPassword, ...extra });
  return {
    host,
    port,
    user,
    password: adminPassword,
    superuserPassword: password,
    major,
    admin: adminKind,
    dataDir,
    logFile,
    caPem,
    settings,
    stop,
    start,
    destroy,
    writePasswordFile(file: string, pw = adminPassword): void {
      writeFileSync(file, `${host}:${port}:*:${user}:${pw}\n`, { mode: 0o600 });
    },
    actsAs: (...roles: string[]) =>
      adminKind === "superuser" ? [] : roles.map((role) => adminMembershipSql(role, { user, versionNum: major * 10000 })),
    query: <T>(sql: string, params: unknown[] = [], database = "postgres") => queryOnce<T>(settings(), sql, params, database, caPem),
    superQuery: <T>(sql: string, params: unknown[] = [], database = "postgres") =>
      queryOnce<T>(superSettings(), sql, params, database, caPem),
  };
}

function pgUser(): { uid: number; gid: number } {
  const out = execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim();
  const gid = execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim();
  return { uid: Number(out), gid: Number(gid) };
}
