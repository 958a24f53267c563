// Two Postgres servers from one Pulumi program, through the real pulumi CLI: the admin connection's server (plain
// TCP) and a TLS-only one reached with verify-full and its own CA, declared in pg-kopf:servers. Each resource lands on
// its own server, no password reaches the state, a wrong CA fails the preview naming the cause, and a resource cannot
// move between servers.
import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startPostgres, type TestPostgres } from "../harness/postgres";
import { createTestStack, localStackConfig, type TestStack } from "../harness/pulumi";

let plain: TestPostgres;
let secure: TestPostgres;
let other: TestPostgres;
let t: TestStack;
const onOutput = () => undefined;

const databases = [
  { name: "on_default", reclaimPolicy: "delete" },
  { name: "on_secure", owner: "secure_app", server: "secure", reclaimPolicy: "delete" },
];
const roles = [{ name: "secure_app", server: "secure", reclaimPolicy: "delete" }];
const exists = async (pg: TestPostgres, catalog: "pg_database" | "pg_roles", name: string) =>
  (await pg.query(`SELECT 1 FROM ${catalog} WHERE ${catalog === "pg_database" ? "datname" : "rolname"} = $1`, [name])).length === 1;
const servers = (ca: string) =>
  JSON.stringify({ secure: { host: "localhost", port: secure.port, user: secure.user, sslMode: "verify-full", sslRootCert: ca } });

before(async () => {
  [plain, secure, other] = await Promise.all([startPostgres(), startPostgres({ tls: true }), startPostgres({ tls: true })]);
  t = await createTestStack(
    "servers",
    { ...localStackConfig(plain, databases), roles: { value: JSON.stringify(roles) }, servers: { value: servers(secure.caPem!) } },
    plain,
  );
  // One password file for both servers, a line each, as libpq reads it: no password in the stack config.
  appendFileSync(join(t.dir, "pgpass"), `localhost:${secure.port}:*:${secure.user}:${secure.password}\n`);
  // The program runs inline, in this process: it finds the passwords where the provider does.
  process.env.PGPASSFILE = join(t.dir, "pgpass");
});
after(() => {
  t?.destroyDir();
  for (const pg of [plain, secure, other]) pg?.destroy();
});

describe("more than one Postgres from one program", () => {
  test("1. up puts each resource on its server: the TLS-only one through verify-full", async () => {
    await t.stack.up({ onOutput });
    assert.ok(await exists(plain, "pg_database", "on_default"));
    assert.ok(!(await exists(secure, "pg_database", "on_default")));
    assert.ok(await exists(secure, "pg_database", "on_secure"));
    assert.ok(!(await exists(plain, "pg_database", "on_secure")));
    assert.ok(await exists(secure, "pg_roles", "secure_app"));
    assert.ok(!(await exists(plain, "pg_roles", "secure_app")));
    const [owner] = await secure.query<{ o: string }>("SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = 'on_secure'");
    assert.equal(owner.o, "secure_app");
    // The server is TLS-only (plain TCP is rejected by its pg_hba.conf), so reaching it at all was through verify-full.
    const preview = await t.stack.preview({ diff: true, onOutput });
    assert.equal(preview.changeSummary.update ?? 0, 0, preview.stdout);
  });

  test("2. the state has neither server's password, in clear or otherwise", () => {
    const state = t.cli(["stack", "export", "--show-secrets"]);
    assert.ok(!state.includes(plain.password));
    assert.ok(!state.includes(secure.password));
    assert.match(state, /"pg-kopf:adminSslMode": "verify-full"/, "the secure server's provider carries its own TLS settings");
  });

  test("3. a resource cannot move to another server: the preview refuses, naming the field", async () => {
    await t.stack.setConfig("pg-kopf:databases", { value: JSON.stringify([{ ...databases[0], server: "secure" }, databases[1]]) });
    await assert.rejects(t.stack.preview({ onOutput }), /server: cannot change from "default" to "secure"/);
    await t.stack.setConfig("pg-kopf:databases", { value: JSON.stringify(databases) });
  });

  test("4. a CA that did not sign the server's certificate fails the preview, naming the cause", async () => {
    await t.stack.setConfig("pg-kopf:servers", { value: servers(other.caPem!) });
    await assert.rejects(
      t.stack.preview({ onOutput }),
      /server "secure" at localhost:\d+: .*not signed by the CA in pg-kopf:servers\.secure\.sslRootCert: set pg-kopf:servers\.secure\.sslRootCert to the CA that signed it/,
    );
    await t.stack.setConfig("pg-kopf:servers", { value: servers(secure.caPem!) });
  });

  test("4b. a host name the certificate does not list fails the preview, naming the server and the cause", async () => {
    const byIp = JSON.stringify({ secure: { ...JSON.parse(servers(secure.caPem!)).secure, host: "127.0.0.1" } });
    await t.stack.setConfig("pg-kopf:servers", { value: byIp });
    appendFileSync(join(t.dir, "pgpass"), `127.0.0.1:${secure.port}:*:${secure.user}:${secure.password}\n`);
    const refused = await t.stack.preview({ onOutput }).then(
      () => "",
      (err: Error) => err.message,
    );
    console.log(
      refused
        .split("\n")
        .filter((l) => /certificate|127\.0\.0\.1/.test(l))
        .join("\n"),
    );
    assert.match(refused, /server "secure" at 127\.0\.0\.1:\d+: .*does not name this host/);
    await t.stack.setConfig("pg-kopf:servers", { value: servers(secure.caPem!) });
  });

  // Regression: localhost and 127.0.0.1 were two servers; the second entry's resources took the first's databases.
  test("4c. the admin connection's Postgres declared again under another spelling: its resources and the alias's fail the preview naming both; nothing changes", async () => {
    const withAlias = {
      ...JSON.parse(servers(secure.caPem!)),
      alias: { host: "localhost", port: plain.port, user: plain.user, sslMode: "disable" },
    };
    await t.stack.setConfig("pg-kopf:servers", { value: JSON.stringify(withAlias) });
    await t.stack.setConfig("pg-kopf:databases", {
      value: JSON.stringify([...databases, { name: "via_alias", server: "alias", reclaimPolicy: "delete" }]),
    });
    appendFileSync(join(t.dir, "pgpass"), `localhost:${plain.port}:*:${plain.user}:${plain.password}\n`);
    const message = (err: Error) => err.message;
    const expected = new RegExp(
      `server "alias" \\(pg-kopf:servers.alias, localhost:${plain.port}\\) reaches the same Postgres as the admin connection ` +
        `\\(pg-kopf:adminHost, 127\\.0\\.0\\.1:${plain.port}\\) \\(system identifier \\d+, port ${plain.port}, up since [^)]+\\)\\. ` +
        `One Postgres is one server: remove pg-kopf:servers.alias`,
    );
    assert.match(await t.stack.preview({ onOutput }).then(() => "", message), expected);
    assert.match(await t.stack.up({ onOutput }).then(() => "", message), expected);
    assert.ok(!(await exists(plain, "pg_database", "via_alias")));
    assert.ok(await exists(plain, "pg_database", "on_default"));
    await t.stack.setConfig("pg-kopf:servers", { value: servers(secure.caPem!) });
    await t.stack.setConfig("pg-kopf:databases", { value: JSON.stringify(databases) });
    // The failed up left only the alias's provider to remove: no database or role to create, change or drop.
    const preview = await t.stack.preview({ diff: true, onOutput });
    assert.doesNotMatch(preview.stdout, /pg:(Database|Role): \((create|update|delete|replace)\)/, preview.stdout);
  });

  test("5. destroy drops each resource on its own server", async () => {
    await t.stack.destroy({ onOutput });
    assert.ok(!(await exists(plain, "pg_database", "on_default")));
    assert.ok(!(await exists(secure, "pg_database", "on_secure")));
    assert.ok(!(await exists(secure, "pg_roles", "secure_app")));
  });
});
