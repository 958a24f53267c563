// The dynamic provider against a real PostgreSQL 15, driven the way the engine drives it: serialized, revived from
// its text, configured from stack config, then check -> diff -> create -> read -> update -> delete.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import type * as pulumi from "@pulumi/pulumi";
import * as pgDatabaseProvider from "../../provider/database/dispatch";
import { clientConfig } from "../../core/connect";
import { startPostgres, type TestPostgres } from "../harness/postgres";

// The engine's own pieces: the closure serializer the dynamic Resource uses, and the loader and config class of
// the provider process.
const { serializeFunction } = require("@pulumi/pulumi/runtime/closure/serializeClosure");
const { Config } = require("@pulumi/pulumi/cmd/dynamic-provider/config");
const requireFromString = require("require-from-string");

// A project with another name than pg-kopf: the documented pg-kopf:* keys must still be read.
const PROJECT = "platform-team";
const manager = "pulumi:pg-kopf/test";
let pg: TestPostgres;
let serialized: string;
let provider: pulumi.dynamic.ResourceProvider;

/** The provider's configuration as the PgDatabase resource gives it: the pg-kopf:* connection keys, no password. */
function stackConfig(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    "pg-kopf:adminHost": pg.host,
    "pg-kopf:adminPort": String(pg.port),
    "pg-kopf:adminUser": pg.user,
    "pg-kopf:adminSslMode": "disable",
    ...overrides,
  };
}
let passfile: string;

/** A provider revived from its serialized text and configured, exactly as the engine's provider process does. */
async function revive(config: Record<string, string>): Promise<pulumi.dynamic.ResourceProvider> {
  const p = requireFromString(serialized).handler() as pulumi.dynamic.ResourceProvider;
  await p.configure!({ config: new Config(config, PROJECT) });
  return p;
}

/**
 * A configure or check refusal as the engine prints it: one check failure with the message (a throw would be printed
 * twice with a stack trace). Returns the failure's reason.
 */
async function refusedCheck(p: pulumi.dynamic.ResourceProvider, news: Record<string, unknown>): Promise<string> {
  const checked = await p.check!({}, { ...news, manager });
  assert.equal(checked.failures?.length, 1, `expected one check failure, got ${JSON.stringify(checked.failures)}`);
  return checked.failures![0].reason;
}

const exists = async (name: string) => (await pg.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])).length === 1;
const ownerOf = async (name: string) =>
  (await pg.query<{ o: string }>("SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = $1", [name]))[0]?.o;

/** check, then diff against the recorded outputs, like a preview; returns the checked inputs. */
async function checkAndDiff(olds: Record<string, unknown>, news: Record<string, unknown>, oldOuts?: Record<string, unknown>) {
  const checked = await provider.check!(olds, { ...news, manager });
  const diff = oldOuts ? await provider.diff!(String(oldOuts.name), oldOuts, checked.inputs ?? {}) : undefined;
  return { checked, diff };
}

before(async () => {
  pg = await startPostgres();
  await pg.query("CREATE ROLE app_owner");
  await pg.query("CREATE ROLE new_owner");
  // The password reaches the provider process as it reaches psql: from the password file.
  passfile = join(mkdtempSync(join(tmpdir(), "pg-kopf-pgpass-")), "pgpass");
  pg.writePasswordFile(passfile);
  process.env.PGPASSFILE = passfile;
  serialized = (await serializeFunction(() => pgDatabaseProvider, { allowSecrets: true })).text;
  provider = await revive(stackConfig());
});
after(() => pg.destroy());

test("the provider serializes without any credential in its text", () => {
  assert.ok(serialized.length > 0);
  assert.ok(!serialized.includes(pg.password));
  assert.ok(serialized.length < 10_000, `the serialized provider is a small dispatcher, not the core (${serialized.length} bytes)`);
  // It names the module it loads in the provider process, nothing more.
  assert.match(serialized, /pg-kopf\/dist\/provider\/\$\{moduleName\}\.js/);
  assert.match(serialized, /moduleName: "handlers"/);
});

test("the serialized provider works in a separate process with only its text and the stack config", () => {
  const dir = mkdtempSync(join(tmpdir(), "pg-kopf-provider-"));
  writeFileSync(join(dir, "provider.js.txt"), serialized);
  const script = `
    const fs = require("fs");
    const requireFromString = require("require-from-string");
    const { Config } = require("@pulumi/pulumi/cmd/dynamic-provider/config");
    (async () => {
      const p = requireFromString(fs.readFileSync(${JSON.stringify(join(dir, "provider.js.txt"))}, "utf8")).handler();
      await p.configure({ config: new Config(JSON.parse(process.env.CFG), "${PROJECT}") });
      const made = await p.create({ name: "from_child", owner: "app_owner", manager: "${manager}", reclaimPolicy: "delete" });
      await p.delete(made.id, made.outs);
      console.log(JSON.stringify(made));
    })().catch((e) => { console.error(e.message); process.exit(1); });`;
  const out = execFileSync(process.execPath, ["-e", script], {
    cwd: join(__dirname, "..", "..", ".."),
    env: { PATH: process.env.PATH, PGPASSFILE: passfile, CFG: JSON.stringify(stackConfig()) },
    encoding: "utf8",
  });
  const made = JSON.parse(out);
  assert.equal(made.id, "from_child");
  assert.equal(made.outs.owner, "app_owner");
  assert.ok(!out.includes(pg.password));
});

describe("check", () => {
  test("normalizes valid inputs and applies safe defaults", async () => {
    const { checked } = await checkAndDiff({}, { name: "app", encoding: "utf-8" });
    assert.deepEqual(checked.failures, undefined);
    assert.deepEqual(checked.inputs, {
      name: "app",
      encoding: "UTF8",
      reclaimPolicy: "retain",
      forceDrop: false,
      adopt: false,
      manager,
      plannedSql: [`CREATE DATABASE "app" WITH ENCODING 'UTF8'`, `COMMENT ON DATABASE "app" IS 'managed by pg-kopf: ${manager}'`],
    });
  });

  test("rejects bad input naming the property and the fix", async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ name: "x\u0000y" }, "name", /any characters but NUL/],
      [{ name: "a".repeat(64) }, "name", /63/],
      [{ name: "template1" }, "name", /system database/],
      [{ name: "app", encoding: "EBCDIC" }, "encoding", /unknown encoding/],
      [{ name: "app", connectionLimit: -5 }, "connectionLimit", /-1 for no limit/],
      [{ name: "app", ownr: "x" }, "ownr", /unknown field/],
    ];
    for (const [news, property, reason] of cases) {
      const { checked } = await checkAndDiff({}, news);
      assert.equal(checked.failures?.[0]?.property, property, JSON.stringify(news));
      assert.match(checked.failures![0].reason, reason);
    }
  });

  // Regression: the immutable-change check compared the recorded (normalized) encoding with the program's spelling,
  // so a program writing utf-8 had every preview after its first up refused.
  test("another spelling of the recorded encoding is no change", async () => {
    const olds = { name: "spelled", encoding: "UTF8", reclaimPolicy: "retain", forceDrop: false, adopt: false, manager };
    const { checked, diff } = await checkAndDiff(olds, { name: "spelled", encoding: "utf-8" }, olds);
    assert.equal(checked.failures, undefined);
    assert.equal(checked.inputs?.encoding, "UTF8");
    assert.deepEqual(diff?.replaces, []);
  });

  test("refuses an immutable change while the recorded policy is retain, and names the way out", async () => {
    const olds = { name: "app", encoding: "UTF8", reclaimPolicy: "retain", manager };
    const { checked } = await checkAndDiff(olds, { name: "app", encoding: "LATIN1" });
    assert.equal(checked.failures?.[0]?.property, "encoding");
    assert.match(checked.failures![0].reason, /DROP DATABASE.*loses the data/);
    assert.match(checked.failures![0].reason, /reclaimPolicy: delete/);
    // With delete already recorded, the user has said the database may go: check passes, diff replaces.
    const { checked: ok, diff } = await checkAndDiff(
      { ...olds, reclaimPolicy: "delete" },
      { name: "app", encoding: "LATIN1", reclaimPolicy: "delete" },
      { ...olds, reclaimPolicy: "delete" },
    );
    assert.equal(ok.failures, undefined);
    assert.deepEqual(diff?.replaces, ["encoding"]);
    assert.equal(diff?.deleteBeforeReplace, true);
  });
});

describe("the planned SQL", () => {
  // Regression: renaming a database with reclaimPolicy delete previewed only the CREATE of the new name, then up
  // dropped the old one: the engine checks a replacement a second time without the old inputs and shows that result.
  test("a replacement's plan keeps the DROP of the old database through the engine's second check", async () => {
    const made = await provider.create((await checkAndDiff({}, { name: "before_rename", reclaimPolicy: "delete" })).checked.inputs!);
    const news = { name: "after_rename", reclaimPolicy: "delete" };
    const { checked: first, diff } = await checkAndDiff(made.outs!, news, made.outs);
    assert.deepEqual(diff?.replaces, ["name"]);
    const expected = [
      '[destructive] DROP DATABASE IF EXISTS "before_rename"',
      'CREATE DATABASE "after_rename"',
      `COMMENT ON DATABASE "after_rename" IS 'managed by pg-kopf: ${manager}'`,
    ];
    assert.deepEqual(first.inputs?.plannedSql, expected);
    const { checked: second } = await checkAndDiff({}, news);
    assert.deepEqual(second.inputs?.plannedSql, expected);
    // up: the engine deletes the old resource first, then creates the new one from the second check's inputs.
    await provider.delete!(made.id, made.outs!);
    const renamed = await provider.create(second.inputs!);
    assert.equal(renamed.id, "after_rename");
    assert.ok(!(await exists("before_rename")));
    await provider.delete!(renamed.id, renamed.outs!);
  });

  // Its own owner role, so that the admin's first grant of it (with a non-superuser admin) is this test's, whatever ran before.
  test("check plans against the live database, and update runs exactly that", async () => {
    await pg.query("CREATE ROLE planned_owner");
    const made = await provider.create((await checkAndDiff({}, { name: "planned", owner: "app_owner" })).checked.inputs!);
    const { checked, diff } = await checkAndDiff(made.outs!, { name: "planned", owner: "planned_owner", connectionLimit: 3 }, made.outs);
    assert.deepEqual(checked.inputs?.plannedSql, [
      ...pg.actsAs("planned_owner"),
      'ALTER DATABASE "planned" OWNER TO "planned_owner"',
      'ALTER DATABASE "planned" WITH CONNECTION LIMIT 3',
    ]);
    assert.equal(diff?.changes, true);
    await provider.update!("planned", made.outs!, checked.inputs!);
    assert.equal(await ownerOf("planned"), "planned_owner");
  });

  test("if the database changed after the plan was shown, update runs nothing and says so", async () => {
    const made = await provider.create((await checkAndDiff({}, { name: "stale", owner: "app_owner" })).checked.inputs!);
    const { checked } = await checkAndDiff(made.outs!, { name: "stale", owner: "new_owner", connectionLimit: 2 }, made.outs);
    assert.equal((checked.inputs!.plannedSql as string[]).filter((s) => !pg.actsAs("new_owner").includes(s)).length, 2);
    // Between preview and update, someone else does half of it.
    await pg.superQuery('ALTER DATABASE "stale" OWNER TO new_owner');
    await assert.rejects(
      provider.update!("stale", made.outs!, checked.inputs!),
      /PlanChanged: the database changed since the plan was shown/,
    );
    assert.deepEqual(await pg.query("SELECT datconnlimit FROM pg_database WHERE datname = 'stale'"), [{ datconnlimit: -1 }], "nothing ran");
  });

  test("drift with an unchanged program is planned and shows as an update", async () => {
    const made = await provider.create((await checkAndDiff({}, { name: "drifty", owner: "app_owner" })).checked.inputs!);
    await pg.superQuery('ALTER DATABASE "drifty" OWNER TO new_owner');
    const { checked, diff } = await checkAndDiff(made.outs!, { name: "drifty", owner: "app_owner" }, made.outs);
    // (A non-superuser admin's own grant comes first when no earlier test has made it: not this test's subject.)
    const planned = (checked.inputs!.plannedSql as string[]).filter((sql) => !sql.startsWith("GRANT ") || !sql.includes(`TO "${pg.user}"`));
    assert.deepEqual(planned, ['ALTER DATABASE "drifty" OWNER TO "app_owner"']);
    assert.equal(diff?.changes, true);
  });

  // Regression: without a refresh, the re-creating plan was the very one recorded at creation, so diff saw no new
  // work and up did nothing, silently, while the database was gone.
  test("a database dropped out of band, no refresh: the preview says so first, and up creates it again", async () => {
    const made = await provider.create((await checkAndDiff({}, { name: "vanished", owner: "app_owner" })).checked.inputs!);
    await pg.query('DROP DATABASE "vanished"');
    const { checked, diff } = await checkAndDiff(made.outs!, { name: "vanished", owner: "app_owner" }, made.outs);
    const planned = checked.inputs?.plannedSql as string[];
    assert.match(
      planned[0],
      /^-- note: database "vanished" \(oid \d+\) is gone from Postgres, dropped out of band; up creates it again, empty/,
    );
    assert.deepEqual(planned.slice(1), made.outs!.plannedSql as string[]);
    assert.equal(diff?.changes, true);
    await provider.update!("vanished", made.outs!, checked.inputs!);
    assert.ok(await exists("vanished"));
  });

  test("setting an immutable field to the value the database already has is no change", async () => {
    const made = await provider.create((await checkAndDiff({}, { name: "implicit" })).checked.inputs!);
    const { checked, diff } = await checkAndDiff(made.outs!, { name: "implicit", encoding: "UTF8" }, made.outs);
    assert.equal(checked.failures, undefined);
    assert.deepEqual(checked.inputs?.plannedSql, []);
    assert.equal(diff?.changes, false);
    const refused = await checkAndDiff(made.outs!, { name: "implicit", encoding: "LATIN1" });
    assert.equal(refused.checked.failures?.[0]?.property, "encoding");
    assert.match(refused.checked.failures![0].reason, /cannot change from "UTF8" to "LATIN1"/);
    // Adding the field is no replacement whatever the policy: no advice about reclaimPolicy that would not work.
    assert.doesNotMatch(refused.checked.failures![0].reason, /reclaimPolicy/);
  });

  test("a database someone else owns fails check, naming the field", async () => {
    await pg.query("CREATE DATABASE theirs");
    const { checked } = await checkAndDiff({}, { name: "theirs" });
    assert.equal(checked.failures?.[0]?.property, "name");
    assert.match(checked.failures![0].reason, /was not created by pg-kopf.*adopt: true/);
  });

  test("with Postgres unreachable, check still passes and says the plan is missing", async () => {
    const offline = await revive(stackConfig({ "pg-kopf:adminPort": "1" }));
    const checked = await offline.check!({}, { name: "later", manager });
    assert.equal(checked.failures, undefined);
    assert.match(String((checked.inputs!.plannedSql as string[])[0]), /^-- not planned: PostgresUnavailable/);
  });

  // Regression: a TLS misconfiguration previewed as "-- not planned", as if Postgres were merely down.
  test("a TLS setting that cannot work fails the preview, naming the setting", async () => {
    const strict = await revive(stackConfig({ "pg-kopf:adminSslMode": "require" }));
    assert.match(await refusedCheck(strict, { name: "later" }), /TlsFailed: .*does not accept TLS.*sslmode prefer/);
  });
});

// One resource's life, step by step: each step starts from the state the one before recorded (awaited in turn, so
// they run in this order whatever order the runner picks for top-level tests).
test("the resource lifecycle", async (t) => {
  let outs: Record<string, unknown>;

  await t.test("create makes the database with its settings and records no secret", async () => {
    const { checked } = await checkAndDiff({}, { name: "life", owner: "app_owner", connectionLimit: 5, extensions: ["citext"] });
    const made = await provider.create(checked.inputs!);
    outs = made.outs!;
    assert.equal(made.id, "life");
    assert.equal(await ownerOf("life"), "app_owner");
    assert.equal(typeof outs.oid, "number");
    assert.ok(!JSON.stringify(outs).includes(pg.password));
  });

  await t.test("an unchanged program diffs to nothing", async () => {
    const { diff } = await checkAndDiff(outs, { name: "life", owner: "app_owner", connectionLimit: 5, extensions: ["citext"] }, outs);
    assert.equal(diff?.changes, false);
    assert.deepEqual(diff?.replaces, []);
  });

  await t.test("an owner change is an in-place update of exactly that property", async () => {
    const { checked, diff } = await checkAndDiff(
      outs,
      { name: "life", owner: "new_owner", connectionLimit: 5, extensions: ["citext"] },
      outs,
    );
    assert.equal(diff?.changes, true);
    assert.deepEqual(diff?.replaces, []);
    const oid = outs.oid;
    outs = (await provider.update!("life", outs, checked.inputs!)).outs!;
    assert.equal(await ownerOf("life"), "new_owner");
    assert.equal(outs.oid, oid, "the same database");
  });

  await t.test("read reports drift made out of band, so refresh shows it", async () => {
    await pg.query('ALTER DATABASE "life" OWNER TO app_owner');
    await pg.query("DROP EXTENSION citext", [], "life");
    const read = await provider.read!("life", outs);
    assert.equal(read.id, "life");
    assert.equal(read.props?.owner, "app_owner");
    assert.deepEqual(read.props?.extensions, []);
    // The next diff against the refreshed state sees the changes and the update repairs them.
    const { checked, diff } = await checkAndDiff(
      read.props!,
      { name: "life", owner: "new_owner", connectionLimit: 5, extensions: ["citext"] },
      read.props,
    );
    assert.equal(diff?.changes, true);
    outs = (await provider.update!("life", read.props!, checked.inputs!)).outs!;
    assert.equal(await ownerOf("life"), "new_owner");
    assert.deepEqual((await pg.query("SELECT extname FROM pg_extension WHERE extname = 'citext'", [], "life")).length, 1);
  });

  await t.test("read of a database dropped out of band says it is gone", async () => {
    const made = await provider.create({ name: "gone2", manager, reclaimPolicy: "retain", forceDrop: false, adopt: false });
    await pg.query('DROP DATABASE "gone2"');
    const read = await provider.read!("gone2", made.outs!);
    assert.ok(!read.id, "an empty id tells the engine the resource is gone");
  });

  await t.test("delete with retain leaves the database", async () => {
    await provider.delete!("life", outs);
    assert.ok(await exists("life"));
  });
});

test("delete with reclaimPolicy delete drops, but not while sessions are connected unless forceDrop", async () => {
  const made = await provider.create({ name: "doomed", manager, reclaimPolicy: "delete", forceDrop: false, adopt: false });
  const session = new Client({ ...clientConfig(pg.settings(), "doomed"), application_name: "reporting" });
  session.on("error", () => undefined);
  await session.connect();
  try {
    await assert.rejects(provider.delete!("doomed", made.outs!), /DatabaseInUse.*app reporting.*forceDrop/s);
    assert.ok(await exists("doomed"));
    await provider.delete!("doomed", { ...made.outs!, forceDrop: true });
    assert.ok(!(await exists("doomed")));
  } finally {
    await session.end().catch(() => undefined);
  }
});

// Regression: stamps named the stack alone, so two server entries reaching one Postgres shared them, and removing one
// entry's resource dropped a database the other entry declared.
test("on a named server the stamp names the entry; an older stamp is taken back only by the resource that made it, never dropped", async () => {
  const stamp = async () =>
    (await pg.query<{ c: string }>("SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = 'entry_db'"))[0].c;
  // Made as every stamp was made before stamps named their entry.
  const legacy = await provider.create({ name: "entry_db", manager, reclaimPolicy: "delete", forceDrop: false, adopt: false });
  assert.equal(await stamp(), `managed by pg-kopf: ${manager}`);
  const olds = { ...legacy.outs!, server: "alpha" };
  // Its removal under the entry lets the resource go and drops nothing: another entry may declare it.
  await provider.delete!("entry_db", olds);
  assert.ok(await exists("entry_db"));
  const news = { name: "entry_db", reclaimPolicy: "delete", server: "alpha", manager: `${manager}#alpha` };
  // A resource whose state records another database (another oid) may not take it.
  const stranger = await provider.check!({ ...olds, oid: 1 }, news);
  assert.match(stranger.failures?.[0]?.reason ?? "", /is managed by pulumi:pg-kopf\/test, so pulumi:pg-kopf\/test#alpha will not alter it/);
  // The resource that made it: the preview shows it stamped again, naming the entry; up runs exactly that.
  const checked = await provider.check!(olds, news);
  assert.deepEqual(checked.inputs?.plannedSql, [`COMMENT ON DATABASE "entry_db" IS 'managed by pg-kopf: ${manager}#alpha'`]);
  assert.equal((await provider.diff!("entry_db", olds, checked.inputs!)).changes, true);
  const updated = await provider.update!("entry_db", olds, checked.inputs!);
  assert.equal(updated.outs?.manager, `${manager}#alpha`);
  assert.equal(await stamp(), `managed by pg-kopf: ${manager}#alpha`);
  // Now only the entry's resource may touch it: the default server's leaves it, and the entry's drops it.
  await provider.delete!("entry_db", legacy.outs!);
  assert.equal(await stamp(), `managed by pg-kopf: ${manager}#alpha`);
  await provider.delete!("entry_db", updated.outs!);
  assert.ok(!(await exists("entry_db")));
});

// Regression: after another stack took a database over (adoptFrom), the stack that made it could not remove its
// resource: delete failed NotOwned, and destroy with it, until pulumi state delete.
test("a resource whose database another stack took over goes from the stack, dropping nothing", async () => {
  const made = await provider.create({ name: "handed_over", manager, reclaimPolicy: "delete", forceDrop: false, adopt: false });
  const taker = "pulumi:other-project/prod";
  await provider.create({
    name: "handed_over",
    manager: taker,
    adoptFrom: manager,
    reclaimPolicy: "retain",
    forceDrop: false,
    adopt: false,
  });
  await provider.delete!("handed_over", made.outs!);
  assert.ok(await exists("handed_over"));
  const [{ c }] = await pg.query<{ c: string }>(
    "SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = 'handed_over'",
  );
  assert.equal(c, `managed by pg-kopf: ${taker}`);
  // A failure that is not about ownership still fails the delete.
  const session = new Client(clientConfig(pg.settings(), "handed_over"));
  await session.connect();
  try {
    await assert.rejects(provider.delete!("handed_over", { ...made.outs!, manager: taker, reclaimPolicy: "delete" }), /DatabaseInUse/);
  } finally {
    await session.end();
  }
});

test("create refuses a database it did not make, and adopt takes it over", async () => {
  await pg.query("CREATE DATABASE legacy");
  await assert.rejects(
    provider.create({ name: "legacy", manager, reclaimPolicy: "retain", forceDrop: false, adopt: false }),
    /NotOwned.*adopt: true/,
  );
  const adopted = await provider.create({
    name: "legacy",
    owner: "app_owner",
    manager,
    reclaimPolicy: "retain",
    forceDrop: false,
    adopt: true,
  });
  assert.equal(adopted.id, "legacy");
  assert.equal(await ownerOf("legacy"), "app_owner");
});

test("a wrong admin password fails with AuthenticationFailed and never shows the password", async () => {
  const wrong = join(mkdtempSync(join(tmpdir(), "pg-kopf-pgpass-")), "pgpass");
  writeFileSync(wrong, `*:*:*:*:wrong-password-123\n`, { mode: 0o600 });
  process.env.PGPASSFILE = wrong;
  try {
    const bad = await revive(stackConfig());
    await assert.rejects(
      bad.create({ name: "never", manager, reclaimPolicy: "retain", forceDrop: false, adopt: false }),
      (e: Error) => /AuthenticationFailed/.test(e.message) && !e.message.includes("wrong-password-123"),
    );
  } finally {
    process.env.PGPASSFILE = passfile;
  }
});

// Regression: rotating the admin password locked the stack out, because the password travelled through the
// engine's provider configuration, which the state records and refresh reuses. It is read from the password file
// at each connection now: a rotation needs no configure at all.
test("a rotated admin password is picked up by the same configured provider from the password file", async () => {
  const p = await revive(stackConfig());
  await pg.query(`ALTER ROLE ${pg.user} PASSWORD 'rotated-${pg.password}'`);
  try {
    pg.writePasswordFile(passfile, `rotated-${pg.password}`);
    const made = await p.create({ name: "after_rotation", manager, reclaimPolicy: "delete", forceDrop: false, adopt: false });
    await p.delete!(made.id, made.outs);
  } finally {
    const admin = new Client({ ...clientConfig(pg.settings()), password: `rotated-${pg.password}` });
    await admin.connect();
    await admin.query(`ALTER ROLE ${pg.user} PASSWORD '${pg.password}'`);
    await admin.end();
    pg.writePasswordFile(passfile);
  }
});

// Regression: in a project not named pg-kopf, the pg-kopf:* keys were ignored and the provider fell back to
// localhost:5432, where another Postgres may listen.
test("with no admin host configured anywhere, the provider refuses to guess and names the key", async () => {
  const host = process.env.PGHOST;
  delete process.env.PGHOST;
  try {
    const unconfigured = await revive({});
    assert.match(
      await refusedCheck(unconfigured, { name: "later" }),
      /pg-kopf:adminHost: no admin connection configured.*pulumi config set pg-kopf:adminHost/,
    );
    // The same refusal, not a guessed localhost, ends any other call.
    await assert.rejects(unconfigured.create({ name: "later", manager }), /pg-kopf:adminHost: no admin connection configured/);
  } finally {
    if (host !== undefined) process.env.PGHOST = host;
  }
});

test("bad stack config names the key", async () => {
  const bad = await revive(stackConfig({ "pg-kopf:adminPort": "99999" }));
  assert.match(await refusedCheck(bad, { name: "later" }), /pg-kopf:adminPort: "99999" is not a TCP port/);
});

test("an admin without CREATEDB fails the database preview in one message naming the grant, before any statement", async () => {
  const handlers = await import("../../provider/database/handlers");
  const { scramVerifier } = await import("../../core/scram");
  await pg.superQuery(`CREATE ROLE nodb_admin LOGIN CREATEROLE PASSWORD '${scramVerifier("nodb-pass")}'`);
  const weak = pg.settings({ user: "nodb_admin", password: "nodb-pass" });
  await assert.rejects(
    handlers.check(weak, {}, { name: "never_db", manager: "pulumi:test/db" }),
    /AdminLacksPrivilege: the admin role "nodb_admin" on 127\.0\.0\.1:\d+ lacks CREATEDB, without which pg-kopf cannot manage databases: .*ALTER ROLE "nodb_admin" WITH CREATEDB; nothing was run/,
  );
  assert.deepEqual(await pg.query("SELECT 1 FROM pg_database WHERE datname = 'never_db'"), []);
});
