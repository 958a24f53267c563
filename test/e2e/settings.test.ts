// Settings per database and per role in a database through the real pulumi CLI: the preview shows each SET and
// RESET as the SQL up runs, a setting changed by hand shows as drift (the stack refreshes before every preview) and
// up repairs it, a setting made by hand on another key is left alone, and a bad value fails the preview naming it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startPostgres, type TestPostgres } from "../harness/postgres";
import { createTestStack, localStackConfig, type TestStack } from "../harness/pulumi";
import * as core from "../../core";

let pg: TestPostgres;
let t: TestStack;

const orders = {
  name: "orders",
  config: { statement_timeout: "30s", work_mem: "8MB", search_path: "app, public" },
  roleConfig: { reporting: { work_mem: "256MB" } },
};

async function stored(role?: string): Promise<Record<string, string>> {
  const rows = await pg.query<{ setconfig: string[] | null }>(
    `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
      WHERE d.datname = 'orders' AND s.setrole = coalesce((SELECT oid FROM pg_roles WHERE rolname = $1), 0)`,
    [role ?? null],
  );
  return core.parseSetconfig(rows[0]?.setconfig ?? null);
}

const setDatabases = (list: object[]) => t.stack.setConfig("pg-kopf:databases", { value: JSON.stringify(list) });

before(async () => {
  pg = await startPostgres();
  await pg.query("CREATE ROLE reporting LOGIN");
  t = await createTestStack("settings", localStackConfig(pg, [orders]), pg);
});
after(() => {
  pg?.destroy();
  t?.destroyDir();
});

test("the preview shows every SET as up runs it, and up applies them", async () => {
  const preview = await t.stack.preview({ diff: true, color: "never" });
  for (const sql of [
    `ALTER DATABASE \\"orders\\" SET \\"statement_timeout\\" TO '30s'`,
    `ALTER DATABASE \\"orders\\" SET \\"search_path\\" TO 'app', 'public'`,
    `ALTER ROLE \\"reporting\\" IN DATABASE \\"orders\\" SET \\"work_mem\\" TO '256MB'`,
  ])
    assert.ok(preview.stdout.includes(sql), `${sql} in\n${preview.stdout}`);
  await t.stack.up({ color: "never" });
  assert.deepEqual(await stored(), orders.config);
  assert.deepEqual(await stored("reporting"), { work_mem: "256MB" });
  const again = await t.stack.preview({ diff: true, color: "never" });
  assert.deepEqual(again.changeSummary, { same: 3 }, again.stdout);
});

test("a setting changed by hand is drift in the preview, repaired by up; one made by hand on another key is left alone", async () => {
  await pg.query("ALTER DATABASE orders SET statement_timeout = '10s'");
  await pg.query("ALTER DATABASE orders SET lock_timeout = '1s'");
  await pg.query("ALTER ROLE reporting IN DATABASE orders SET work_mem = '1MB'");
  const preview = await t.stack.preview({ diff: true, color: "never" });
  assert.match(preview.stdout, /statement_timeout\s*:\s*"10s" => "30s"/, preview.stdout);
  assert.match(preview.stdout, /work_mem\s*:\s*"1MB" => "256MB"/, preview.stdout);
  assert.ok(preview.stdout.includes(`ALTER ROLE \\"reporting\\" IN DATABASE \\"orders\\" SET \\"work_mem\\" TO '256MB'`), preview.stdout);
  assert.ok(preview.stdout.includes(`ALTER DATABASE \\"orders\\" SET \\"statement_timeout\\" TO '30s'`), preview.stdout);
  assert.ok(!preview.stdout.includes("lock_timeout"), "a key pg-kopf never set is not in the preview");
  await t.stack.up({ color: "never" });
  assert.deepEqual(await stored(), { ...orders.config, lock_timeout: "1s" });
  assert.deepEqual(await stored("reporting"), { work_mem: "256MB" });
});

test("a key removed from the map is previewed as RESET and reset; a bad value fails the preview naming its key", async () => {
  const fewer = { ...orders, config: { statement_timeout: "30s", search_path: "app, public" }, roleConfig: {} };
  await setDatabases([fewer]);
  const preview = await t.stack.preview({ diff: true, color: "never" });
  assert.ok(preview.stdout.includes(`ALTER DATABASE \\"orders\\" RESET \\"work_mem\\"`), preview.stdout);
  assert.ok(preview.stdout.includes(`ALTER ROLE \\"reporting\\" IN DATABASE \\"orders\\" RESET \\"work_mem\\"`), preview.stdout);
  await t.stack.up({ color: "never" });
  assert.deepEqual(await stored(), { statement_timeout: "30s", search_path: "app, public", lock_timeout: "1s" });
  assert.deepEqual(await stored("reporting"), {});

  await setDatabases([{ ...fewer, config: { statement_timeout: "30 seconds" } }]);
  const failed = await t.stack.preview({ color: "never" }).then(
    () => "",
    (e: { commandResult?: { stdout: string; stderr: string } }) => `${e.commandResult?.stdout}${e.commandResult?.stderr}`,
  );
  assert.match(failed, /config\.statement_timeout: "30 seconds" is not a time; write a number with one of the units/);
});
