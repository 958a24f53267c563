// Settings per database (config) and per role in a database (roleConfig), and per role (PgRole config), against a
// real Postgres of each major the matrix runs, with a superuser and with a non-superuser admin: every kind of value
// round-trips and takes effect in a real session, drift is planned and repaired, what pg-kopf never set is left
// alone, and what the server or the admin cannot do is refused naming the key before anything runs.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Client } from "pg";
import * as core from "../../core";
import { startPostgres, type TestPostgres } from "../harness/postgres";

const ctx = { manager: "test:settings" };
const PASSWORD = "settings-test-password";
let pg: TestPostgres;
let settings: core.ConnectionSettings;

const spec = (input: object): core.PgDatabaseSpec => {
  const r = core.parseDatabaseSpec(input);
  if (!r.ok) throw new Error(JSON.stringify(r.failures));
  return r.spec;
};
const memoryOf = (s: core.PgDatabaseSpec): core.DatabaseMemory => ({ config: s.config, roleConfig: s.roleConfig });

/** Converges with `previous` as last applied, then checks a fresh observation plans nothing with the spec recorded. */
async function converge(s: core.PgDatabaseSpec, previous: core.DatabaseMemory = {}): Promise<string[]> {
  const result = await core.convergeDatabase(settings, s, { ...ctx, previous });
  const again = core.planDatabase(s, await core.observeDatabaseFor(settings, s, memoryOf(s)), { ...ctx, previous: memoryOf(s) });
  assert.deepEqual(again.map(core.describeDatabaseStep), [], "plan after apply must be empty");
  return result.steps.map(core.describeDatabaseStep);
}

/** The settings a session of `user` in `database` runs with. */
async function sessionSettings(user: string, database: string, keys: readonly string[]): Promise<Record<string, string>> {
  const client = new Client({ host: pg.host, port: pg.port, user, password: PASSWORD, database });
  await client.connect();
  try {
    const { rows } = await client.query("SELECT k, current_setting(k) AS v FROM unnest($1::text[]) k", [keys]);
    return Object.fromEntries(rows.map((r) => [r.k, r.v]));
  } finally {
    await client.end();
  }
}

/** What pg_db_role_setting holds for the database (role 0: the database's own) or a role in it. */
async function stored(database: string, role?: string): Promise<Record<string, string>> {
  const rows = await pg.query<{ setconfig: string[] | null }>(
    `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
      WHERE d.datname = $1 AND s.setrole = coalesce((SELECT oid FROM pg_roles WHERE rolname = $2), 0)`,
    [database, role ?? null],
  );
  return core.parseSetconfig(rows[0]?.setconfig ?? null);
}

const rejects = async (s: core.PgDatabaseSpec, field: string, why: RegExp) =>
  assert.rejects(core.convergeDatabase(settings, s, ctx), (err: core.PgKopfError) => {
    assert.equal(err.reason, "InvalidSpec", err.message);
    assert.ok(err instanceof core.InvalidSpec && err.failures.some((f) => f.field === field && why.test(f.message)), err.message);
    return true;
  });

before(async () => {
  pg = await startPostgres();
  settings = pg.settings();
  // Made by the admin, as a PgRole would make them: a non-superuser admin may then alter them.
  for (const name of ["reporting", "app_user"]) await pg.query(`CREATE ROLE ${name} LOGIN PASSWORD '${PASSWORD}'`);
});
after(() => pg?.destroy());

test("every kind of value round-trips and takes effect: the database's settings, and a role's in it over them", async () => {
  const s = spec({
    name: "settings_types",
    config: {
      statement_timeout: "30s",
      work_mem: "64MB",
      random_page_cost: "1.1",
      default_transaction_read_only: "on",
      default_transaction_isolation: "repeatable read",
      search_path: '"$user", app, public',
      timezone: "Europe/Paris",
      intervalstyle: "iso_8601",
      default_text_search_config: "pg_catalog.english",
    },
    roleConfig: { reporting: { statement_timeout: "5min", work_mem: "256MB" } },
  });
  const sql = await converge(s);
  assert.ok(sql.includes(`ALTER DATABASE "settings_types" SET "search_path" TO '$user', 'app', 'public'`), sql.join("\n"));
  assert.ok(sql.includes(`ALTER ROLE "reporting" IN DATABASE "settings_types" SET "work_mem" TO '256MB'`), sql.join("\n"));
  const keys = ["statement_timeout", "work_mem", "random_page_cost", "default_transaction_read_only", "transaction_isolation", "TimeZone"];
  assert.deepEqual(await sessionSettings("app_user", "settings_types", keys), {
    statement_timeout: "30s",
    work_mem: "64MB",
    random_page_cost: "1.1",
    default_transaction_read_only: "on",
    transaction_isolation: "repeatable read",
    TimeZone: "Europe/Paris",
  });
  const reporting = await sessionSettings("reporting", "settings_types", ["statement_timeout", "work_mem", "TimeZone"]);
  assert.deepEqual(reporting, { statement_timeout: "5min", work_mem: "256MB", TimeZone: "Europe/Paris" });
  assert.deepEqual(await sessionSettings("reporting", "postgres", ["work_mem"]), { work_mem: "4MB" }, "only in that database");
});

test("a setting changed by hand is drift, repaired; one set by hand on another key is left alone", async () => {
  const s = spec({ name: "settings_drift", config: { statement_timeout: "30s" }, roleConfig: { reporting: { work_mem: "32MB" } } });
  await converge(s);
  await pg.query(`ALTER DATABASE settings_drift SET statement_timeout = '10s'`);
  await pg.query(`ALTER DATABASE settings_drift SET lock_timeout = '1s'`);
  await pg.query(`ALTER ROLE reporting IN DATABASE settings_drift SET work_mem = '1MB'`);
  await pg.query(`ALTER ROLE reporting IN DATABASE settings_drift SET temp_buffers = '16MB'`);
  const drift = await converge(s, memoryOf(s));
  assert.deepEqual(drift, [
    `ALTER DATABASE "settings_drift" SET "statement_timeout" TO '30s'`,
    `ALTER ROLE "reporting" IN DATABASE "settings_drift" SET "work_mem" TO '32MB'`,
  ]);
  assert.deepEqual(await stored("settings_drift"), { statement_timeout: "30s", lock_timeout: "1s" });
  assert.deepEqual(await stored("settings_drift", "reporting"), { work_mem: "32MB", temp_buffers: "16MB" });
});

test("a key removed from the map is reset, as is a role removed from roleConfig; only what pg-kopf set", async () => {
  const first = spec({
    name: "settings_reset",
    config: { statement_timeout: "30s", work_mem: "8MB" },
    roleConfig: { reporting: { work_mem: "64MB" } },
  });
  await converge(first);
  await pg.query(`ALTER DATABASE settings_reset SET lock_timeout = '1s'`);
  const next = spec({ name: "settings_reset", config: { statement_timeout: "30s" }, roleConfig: {} });
  assert.deepEqual(await converge(next, memoryOf(first)), [
    `ALTER DATABASE "settings_reset" RESET "work_mem"`,
    `ALTER ROLE "reporting" IN DATABASE "settings_reset" RESET "work_mem"`,
  ]);
  assert.deepEqual(await stored("settings_reset"), { statement_timeout: "30s", lock_timeout: "1s" });
  assert.deepEqual(await stored("settings_reset", "reporting"), {});
  const unset = spec({ name: "settings_reset" });
  assert.deepEqual(await converge(unset, memoryOf(next)), [], "an unset config leaves settings alone");
});

test("a value Postgres refuses names its key; a role that does not exist is RoleMissing before anything runs", async () => {
  await rejects(spec({ name: "settings_bad", config: { timezone: "Nowhere/Atlantis" } }), "config.timezone", /invalid value|TimeZone/i);
  await assert.rejects(
    core.convergeDatabase(settings, spec({ name: "settings_nobody", roleConfig: { nobody: { work_mem: "1MB" } } }), ctx),
    (err: core.PgKopfError) => err.reason === "RoleMissing" && /nobody/.test(err.message) && /roleConfig/.test(err.message),
  );
  const rows = await pg.query("SELECT 1 FROM pg_database WHERE datname = 'settings_nobody'");
  assert.equal(rows.length, 0, "nothing was created");
});

test("a superuser-only key is set by a superuser admin, refused naming it for one that may not (granted SET from 15)", async () => {
  const s = spec({ name: "settings_logs", config: { log_min_duration_statement: "250ms" } });
  if (pg.admin === "superuser") {
    await converge(s);
    assert.deepEqual(await stored("settings_logs"), { log_min_duration_statement: "250ms" });
    return;
  }
  await rejects(s, "config.log_min_duration_statement", /only a superuser may set log_min_duration_statement/);
  assert.equal((await pg.query("SELECT 1 FROM pg_database WHERE datname = 'settings_logs'")).length, 0, "refused before CREATE");
  if (pg.major < 15) return;
  await pg.superQuery(`GRANT SET ON PARAMETER log_min_duration_statement TO ${pg.user}`);
  await converge(s);
  assert.deepEqual(await stored("settings_logs"), { log_min_duration_statement: "250ms" });
});

test("a key this Postgres does not have yet is refused naming the version that brought it", async () => {
  const s = spec({ name: "settings_versions", config: { idle_session_timeout: "1h", transaction_timeout: "10min" } });
  const missing = [...(pg.major < 14 ? ["config.idle_session_timeout"] : []), ...(pg.major < 17 ? ["config.transaction_timeout"] : [])];
  if (missing.length === 0) {
    await converge(s);
    return;
  }
  await assert.rejects(core.convergeDatabase(settings, s, ctx), (err: core.PgKopfError) => {
    assert.ok(err instanceof core.InvalidSpec, err.message);
    assert.deepEqual(
      err.failures.map((f) => f.field),
      missing,
    );
    assert.match(err.failures[0].message, new RegExp(`Postgres ${pg.major} has no`));
    return true;
  });
});

test("a role's settings in a database survive its password rotation; a role's own config resets only what pg-kopf set", async () => {
  const s = spec({ name: "settings_rotation", roleConfig: { reporting: { statement_timeout: "2min" } } });
  await converge(s);
  const reporting = core.role.parseRoleSpec({
    name: "reporting",
    adopt: true,
    config: { lock_timeout: "3s", work_mem: "16MB", timezone: "UTC", datestyle: "ISO, DMY" },
  });
  assert.ok(reporting.ok);
  await core.role.convergeRole(settings, reporting.spec, ctx, { password: { verifier: core.scramVerifier(PASSWORD) } });
  // Postgres stores TimeZone and DateStyle in its own spelling: still no change (this re-planned forever before).
  const replanned = core.role.planRole(reporting.spec, await core.role.observeRole(settings, "reporting"), {
    ...ctx,
    previous: { config: reporting.spec.config },
  });
  assert.deepEqual(replanned.map(core.role.describeRoleStep), [], "plan after apply must be empty");
  assert.deepEqual(await sessionSettings("reporting", "settings_rotation", ["statement_timeout", "lock_timeout"]), {
    statement_timeout: "2min",
    lock_timeout: "3s",
  });
  await pg.query(`ALTER ROLE reporting SET temp_buffers = '12MB'`);
  const fewer = core.role.parseRoleSpec({ name: "reporting", config: { lock_timeout: "3s", timezone: "UTC", datestyle: "ISO, DMY" } });
  assert.ok(fewer.ok);
  const { steps } = await core.role.convergeRole(settings, fewer.spec, { ...ctx, previous: { config: reporting.spec.config } });
  assert.deepEqual(steps.map(core.role.describeRoleStep), [`ALTER ROLE "reporting" RESET "work_mem"`]);
  const role = await core.role.observeRole(settings, "reporting");
  assert.deepEqual(
    role?.config,
    { lock_timeout: "3s", timezone: "UTC", datestyle: "ISO, DMY", temp_buffers: "12MB" },
    "the key set by hand is left",
  );
});
