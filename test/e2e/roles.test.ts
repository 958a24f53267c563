// PgRole end to end through the real pulumi CLI and a real PostgreSQL 15: roles declared next to databases, a
// generated and a given password that log in and never reach the state in clear, a rotation previewed with the
// password redacted, drift shown by refresh, and destroy in dependency order.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { startPostgres, type TestPostgres } from "../harness/postgres";
import { createTestStack, localStackConfig, type TestStack } from "../harness/pulumi";

let pg: TestPostgres;
let t: TestStack;
const onOutput = () => undefined;
const given = randomBytes(18).toString("base64url");

const roles = [
  { name: "app_user", memberOf: ["readers"], reclaimPolicy: "delete" },
  { name: "batch", login: true, connectionLimit: 2, reclaimPolicy: "delete" },
];
const databases = [{ name: "app_db", owner: "app_user", reclaimPolicy: "delete" }];

async function login(user: string, password: string, database = "postgres", sql = "SELECT current_user AS u"): Promise<string> {
  const client = new Client({ host: pg.host, port: pg.port, user, password, database });
  await client.connect();
  try {
    // Several statements give one result each: the last one's first row.
    const results = [await client.query(sql)].flat();
    return Object.values(results.at(-1)?.rows[0] ?? {}).join();
  } finally {
    await client.end();
  }
}
const passwords = async () => (await t.stack.outputs()).rolePasswords.value as Record<string, string>;

before(async () => {
  pg = await startPostgres();
  await pg.query("CREATE ROLE readers NOLOGIN");
  t = await createTestStack("roles", { ...localStackConfig(pg, databases), roles: { value: JSON.stringify(roles) } }, pg);
  // The given password is secret config, by role name, as users set it (pulumi config set --secret --path).
  await t.stack.setConfig("pg-kopf:rolePasswords.batch", { value: given, secret: true }, true);
});
after(() => {
  pg?.destroy();
  t?.destroyDir();
});

describe("PgRole through pulumi", () => {
  test("1. up creates the roles before the database they own; both passwords log in", async () => {
    const up = await t.stack.up({ onOutput });
    assert.equal(up.summary.resourceChanges?.create, 5, "stack, provider, 2 roles, 1 database");
    const secret = await passwords();
    assert.equal(secret.batch, given);
    assert.match(secret.app_user, /^[A-Za-z0-9_-]{32}$/, "a generated password: 32 URL-safe characters");
    assert.equal(await login("app_user", secret.app_user, "app_db"), "app_user");
    assert.equal(await login("batch", given), "batch");
    const [db] = await pg.query<{ o: string }>("SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = 'app_db'");
    assert.equal(db.o, "app_user");
    assert.deepEqual(
      await pg.query(
        "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = 'app_user'",
      ),
      [{ rolname: "readers" }],
    );
  });

  test("2. neither password is in the state in clear; preview and refresh see no change", async () => {
    // As a user would ask the CLI (the Automation API's exportStack shows secrets).
    const state = t.cli(["stack", "export", "--show-secrets=false"]);
    const secret = await passwords();
    assert.ok(!state.includes(given), "given password in state");
    assert.ok(!state.includes(secret.app_user), "generated password in state");
    assert.match(state, /CREATE ROLE \\"app_user\\" WITH LOGIN PASSWORD <redacted>/);
    const preview = await t.stack.preview({ diff: true, onOutput });
    assert.deepEqual(preview.changeSummary, { same: 5 }, preview.stdout);
    const refresh = await t.stack.refresh({ onOutput });
    assert.deepEqual(refresh.summary.resourceChanges, { same: 5 });
  });

  test("3. a new password in config previews as ALTER ROLE ... PASSWORD <redacted>, and up rotates it", async () => {
    const rotated = randomBytes(18).toString("base64url");
    await t.stack.setConfig("pg-kopf:rolePasswords.batch", { value: rotated, secret: true }, true);
    const preview = await t.stack.preview({ diff: true, onOutput });
    assert.deepEqual(preview.changeSummary, { same: 4, update: 1 }, preview.stdout);
    assert.match(preview.stdout, /ALTER ROLE \\"batch\\" WITH PASSWORD <redacted>/);
    assert.ok(!preview.stdout.includes(rotated));
    await t.stack.up({ onOutput });
    assert.equal(await login("batch", rotated), "batch");
    await assert.rejects(login("batch", given), /password authentication failed/);
    assert.ok(!t.cli(["stack", "export", "--show-secrets=false"]).includes(rotated));
  });

  test("4. an attribute changed out of band shows in refresh and is repaired by up", async () => {
    await pg.query('ALTER ROLE "batch" CONNECTION LIMIT 9');
    const preview = await t.stack.preview({ diff: true, onOutput });
    assert.match(preview.stdout, /ALTER ROLE \\"batch\\" WITH CONNECTION LIMIT 2/);
    await t.stack.up({ onOutput });
    assert.deepEqual(await pg.query("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'batch'"), [{ rolconnlimit: 2 }]);
  });

  test("4b. a role dropped out of band: refresh reports it gone, and up creates it again", async () => {
    await pg.query('DROP ROLE "batch"');
    const refresh = await t.stack.refresh({ onOutput });
    assert.equal(refresh.summary.resourceChanges?.delete, 1);
    const up = await t.stack.up({ onOutput });
    assert.equal(up.summary.resourceChanges?.create, 1);
    const password = (await passwords()).batch;
    assert.equal(await login("batch", password), "batch");
  });

  test("4c. a read role on the database: previewed as its GRANTs, applied, covering tables made later; removed, revoked", async () => {
    const setAccess = (access: object[]) =>
      t.stack.setConfig("pg-kopf:databases", { value: JSON.stringify([{ ...databases[0], access }]) });
    await setAccess([{ role: "batch", level: "read" }]);
    const preview = await t.stack.preview({ diff: true, onOutput });
    // Before 15 the public schema is the bootstrap superuser's and PUBLIC holds USAGE on it: a non-superuser admin
    // may not grant it, and need not (core/database/access).
    const publicUsage = pg.major >= 15 || pg.admin === "superuser" ? ['GRANT USAGE ON SCHEMA \\"public\\" TO \\"batch\\"'] : [];
    for (const statement of [
      'GRANT CONNECT ON DATABASE \\"app_db\\" TO \\"batch\\"',
      ...publicUsage,
      'ALTER DEFAULT PRIVILEGES FOR ROLE \\"app_user\\" IN SCHEMA \\"public\\" GRANT SELECT ON TABLES TO \\"batch\\"',
    ])
      assert.ok(preview.stdout.includes(statement), `${statement} in:\n${preview.stdout}`);
    await t.stack.up({ onOutput });
    const secret = await passwords();
    await login("app_user", secret.app_user, "app_db", "CREATE TABLE later (x int); INSERT INTO later VALUES (7)");
    assert.equal(await login("batch", secret.batch, "app_db", "SELECT x FROM later"), "7");

    await setAccess([]);
    await t.stack.up({ onOutput });
    await assert.rejects(login("batch", secret.batch, "app_db", "SELECT x FROM later"), /permission denied for table later/);
  });

  test("5. destroy drops the database, then the roles", async () => {
    await t.stack.destroy({ onOutput });
    assert.deepEqual(await pg.query("SELECT rolname FROM pg_roles WHERE rolname IN ('app_user', 'batch')"), []);
    assert.deepEqual(await pg.query("SELECT datname FROM pg_database WHERE datname = 'app_db'"), []);
  });
});
