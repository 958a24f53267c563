// The Pulumi program end to end: the real pulumi CLI runs it against a real PostgreSQL 15, through create,
// in-place update, refused immutable change, drift and refresh, secrets in state, destroy, and bad input.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { UpResult } from "@pulumi/pulumi/automation";
import { startPostgres, type TestPostgres } from "../harness/postgres";
import { allText } from "./tree";
import { createTestStack, localStackConfig, type TestStack } from "../harness/pulumi";

let pg: TestPostgres;
let t: TestStack;
const output: string[] = [];
const onOutput = (o: string) => output.push(o);

const databases = (list: object[]) => ({ value: JSON.stringify(list) });
const declared = [
  { name: "app", owner: "app_owner", connectionLimit: 20, extensions: ["citext"] },
  { name: "scratch", reclaimPolicy: "delete" },
  // Any name Postgres accepts: quotes, a space, non-ASCII.
  { name: 'Straße "β" db' },
];
const ownerOf = async (name: string) =>
  (await pg.query<{ o: string }>("SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = $1", [name]))[0]?.o;
const exists = async (name: string) => (await pg.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])).length === 1;
const changes = (r: UpResult) => r.summary.resourceChanges ?? {};

before(async () => {
  pg = await startPostgres();
  await pg.query("CREATE ROLE app_owner");
  await pg.query("CREATE ROLE new_owner");
  t = await createTestStack("local", localStackConfig(pg, declared), pg);
});
after(() => {
  pg?.destroy();
  t?.destroyDir();
});

describe("pulumi up, preview, refresh and destroy on a real Postgres", () => {
  test("1. up from empty creates every declared database; a second up changes nothing", async () => {
    const first = await t.stack.up({ onOutput });
    assert.equal(changes(first).create, 5, "stack, the databases' provider and 3 databases");
    assert.ok(await exists('Straße "β" db'));
    assert.equal(await ownerOf("app"), "app_owner");
    assert.deepEqual(await pg.query("SELECT datconnlimit FROM pg_database WHERE datname = 'app'"), [{ datconnlimit: 20 }]);
    assert.equal((await pg.query("SELECT 1 FROM pg_extension WHERE extname = 'citext'", [], "app")).length, 1);
    assert.ok(await exists("scratch"));
    const second = await t.stack.up({ onOutput });
    assert.deepEqual(changes(second), { same: 5 });
  });

  test("2. an owner change previews as an in-place update of exactly that property, and up applies it", async () => {
    await t.stack.setConfig("pg-kopf:databases", databases([{ ...declared[0], owner: "new_owner" }, ...declared.slice(1)]));
    const preview = await t.stack.preview({ diff: true, onOutput });
    assert.deepEqual(preview.changeSummary, { same: 4, update: 1 });
    assert.match(preview.stdout, /~ pulumi-nodejs:dynamic\/pg:Database: \(update\)/);
    assert.match(preview.stdout, /\[urn=urn:pulumi:local::pg-kopf::pulumi-nodejs:dynamic\/pg:Database::db-app\]/);
    assert.match(preview.stdout, /~ owner\s*: "app_owner" => "new_owner"/);
    assert.doesNotMatch(preview.stdout, /replace/);
    const up = await t.stack.up({ onOutput });
    assert.equal(changes(up).update, 1);
    assert.equal(await ownerOf("app"), "new_owner");
  });

  test("3. an encoding change under retain fails in preview, naming the field; nothing is dropped", async () => {
    const { oid } = (await pg.query<{ oid: number }>("SELECT oid::int FROM pg_database WHERE datname = 'app'"))[0];
    await t.stack.setConfig(
      "pg-kopf:databases",
      databases([{ ...declared[0], owner: "new_owner", encoding: "LATIN1" }, ...declared.slice(1)]),
    );
    await assert.rejects(
      t.stack.preview({ onOutput }),
      // Setting a field the database has otherwise is no replacement whatever the policy: no advice about reclaimPolicy.
      (e: Error) => /db-app/.test(e.message) && /encoding: cannot change/.test(e.message) && !/reclaimPolicy/.test(e.message),
    );
    await assert.rejects(t.stack.up({ onOutput }), /encoding: cannot change/);
    assert.deepEqual(await pg.query("SELECT oid::int FROM pg_database WHERE datname = 'app'"), [{ oid }]);
    await t.stack.setConfig("pg-kopf:databases", databases([{ ...declared[0], owner: "new_owner" }, ...declared.slice(1)]));
  });

  test("4. a database dropped out of band: refresh reports it, the next up recreates it", async () => {
    await pg.query('DROP DATABASE "scratch"');
    const refresh = await t.stack.refresh({ onOutput });
    assert.equal(refresh.summary.resourceChanges?.delete, 1);
    const up = await t.stack.up({ onOutput });
    assert.equal(changes(up).create, 1);
    assert.ok(await exists("scratch"));
  });

  test("5. the state holds no plaintext admin password", async () => {
    // (The Automation API's exportStack passes --show-secrets; the CLI is asked directly, as a user would.)
    const exported = t.cli(["stack", "export", "--show-secrets=false"]);
    assert.ok(!exported.includes(pg.password), "exported deployment");
    assert.ok(!allText(t.backendDir).includes(pg.password), "raw state files");
    // Not even encrypted: the provider reads it from the password file, so the engine never sees it.
    assert.doesNotMatch(exported, /adminPassword/);
  });

  test("7. a bad database name fails preview, naming the resource and the field", async () => {
    const long = "ü".repeat(32);
    await t.stack.setConfig(
      "pg-kopf:databases",
      databases([...declared.map((d, i) => (i === 0 ? { ...d, owner: "new_owner" } : d)), { name: long }]),
    );
    await assert.rejects(
      t.stack.preview({ onOutput }),
      (e: Error) => e.message.includes(`db-${long}`) && /name: is 64 bytes; Postgres names are at most 63 bytes/.test(e.message),
    );
    assert.ok(await exists("app"));
    await t.stack.setConfig("pg-kopf:databases", databases([{ ...declared[0], owner: "new_owner" }, ...declared.slice(1)]));
  });

  test("6. destroy keeps databases with retain and drops those with delete", async () => {
    const destroy = await t.stack.destroy({ onOutput });
    assert.equal(destroy.summary.resourceChanges?.delete, 5);
    assert.ok(await exists("app"), "retain keeps the database");
    assert.ok(!(await exists("scratch")), "delete drops it");
  });
});
