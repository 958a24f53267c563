// A server is who it says it is: the identity any admin (superuser or not, every major) reads, the same whatever the
// address is spelled as, and the program's refusal of two server entries that reach one Postgres, naming both.
// Regression: localhost:P and 127.0.0.1:P were two servers to pg-kopf; the second took a database the first
// declared, and removing it dropped that database.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as core from "../../core";
import { startPostgres, type TestPostgres } from "../harness/postgres";
import { declaredServers, serverConflicts, type ServerSource } from "../../provider/distinctServers";

let pg: TestPostgres;
let other: TestPostgres;
let passfile: string;

before(async () => {
  [pg, other] = await Promise.all([startPostgres(), startPostgres()]);
  // The admins' passwords as pulumi up finds them: the password file, a line per server (any host spelling).
  passfile = join(mkdtempSync(join(tmpdir(), "pg-kopf-identity-")), "pgpass");
  writeFileSync(passfile, [pg, other].map((s) => `*:${s.port}:*:${s.user}:${s.password}\n`).join(""), { mode: 0o600 });
  // node-postgres' reader of the file (pgpass) takes its path from the process's own environment.
  process.env.PGPASSFILE = passfile;
});
after(() => {
  pg?.destroy();
  other?.destroy();
});

/** Stack config as `pulumi config` holds it: the default server's keys, and pg-kopf:servers. */
function source(servers: Record<string, object>, adminHost?: string): ServerSource {
  const config: Record<string, string> = adminHost
    ? { adminHost, adminPort: String(pg.port), adminUser: pg.user, adminSslMode: "disable" }
    : {};
  return {
    get: (key) => config[key],
    getObject: (key) => (key === "servers" ? servers : undefined),
    // No PGHOST: the default server is only what adminHost says.
    env: {},
  };
}
const entry = (server: TestPostgres, host: string) => ({ host, port: server.port, user: server.user, sslMode: "disable" });

describe("server identity", () => {
  test("one Postgres reports one identity by any spelling of its address, as this admin; another reports another", async () => {
    const byName = await core.observeIdentity(pg.settings({ host: "localhost" }));
    const byAddress = await core.observeIdentity(pg.settings({ host: "127.0.0.1" }));
    assert.match(byName.systemIdentifier, /^\d{10,}$/);
    assert.equal(byName.port, pg.port);
    assert.ok(core.sameServer(byName, byAddress));
    assert.ok(!core.sameServer(byName, await core.observeIdentity(other.settings())));
  });

  test("two entries for one Postgres (localhost and 127.0.0.1): the resources of both fail, naming both and the fix", async () => {
    const conflicts = await serverConflicts(source({ main: entry(pg, "localhost"), alias: entry(pg, "127.0.0.1") }));
    assert.deepEqual([...conflicts.keys()].sort(), ["alias", "main"]);
    const message = conflicts.get("alias")!;
    assert.equal(conflicts.get("main"), message);
    assert.match(
      message,
      new RegExp(
        `^server "alias" \\(pg-kopf:servers.alias, 127\\.0\\.0\\.1:${pg.port}\\) reaches the same Postgres as ` +
          `server "main" \\(pg-kopf:servers.main, localhost:${pg.port}\\) \\(system identifier \\d+, port ${pg.port}, up since .*\\)\\. ` +
          `One Postgres is one server: remove pg-kopf:servers.alias and name "main" as the server of its resources instead`,
      ),
    );
    assert.ok(!message.includes(pg.password));
  });

  test("an entry that is the admin connection under another spelling is refused, naming the admin connection", async () => {
    // 127.1 is 127.0.0.1 in the short form every resolver accepts.
    const conflicts = await serverConflicts(source({ again: entry(pg, "127.1") }, "localhost"));
    assert.match(
      conflicts.get("default") ?? "",
      new RegExp(
        `^server "again" \\(pg-kopf:servers.again, 127\\.1:${pg.port}\\) reaches the same Postgres as the admin connection \\(pg-kopf:adminHost, localhost:${pg.port}\\)`,
      ),
    );
    assert.equal(conflicts.get("again"), conflicts.get("default"));
  });

  test("distinct servers pass, and an unreachable entry is compared with nothing", async () => {
    assert.equal((await serverConflicts(source({ a: entry(pg, "localhost"), b: entry(other, "127.0.0.1") }))).size, 0);
    const down = { host: "127.0.0.1", port: 1, sslMode: "disable" };
    assert.equal((await serverConflicts(source({ a: entry(pg, "localhost"), down }))).size, 0);
    // Both were reached (not skipped as unreachable): the second server under a second name is found as itself.
    const three = await serverConflicts(source({ a: entry(pg, "localhost"), b: entry(other, "127.0.0.1"), c: entry(other, "localhost") }));
    assert.deepEqual([...three.keys()].sort(), ["b", "c"]);
    assert.match(three.get("c")!, /^server "c" .* as server "b" /);
    assert.deepEqual(declaredServers(source({ a: {}, b: {} }, "127.0.0.1")), ["default", "a", "b"]);
    assert.deepEqual(declaredServers(source({ a: {} })), ["a"]);
  });
});
