// Schemas and access levels against a real PostgreSQL 15, with real logins as each role: what read and write let a
// role do, tables created later, revokePublic, drift repaired, and revocation of exactly what a level granted.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Client } from "pg";
import * as core from "../../core";
import { startPostgres, type TestPostgres } from "../harness/postgres";

const ctx = { manager: "test:access" };
const PASSWORD = "access-test-password";
let pg: TestPostgres;
let settings: core.ConnectionSettings;

const spec = (input: object): core.PgDatabaseSpec => {
  const r = core.parseDatabaseSpec(input);
  if (!r.ok) throw new Error(JSON.stringify(r.failures));
  return r.spec;
};

/** Converges with the access last applied, then checks a fresh observation plans nothing (with this access recorded). */
async function converge(s: core.PgDatabaseSpec, previousAccess: readonly core.AccessEntry[] = []) {
  const result = await core.convergeDatabase(settings, s, { ...ctx, previous: { access: previousAccess } });
  const applied = { access: s.access ?? [] };
  const again = core.planDatabase(s, await core.observeDatabaseFor(settings, s, applied), { ...ctx, previous: applied });
  assert.deepEqual(again.map(core.describeDatabaseStep), [], "plan after apply must be empty");
  return result.steps.map(core.describeDatabaseStep);
}

/** Runs `sql` as `user` in database shop; resolves to the rows, or rejects as Postgres refused. */
async function as(user: string, sql: string): Promise<unknown[]> {
  const client = new Client({ host: pg.host, port: pg.port, user, password: PASSWORD, database: "shop" });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

const base = { name: "shop", owner: "shop_owner", schemas: [{ name: "app" }], revokePublic: true };
const first: core.AccessEntry[] = [
  { role: "reader", level: "read" },
  { role: "writer", level: "write" },
];
const all: core.AccessEntry[] = [...first, { role: "late_reader", level: "read" }];

before(async () => {
  pg = await startPostgres();
  settings = pg.settings();
  for (const role of ["shop_owner", "reader", "writer", "outsider", "late_reader"]) {
    await pg.query(`CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'`);
  }
  if (pg.admin === "createrole" && pg.major < 15) {
    // Before 15 a new database's public schema belongs to the bootstrap superuser, on which a non-superuser admin
    // can grant nothing: the operator hands it over in the template once, the fix the refusal below names.
    await assert.rejects(
      converge(spec({ ...base, name: "shop_refused", access: first })),
      /revokePublic: REVOKE CREATE FROM PUBLIC on schema "public" of database "shop_refused": .* ALTER SCHEMA "public" OWNER TO "shop_owner"/,
    );
    assert.deepEqual(await pg.query("SELECT 1 FROM pg_database WHERE datname = 'shop_refused'"), [], "refused before anything ran");
    await pg.superQuery(`ALTER SCHEMA public OWNER TO ${pg.user}`, [], "template1");
  }
});
after(() => pg?.destroy());

// One database's life, step by step: each step starts from where the one before left it (awaited in turn, so they
// run in this order whatever order the runner picks for top-level tests).
test("access levels on a database, over its life", async (t) => {
  await t.test("a new database with a schema, a read and a write role, closed to everyone else", async () => {
    const steps = await converge(spec({ ...base, access: first }));
    assert.ok(steps.includes('CREATE SCHEMA "app" AUTHORIZATION "shop_owner"'));
    assert.ok(steps.includes('ALTER DEFAULT PRIVILEGES FOR ROLE "shop_owner" IN SCHEMA "app" GRANT SELECT ON TABLES TO "reader"'));
    assert.ok(steps.includes('REVOKE CONNECT ON DATABASE "shop" FROM PUBLIC'));
    await assert.rejects(as("outsider", "SELECT 1"), /permission denied for database "shop"/);
  });

  await t.test("tables the owner creates later: read may SELECT and not write; write may insert (its sequence too)", async () => {
    await as("shop_owner", "CREATE TABLE app.orders (id serial PRIMARY KEY, item text); INSERT INTO app.orders (item) VALUES ('tea')");
    assert.deepEqual(await as("reader", "SELECT item FROM app.orders"), [{ item: "tea" }]);
    await assert.rejects(as("reader", "INSERT INTO app.orders (item) VALUES ('x')"), /permission denied for table orders/);
    await as("writer", "INSERT INTO app.orders (item) VALUES ('coffee')");
    assert.equal((await as("reader", "SELECT item FROM app.orders")).length, 2);
  });

  await t.test("a table that existed before a role was added is covered too", async () => {
    const steps = await converge(spec({ ...base, access: all }), first);
    assert.ok(steps.includes('GRANT SELECT ON ALL TABLES IN SCHEMA "app" TO "late_reader"'), steps.join("\n"));
    assert.equal((await as("late_reader", "SELECT item FROM app.orders")).length, 2);
  });

  await t.test("a REVOKE made by hand is drift: planned as the GRANT that repairs it, and repaired", async () => {
    const s = spec({ ...base, access: all });
    await pg.query("REVOKE SELECT ON app.orders FROM reader", [], "shop");
    const planned = core
      .planDatabase(s, await core.observeDatabaseFor(settings, s, { access: s.access }), { ...ctx, previous: { access: s.access } })
      .map(core.describeDatabaseStep);
    assert.deepEqual(planned, ['GRANT SELECT ON ALL TABLES IN SCHEMA "app" TO "reader"']);
    // A grant by hand to a role access does not name is not drift.
    await pg.query("GRANT SELECT ON app.orders TO outsider", [], "shop");
    await converge(s, s.access);
    assert.equal((await as("reader", "SELECT item FROM app.orders")).length, 2);
  });

  await t.test("lowering and removing revoke what the old level granted, and nothing granted by hand", async () => {
    await pg.query("GRANT REFERENCES ON app.orders TO writer", [], "shop");
    await pg.query("GRANT TRIGGER ON app.orders TO reader", [], "shop");
    const steps = await converge(spec({ ...base, access: [{ role: "writer", level: "read" }] }), all);
    assert.ok(steps.includes('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA "app" FROM "writer"'), steps.join("\n"));
    assert.ok(steps.includes('REVOKE CONNECT ON DATABASE "shop" FROM "reader"'));
    await assert.rejects(as("writer", "INSERT INTO app.orders (item) VALUES ('x')"), /permission denied for table orders/);
    assert.equal((await as("writer", "SELECT item FROM app.orders")).length, 2);
    await assert.rejects(as("reader", "SELECT 1"), /permission denied for database "shop"/);
    // What was granted by hand, outside the levels, is still there.
    const held = await pg.query<{ r: boolean; t: boolean }>(
      "SELECT has_table_privilege('writer', 'app.orders', 'REFERENCES') AS r, has_table_privilege('reader', 'app.orders', 'TRIGGER') AS t",
      [],
      "shop",
    );
    assert.deepEqual(held, [{ r: true, t: true }]);
  });

  await t.test("a role in access that does not exist yet is a transient error naming it, and nothing is applied", async () => {
    const s = spec({
      ...base,
      access: [
        { role: "writer", level: "read" },
        { role: "not_yet", level: "read" },
      ],
    });
    await assert.rejects(
      core.convergeDatabase(settings, s, { ...ctx, previous: { access: [{ role: "writer", level: "read" }] } }),
      (err: core.PgKopfError) => {
        assert.equal(err.reason, "RoleMissing");
        assert.equal(err.transient, true);
        assert.match(err.message, /access: role "not_yet" does not exist yet/);
        return true;
      },
    );
    // Regression: the database was created and the GRANT failed after it, leaving a database half made. The plan
    // now refuses a missing role before the CREATE, for access and for the owner alike.
    const fresh = spec({ name: "fresh_shop", access: [{ role: "not_yet", level: "connect" }] });
    await assert.rejects(core.convergeDatabase(settings, fresh, ctx), /access: role "not_yet" does not exist yet/);
    const unowned = spec({ name: "fresh_shop", owner: "owner_not_yet" });
    await assert.rejects(core.convergeDatabase(settings, unowned, ctx), (err: core.PgKopfError) => {
      assert.equal(err.reason, "RoleMissing");
      assert.match(err.message, /^owner: role "owner_not_yet" does not exist yet/);
      return true;
    });
    assert.deepEqual(await pg.query("SELECT 1 FROM pg_database WHERE datname = 'fresh_shop'"), []);
    const owner = spec({ ...base, schemas: [{ name: "app" }, { name: "later", owner: "owner_not_yet" }] });
    await assert.rejects(core.convergeDatabase(settings, owner, ctx), (err: core.PgKopfError) => {
      assert.equal(err.reason, "RoleMissing");
      assert.match(err.message, /^schemas: role "owner_not_yet" does not exist yet/);
      return true;
    });
    assert.deepEqual(await pg.query("SELECT 1 FROM pg_namespace WHERE nspname = 'later'", [], "shop"), []);
  });
});
