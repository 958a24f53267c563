// What a preview refuses before anything is created, through the real pulumi CLI, and how it says it: once, naming
// the setting or the output to pass, without a stack trace.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PgDatabase, PgRole } from "../../provider";
import { startPostgres, type TestPostgres } from "../harness/postgres";
import { createTestStack, localStackConfig, type TestStack } from "../harness/pulumi";

let pg: TestPostgres;
const stacks: TestStack[] = [];

/** The preview's whole output, and whether it failed. */
async function preview(t: TestStack): Promise<{ ok: boolean; out: string }> {
  let out = "";
  try {
    await t.stack.preview({ onOutput: (s) => (out += s) });
    return { ok: true, out };
  } catch {
    return { ok: false, out };
  }
}
const count = (text: string, part: string) => text.split(part).length - 1;
/** The Diagnostics section of a preview's output: what the engine reports of each resource, once. */
const diagnostics = (out: string) => out.slice(out.indexOf("Diagnostics:"), out.indexOf("Resources:", out.indexOf("Diagnostics:")));
/** A line of a JavaScript stack trace ("    at f (/path/file.js:1:2)"). */
const STACK_LINE = /^\s+at .*\.js:\d+:\d+\)?$/m;

async function stack(name: string, run: () => void, config = localStackConfig(pg, [])): Promise<TestStack> {
  const t = await createTestStack(name, config, pg, run);
  stacks.push(t);
  return t;
}

before(async () => {
  pg = await startPostgres();
});
after(() => {
  for (const t of stacks) t.destroyDir();
  pg?.destroy();
});

describe("a preview refuses, before anything is created", () => {
  // Regression: a database naming a role that neither exists nor is declared previewed as fine, and up failed after
  // CREATE DATABASE, with a message saying the role "is created first".
  test("a database whose owner is neither in Postgres nor declared: the preview fails naming the output to pass", async () => {
    const t = await stack("ghost-owner", () => {
      new PgDatabase("db", { name: "ghost_db", owner: "ghost_owner" });
    });
    const { ok, out } = await preview(t);
    assert.equal(ok, false, out);
    assert.match(
      out,
      /owner: role "ghost_owner" does not exist yet; if a PgRole of this program creates it, pass that PgRole's name output \(owner: role\.name\)/,
    );
    assert.doesNotMatch(out, STACK_LINE);
    assert.deepEqual(await pg.query("SELECT 1 FROM pg_database WHERE datname = 'ghost_db'"), []);
  });

  test("a database whose owner is a PgRole's name output: previewed, then up creates the role first", async () => {
    const t = await stack("owner-output", () => {
      const owner = new PgRole("owner", { name: "output_owner", login: false, reclaimPolicy: "delete" });
      new PgDatabase("db", { name: "output_db", owner: owner.name, reclaimPolicy: "delete" });
    });
    const { ok, out } = await preview(t);
    assert.equal(ok, true, out);
    await t.stack.up({ onOutput: () => undefined });
    const [db] = await pg.query<{ o: string }>("SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = 'output_db'");
    assert.equal(db?.o, "output_owner");
    await t.stack.destroy({ onOutput: () => undefined });
  });

  // Regression: the message was printed twice, followed by a ten-line stack trace.
  test("no admin connection configured: the setting to set, once, without a stack trace", async () => {
    const { adminHost: _, ...config } = localStackConfig(pg, []);
    const t = await stack(
      "no-host",
      () => {
        new PgDatabase("db", { name: "nohost_db" });
      },
      config,
    );
    const { ok, out } = await preview(t);
    assert.equal(ok, false, out);
    assert.match(out, /pg-kopf:adminHost: no admin connection configured: set it with "pulumi config set pg-kopf:adminHost <host>"/);
    assert.equal(count(diagnostics(out), "no admin connection configured"), 1, out);
    assert.doesNotMatch(out, STACK_LINE);
  });
});
