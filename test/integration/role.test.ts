// Roles against a real PostgreSQL 15: every attribute converges and re-plans to nothing, a generated password logs
// in while never reaching the server's statement log, ownership is respected, and a role that still owns objects is
// not dropped.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { Client } from "pg";
import * as core from "../../core";
import { startPostgres, type TestPostgres } from "../harness/postgres";
import * as roleHandlers from "../../provider/role/handlers";

const { role } = core;
const ctx = { manager: "test:roles" };
let pg: TestPostgres;
let settings: core.ConnectionSettings;

const spec = (input: object): core.role.PgRoleSpec => {
  const r = role.parseRoleSpec(input);
  if (!r.ok) throw new Error(JSON.stringify(r.failures));
  return r.spec;
};

/** The settings pg-kopf last applied to each role, as an engine records them: what a key removed from config resets. */
const applied = new Map<string, core.role.RoleMemory>();

async function convergeAndReplan(s: core.role.PgRoleSpec, password?: string) {
  const options = password ? { password: { verifier: core.scramVerifier(password) } } : {};
  const result = await role.convergeRole(settings, s, { ...ctx, previous: applied.get(s.name) }, options);
  if (s.config) applied.set(s.name, { config: s.config });
  const again = role.planRole(s, await role.observeRole(settings, s.name), { ...ctx, previous: applied.get(s.name) });
  assert.deepEqual(again, [], `plan after apply must be empty for ${JSON.stringify(s)}`);
  return result;
}

async function login(user: string, password: string): Promise<string> {
  const client = new Client({ host: pg.host, port: pg.port, user, password, database: "postgres" });
  await client.connect();
  try {
    return (await client.query("SELECT current_user AS u")).rows[0].u;
  } finally {
    await client.end();
  }
}

before(async () => {
  pg = await startPostgres();
  settings = pg.settings();
  // Every statement the server runs goes to its log, as an auditing server would have it.
  await pg.superQuery("ALTER SYSTEM SET log_statement = 'all'");
  await pg.superQuery("SELECT pg_reload_conf()");
  await pg.query("CREATE ROLE readers NOLOGIN");
  await pg.query("CREATE ROLE writers NOLOGIN");
});
after(() => pg?.destroy());

describe("PgRole core against Postgres 15", () => {
  test("a generated password logs in, and neither it nor a rotated one reaches the statement log", async () => {
    const password = randomBytes(24).toString("base64url");
    const created = await convergeAndReplan(spec({ name: "app_login" }), password);
    assert.deepEqual(created.steps.map(role.describeRoleStep), [
      'CREATE ROLE "app_login" WITH LOGIN PASSWORD <redacted>',
      ...pg.actsAs("app_login"),
      `COMMENT ON ROLE "app_login" IS 'managed by pg-kopf: test:roles'`,
    ]);
    assert.equal(await login("app_login", password), "app_login");
    const rotated = randomBytes(24).toString("base64url");
    const result = await convergeAndReplan(spec({ name: "app_login" }), rotated);
    assert.deepEqual(result.steps.map(role.describeRoleStep), ['ALTER ROLE "app_login" WITH PASSWORD <redacted>']);
    assert.equal(await login("app_login", rotated), "app_login");
    await assert.rejects(login("app_login", password), /password authentication failed/);
    const log = readFileSync(pg.logFile, "utf8");
    assert.match(log, /CREATE ROLE "app_login" WITH LOGIN PASSWORD 'SCRAM-SHA-256\$4096:/, "the log has the statements, with verifiers");
    assert.ok(!log.includes(password) && !log.includes(rotated), "no plaintext password in the server log");
  });

  for (const [field, value] of [
    ["login", false],
    ["inherit", false],
    ["createdb", true],
    ["createrole", true],
    ["connectionLimit", 5],
    ["validUntil", "2031-06-01T12:00:00Z"],
    ["validUntil", "infinity"],
    ["memberOf", ["readers", "writers"]],
    ["memberOf", ["writers"]],
    ["config", { search_path: "$user, app", statement_timeout: "30s" }],
    ["config", { statement_timeout: "45s" }],
  ] as const) {
    test(`${field} ${JSON.stringify(value)} converges, and re-plans to nothing`, async () => {
      await convergeAndReplan(spec({ name: "attrs" }));
      const { steps, observed } = await convergeAndReplan(spec({ name: "attrs", [field]: value }));
      assert.ok(steps.length > 0 || field === "memberOf", `a change ran for ${field}`);
      if (field === "memberOf") assert.deepEqual(observed.memberOf, value);
      else if (field === "config") assert.deepEqual(Object.keys(observed.config).sort(), Object.keys(value).sort());
      else if (field === "validUntil")
        assert.ok(value === "infinity" ? observed.validUntil === "infinity" : Date.parse(observed.validUntil!) === Date.parse(value));
      else assert.equal(observed[field], value);
    });
  }

  // Regression: a role dropped out of band was created again without a password when none was being set, so the
  // password apps hold (the controller's Secret, the Pulumi state) stopped working.
  test("a role dropped out of band comes back with the password already handed out; otherwise it is not touched", async () => {
    const password = core.generatePassword();
    await role.convergeRole(pg.settings(), spec({ name: "app_dropped" }), ctx, { password: { verifier: core.scramVerifier(password) } });
    await pg.query('DROP ROLE "app_dropped"');
    let asked = 0;
    const again = () => {
      asked++;
      return { verifier: core.scramVerifier(password) };
    };
    const recreated = await role.convergeRole(pg.settings(), spec({ name: "app_dropped" }), ctx, { passwordIfCreated: again });
    assert.match(role.describeRoleStep(recreated.steps[0]), /^CREATE ROLE "app_dropped" WITH LOGIN PASSWORD <redacted>$/);
    assert.equal(await login("app_dropped", password), "app_dropped");
    const steady = await role.convergeRole(pg.settings(), spec({ name: "app_dropped" }), ctx, { passwordIfCreated: again });
    assert.deepEqual(steady.steps, []);
    assert.equal(asked, 1, "the password is derived only when the role has to be created");
  });

  // Regression: without a refresh, a role dropped out of band right after its creation planned the very statements
  // recorded as run, so diff saw no new work and up did nothing.
  test("PgRole provider: a role dropped out of band, no refresh: the preview says so first, and up creates it again", async () => {
    const inputs = { name: "app_vanished", manager: "pulumi:test/roles" };
    const created = await roleHandlers.create(settings, (await roleHandlers.check(settings, {}, inputs)).inputs!);
    await pg.query('DROP ROLE "app_vanished"');
    const again = await roleHandlers.check(settings, created.outs!, inputs);
    const planned = again.inputs!.plannedSql as string[];
    assert.match(
      planned[0],
      /^-- note: role "app_vanished" \(oid \d+\) is gone from Postgres, dropped out of band; up creates it again, with the password the state has$/,
    );
    assert.equal((await roleHandlers.diff(created.outs!, again.inputs!)).changes, true);
    await roleHandlers.update(settings, created.outs!, again.inputs!);
    assert.equal(await login("app_vanished", created.outs!.password), "app_vanished");
  });

  // Regression: the provider planned CREATE ROLE ... PASSWORD <redacted> for a role dropped out of band after an
  // update, then ran it without the password and failed with PlanChanged (nor would the password have been set).
  test("PgRole provider: a role dropped out of band after an update is created again with the state's password", async () => {
    const first = { name: "app_pulumi", manager: "pulumi:test/roles", connectionLimit: 1 };
    const created = await roleHandlers.create(settings, (await roleHandlers.check(settings, {}, first)).inputs!);
    const second = { ...first, connectionLimit: 2 };
    const altered = await roleHandlers.update(settings, created.outs!, (await roleHandlers.check(settings, created.outs!, second)).inputs!);
    await pg.query('DROP ROLE "app_pulumi"');
    const again = await roleHandlers.check(settings, altered.outs!, second);
    assert.deepEqual((again.inputs!.plannedSql as string[]).slice(1), [
      'CREATE ROLE "app_pulumi" WITH LOGIN CONNECTION LIMIT 2 PASSWORD <redacted>',
      ...pg.actsAs("app_pulumi"),
      `COMMENT ON ROLE "app_pulumi" IS 'managed by pg-kopf: pulumi:test/roles'`,
    ]);
    assert.equal((await roleHandlers.diff(altered.outs!, again.inputs!)).changes, true);
    const updated = await roleHandlers.update(settings, altered.outs!, again.inputs!);
    assert.equal(updated.outs!.password, created.outs!.password);
    assert.equal(await login("app_pulumi", created.outs!.password), "app_pulumi");
  });

  // Regression: memberOf naming a group that leads to a superuser was accepted, a way around refusing superuser.
  test("memberOf refuses a group through which the role would get superuser powers, also when it becomes one later", async () => {
    await pg.superQuery("CREATE ROLE dba_su SUPERUSER NOLOGIN; CREATE ROLE dba NOLOGIN; GRANT dba_su TO dba");
    await assert.rejects(
      role.convergeRole(settings, spec({ name: "sneaky", memberOf: ["readers", "dba"] }), ctx),
      /InvalidSpec.*memberOf\.1: membership in "dba" gives superuser powers \(dba -> dba_su \(SUPERUSER\)\)/s,
    );
    assert.equal(await role.observeRole(settings, "sneaky"), undefined, "nothing was created");
    await pg.superQuery("CREATE ROLE files NOLOGIN; GRANT pg_read_server_files TO files");
    await assert.rejects(
      role.convergeRole(settings, spec({ name: "sneaky", memberOf: ["files"] }), ctx),
      /membership in "files" gives superuser powers \(files -> pg_read_server_files\)/,
    );
    // A group that is harmless when granted and made privileged afterwards, out of band: the next plan refuses.
    await pg.query("CREATE ROLE later_group NOLOGIN");
    await role.convergeRole(settings, spec({ name: "grouped", memberOf: ["later_group"] }), ctx);
    await pg.superQuery("ALTER ROLE later_group BYPASSRLS");
    const { observed, admin } = await role.observeRoleForPlan(settings, spec({ name: "grouped", memberOf: ["later_group"] }));
    assert.throws(
      () => role.planRole(spec({ name: "grouped", memberOf: ["later_group"] }), observed, { ...ctx, admin }),
      /membership in "later_group" gives superuser powers \(later_group \(BYPASSRLS\)\)/,
    );
  });

  test("an admin without CREATEROLE fails the preview in one message naming the grant, before any statement", async () => {
    await pg.superQuery(`CREATE ROLE weak_admin LOGIN CREATEDB PASSWORD '${core.scramVerifier("weak-pass")}'`);
    const weak = pg.settings({ user: "weak_admin", password: "weak-pass" });
    await assert.rejects(
      roleHandlers.check(weak, {}, { name: "never_made", manager: "pulumi:test/roles" }),
      /AdminLacksPrivilege: the admin role "weak_admin" on 127\.0\.0\.1:\d+ lacks CREATEROLE, without which pg-kopf cannot manage roles: as a superuser \(on a managed service, the master user\) run ALTER ROLE "weak_admin" WITH CREATEROLE/,
    );
    assert.equal(await role.observeRole(settings, "never_made"), undefined);
  });

  test("a group that does not exist fails on memberOf, and nothing of the plan is left", async () => {
    await assert.rejects(
      role.convergeRole(settings, spec({ name: "half", memberOf: ["nobody_here"] }), ctx),
      (err: core.PgKopfError) => err.reason === "InvalidSpec" && /memberOf: role "nobody_here" does not exist/.test(err.message),
    );
    assert.equal(await role.observeRole(settings, "half"), undefined, "CREATE ROLE rolled back with the failed GRANT");
  });

  test("another's role is refused; a superuser is never touched, even with adopt", async () => {
    await pg.query("CREATE ROLE theirs");
    await assert.rejects(role.convergeRole(settings, spec({ name: "theirs" }), ctx), /role "theirs" exists and was not created by pg-kopf/);
    const adopted = await role.convergeRole(settings, spec({ name: "theirs", adopt: true, createdb: true }), ctx);
    // login defaults to true: an adopted NOLOGIN role is given LOGIN, as the plan says.
    assert.deepEqual(adopted.steps.map(role.describeRoleStep), [
      ...pg.actsAs("theirs"),
      'ALTER ROLE "theirs" WITH LOGIN',
      'ALTER ROLE "theirs" WITH CREATEDB',
      `COMMENT ON ROLE "theirs" IS 'managed by pg-kopf: test:roles'`,
    ]);
    await pg.superQuery("CREATE ROLE boss SUPERUSER");
    await assert.rejects(role.convergeRole(settings, spec({ name: "boss", adopt: true }), ctx), /is a superuser/);
  });

  test("deletion: retain keeps it; delete refuses while it owns objects, listing where, then drops it", async () => {
    await convergeAndReplan(spec({ name: "owner_role", reclaimPolicy: "delete" }));
    assert.deepEqual(await role.reclaimRole(settings, spec({ name: "owner_role" }), ctx), [], "retain drops nothing");
    await pg.query('CREATE DATABASE role_dep OWNER "owner_role"');
    await pg.query('CREATE TABLE t (id int); ALTER TABLE t OWNER TO "owner_role"', [], "role_dep");
    await assert.rejects(
      role.reclaimRole(settings, spec({ name: "owner_role", reclaimPolicy: "delete" }), ctx),
      (err: core.PgKopfError) =>
        err.reason === "RoleInUse" &&
        /in database "role_dep"/.test(err.message) &&
        /in the cluster \(databases, tablespaces\)/.test(err.message),
    );
    assert.ok(await role.observeRole(settings, "owner_role"), "still there");
    await pg.query("DROP DATABASE role_dep");
    const dropped = await role.reclaimRole(settings, spec({ name: "owner_role", reclaimPolicy: "delete" }), ctx);
    assert.deepEqual(dropped.map(role.describeRoleStep), ['[destructive] DROP ROLE IF EXISTS "owner_role"']);
    assert.equal(await role.observeRole(settings, "owner_role"), undefined);
  });

  test("deletion with reassignOwnedTo: the objects change owner in each database, nothing is lost, the role goes", async () => {
    await pg.query("CREATE ROLE heir NOLOGIN");
    const leaving = spec({ name: "leaving", reclaimPolicy: "delete", reassignOwnedTo: "heir" });
    await convergeAndReplan(leaving);
    await pg.query('CREATE DATABASE leaving_db OWNER "leaving"');
    await pg.query('CREATE TABLE kept (id int); INSERT INTO kept VALUES (1); ALTER TABLE kept OWNER TO "leaving"', [], "leaving_db");
    await pg.query('CREATE TABLE shared_grant (id int); GRANT SELECT ON shared_grant TO "leaving"', [], "leaving_db");
    const shown: string[] = [];
    await role.reclaimRole(settings, leaving, ctx, (_s, sql) => shown.push(sql));
    assert.deepEqual(shown, [
      ...pg.actsAs("heir"),
      // Shared objects (the database it owns) first, from the maintenance database; then each database.
      'REASSIGN OWNED BY "leaving" TO "heir" -- in database "postgres"',
      'DROP OWNED BY "leaving" -- in database "postgres"',
      'REASSIGN OWNED BY "leaving" TO "heir" -- in database "leaving_db"',
      'DROP OWNED BY "leaving" -- in database "leaving_db"',
      '[destructive] DROP ROLE IF EXISTS "leaving"',
    ]);
    assert.equal(await role.observeRole(settings, "leaving"), undefined);
    const [table] = await pg.query<{ owner: string; n: number }>(
      "SELECT tableowner AS owner, (SELECT count(*)::int FROM kept) AS n FROM pg_tables WHERE tablename = 'kept'",
      [],
      "leaving_db",
    );
    assert.deepEqual(table, { owner: "heir", n: 1 });
    const [db] = await pg.query<{ owner: string }>("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'leaving_db'");
    assert.equal(db.owner, "heir");
  });
});
