// What reviewers see: `pulumi preview --diff` of representative changes, rendered by the real CLI and compared with
// checked-in expected output (test/e2e/golden), so a regression in the review is caught. UPDATE_GOLDEN=1 rewrites.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startPostgres, type TestPostgres } from "../harness/postgres";
import { createTestStack, localStackConfig, REPO, type TestStack } from "../harness/pulumi";
import { compare, GOLDEN, normalize } from "./golden";

let pg: TestPostgres;
let t: TestStack;

const dbs = (list: object[]) => ({ value: JSON.stringify(list) });
const app = { name: "app", owner: "app_owner", connectionLimit: 20 };

before(async () => {
  pg = await startPostgres();
  await pg.query("CREATE ROLE app_owner");
  await pg.query("CREATE ROLE new_owner");
  t = await createTestStack("review", localStackConfig(pg, [app, { name: "old_reports" }]), pg);
  await t.stack.up();
});
after(() => {
  pg?.destroy();
  t?.destroyDir();
});

test("preview of an owner change, a new database and a removed database (retain)", async () => {
  await t.stack.setConfig(
    "pg-kopf:databases",
    dbs([
      { ...app, owner: "new_owner" },
      { name: "reports", extensions: ["citext"] },
    ]),
  );
  const preview = await t.stack.preview({ diff: true, color: "never" });
  compare("preview-changes.txt", normalize(preview.stdout));
  // (same: the stack and the databases' provider)
  assert.deepEqual(preview.changeSummary, { create: 1, delete: 1, same: 2, update: 1 });
});

test("preview of a refused encoding change", async () => {
  await t.stack.setConfig("pg-kopf:databases", dbs([{ ...app, encoding: "LATIN1" }, { name: "old_reports" }]));
  const err = await t.stack.preview({ diff: true, color: "never" }).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(err, "the preview must fail");
  // The Automation API keeps the CLI's output on the error it throws.
  const result = (err as unknown as { commandResult: { stdout: string; stderr: string } }).commandResult;
  // Only the errors: how far the preview got before stopping varies from run to run.
  const errors = `${result.stdout}\n${result.stderr}`
    .split("\n")
    .filter((l) => l.startsWith("error:"))
    .join("\n");
  compare("preview-refused.txt", normalize(errors));
  assert.match(result.stdout + result.stderr, /encoding: cannot change from "UTF8" to "LATIN1"/);
});

test("the README shows the previews exactly as the CLI renders them", () => {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Reviewing changes"));
  const blocks = [...section.matchAll(/^```text\n([\s\S]*?)\n```$/gm)].map((m) => m[1]);
  assert.equal(blocks.length, 2);
  assert.ok(readFileSync(join(GOLDEN, "preview-changes.txt"), "utf8").includes(blocks[0]), "README owner-change preview is stale");
  assert.equal(`${blocks[1]}\n`, readFileSync(join(GOLDEN, "preview-refused.txt"), "utf8"), "README refused preview is stale");
});

test("what the preview shows is what up runs", async () => {
  await t.stack.setConfig("pg-kopf:databases", dbs([{ ...app, owner: "new_owner" }, { name: "old_reports" }]));
  const preview = await t.stack.preview({ diff: true, color: "never" });
  const shown = /ALTER DATABASE \\"app\\" OWNER TO \\"new_owner\\"/.test(preview.stdout);
  assert.ok(shown, preview.stdout);
  const before = (await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_database"))[0].n;
  const up = await t.stack.up({ color: "never" });
  assert.equal(up.summary.resourceChanges?.update, 1);
  assert.deepEqual(await pg.query("SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = 'app'"), [{ o: "new_owner" }]);
  assert.equal(
    (await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_database"))[0].n,
    before,
    "nothing else was created or dropped",
  );
  // The state records the statements the update ran: the same ones the preview showed.
  const state = JSON.parse(t.cli(["stack", "export"]));
  const res = state.deployment.resources.find((r: { urn: string }) => r.urn.endsWith("::db-app"));
  assert.deepEqual(res.inputs.plannedSql, ['ALTER DATABASE "app" OWNER TO "new_owner"']);
});

// Regression: a replacement previewed only the CREATE of the new database; up then dropped the old one. The engine
// checks a replacement twice and shows the second check, made without the old inputs.
// The refusal's remedy is followed here: a retained database is replaced only after an up that records delete.
test("preview of a replacement lists the DROP of the old database first", async () => {
  const temp = { name: "temp", reclaimPolicy: "retain", encoding: "UTF8" };
  const withTemp = (d: object) => dbs([{ ...app, owner: "new_owner" }, { name: "old_reports" }, d]);
  await t.stack.setConfig("pg-kopf:databases", withTemp(temp));
  await t.stack.up({ color: "never" });
  const changed = { encoding: "SQL_ASCII", template: "template0" };
  await t.stack.setConfig("pg-kopf:databases", withTemp({ ...temp, ...changed }));
  const refused = await t.stack.preview({ color: "never" }).then(
    () => "",
    (e: { commandResult?: { stdout: string; stderr: string } }) => `${e.commandResult?.stdout}${e.commandResult?.stderr}`,
  );
  assert.match(refused, /first run pulumi up with reclaimPolicy: delete and the old value, then change it/);
  await t.stack.setConfig("pg-kopf:databases", withTemp({ ...temp, reclaimPolicy: "delete" }));
  await t.stack.up({ color: "never" });
  await t.stack.setConfig("pg-kopf:databases", withTemp({ ...temp, reclaimPolicy: "delete", ...changed }));
  const preview = await t.stack.preview({ diff: true, color: "never" });
  compare("preview-replace.txt", normalize(preview.stdout));
  // What up runs, in order: the DROP of the old database, then the new one.
  // (The last up planned nothing, so each statement shows as added.)
  assert.match(preview.stdout, /\[0\]: "\[destructive\] DROP DATABASE IF EXISTS \\"temp\\""/);
  assert.match(preview.stdout, /\[1\]: "CREATE DATABASE \\"temp\\" WITH TEMPLATE \\"template0\\" ENCODING 'SQL_ASCII'"/);
});
