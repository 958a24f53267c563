// pg-kopf as a platform team uses it: packed with npm pack, installed into a Pulumi project of its own (named
// otherwise), `import { PgDatabase } from "pg-kopf"`, and the plain `pulumi up` / `destroy` against a real PostgreSQL.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { startPostgres, type TestPostgres } from "../../scripts/local/postgres";
import { REPO } from "../../scripts/local/project";

let pg: TestPostgres;
let dir: string;
let env: Record<string, string>;

const pulumi = (args: string[]) => {
  const r = spawnSync("pulumi", [...args, "--stack", "prod", "--non-interactive", ...(args[0] === "stack" ? [] : ["--color", "never"])], {
    cwd: dir,
    env,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
};
const exists = async (name: string) => (await pg.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])).length === 1;

before(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), "platform-db-"));
  const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: REPO, encoding: "utf8" })
    .trim()
    .split("\n")
    .pop()!;
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "platform-db", private: true, dependencies: { "pg-kopf": `file:./${packed}` } }, null, 2),
  );
  // The packages are in npm's cache already (the repository installed them); nothing new is fetched.
  execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: "pipe" });
  writeFileSync(join(dir, "Pulumi.yaml"), "name: platform-db\nruntime: nodejs\nmain: index.js\n");
  writeFileSync(
    join(dir, "index.js"),
    [
      'const { PgDatabase, PgRole } = require("pg-kopf");',
      // A role too: its handlers load the installed package's every module they need (regression guard).
      'new PgRole("reporter", { name: "reporter", reclaimPolicy: "delete" });',
      'const orders = new PgDatabase("orders", { name: "orders", reclaimPolicy: "delete" });',
      'new PgDatabase("audit", { name: "audit" });',
      "exports.orders = orders.name;",
      "",
    ].join("\n"),
  );
  const backend = join(dir, ".state");
  mkdirSync(backend);
  const passfile = join(dir, "pgpass");
  pg.writePasswordFile(passfile);
  env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? dir,
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: randomBytes(12).toString("hex"),
    PULUMI_HOME: execFileSync("bash", [join(REPO, "scripts", "toolchain.sh"), "pulumi-home"], { encoding: "utf8" }).trim(),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
    PGPASSFILE: passfile,
  };
  pulumi(["stack", "init"]);
  // The documented keys, in the pg-kopf namespace, in a project called platform-db.
  pulumi(["config", "set", "pg-kopf:adminHost", pg.host]);
  pulumi(["config", "set", "pg-kopf:adminPort", String(pg.port)]);
  pulumi(["config", "set", "pg-kopf:adminUser", pg.user]);
  pulumi(["config", "set", "pg-kopf:adminSslMode", "disable"]);
});
after(() => pg?.destroy());

test("an installed pg-kopf manages databases from another project's plain pulumi up, and destroy follows reclaimPolicy", async () => {
  const up = pulumi(["up", "--yes"]);
  assert.match(up, /\+ 5 created|5 created/);
  assert.ok(await exists("orders"));
  assert.ok(await exists("audit"));
  const [{ c }] = await pg.query<{ c: string }>(
    "SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = 'orders'",
  );
  assert.equal(c, "managed by pg-kopf: pulumi:platform-db/prod");
  pulumi(["preview", "--expect-no-changes"]);
  pulumi(["destroy", "--yes"]);
  assert.ok(!(await exists("orders")), "reclaimPolicy delete drops it");
  assert.ok(await exists("audit"), "retain keeps it");
  assert.deepEqual(await pg.query("SELECT 1 FROM pg_roles WHERE rolname = 'reporter'"), []);
});
