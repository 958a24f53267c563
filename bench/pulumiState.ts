// What each PgDatabase costs in the Pulumi state, and the up / no-op preview / destroy of N databases, for pg-kopf
// installed in a project's node_modules (the provider recorded by reference) beside the same program run from this
// repository (the provider recorded by value, as every state was before docs/adr/0023), in one run on one Postgres.
// `npm run bench:pulumi-state [-- N]` (default 50).
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPostgres, type TestPostgres } from "../test/harness/postgres";
import { REPO } from "../test/harness/project";

const n = Number(process.argv[2] ?? 50);
const manifest = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));

interface Layout {
  readonly label: string;
  readonly dir: string;
  /** How the program requires pg-kopf. */
  readonly from: string;
}

/** A project with pg-kopf installed from `npm pack`, as a platform team has it. */
function installedLayout(): Layout {
  const dir = mkdtempSync(join(tmpdir(), "pg-kopf-bench-installed-"));
  const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: REPO, encoding: "utf8" })
    .trim()
    .split("\n")
    .pop();
  const dependencies = { "pg-kopf": `file:./${packed}`, "@pulumi/pulumi": manifest.dependencies["@pulumi/pulumi"] };
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "bench-installed", private: true, dependencies }));
  execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: "pipe" });
  return { label: "installed package (by reference)", dir, from: "pg-kopf" };
}

/** The same program inside this repository's build, where the provider is found from the checkout (by value). */
function repositoryLayout(): Layout {
  const dir = join(REPO, "dist", `bench-project-${randomBytes(4).toString("hex")}`);
  mkdirSync(dir, { recursive: true });
  return { label: "this repository (by value)", dir, from: join(REPO, "dist", "provider") };
}

function runner(layout: Layout, pg: TestPostgres) {
  writeFileSync(join(layout.dir, "Pulumi.yaml"), "name: bench-state\nruntime: nodejs\nmain: index.js\n");
  writeFileSync(
    join(layout.dir, "index.js"),
    `const { PgDatabase } = require(${JSON.stringify(layout.from)});\n` +
      `for (let i = 0; i < ${n}; i++) new PgDatabase("db" + i, { name: "bench_state_" + i, reclaimPolicy: "delete" });\n`,
  );
  const backend = join(layout.dir, ".state");
  mkdirSync(backend, { recursive: true });
  const passfile = join(layout.dir, "pgpass");
  pg.writePasswordFile(passfile);
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? layout.dir,
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: "bench",
    PULUMI_HOME: execFileSync("bash", [join(REPO, "scripts", "toolchain.sh"), "pulumi-home"], { encoding: "utf8" }).trim(),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
    PGPASSFILE: passfile,
  };
  const pulumi = (args: string[]): number => {
    const started = performance.now();
    const r = spawnSync("pulumi", [...args, "--stack", "bench", "--non-interactive"], { cwd: layout.dir, env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} (${layout.label}) failed:\n${r.stdout}${r.stderr}`);
    return (performance.now() - started) / 1000;
  };
  pulumi(["stack", "init"]);
  for (const [k, v] of [
    ["adminHost", pg.host],
    ["adminPort", String(pg.port)],
    ["adminUser", pg.user],
    ["adminSslMode", "disable"],
  ])
    pulumi(["config", "set", `pg-kopf:${k}`, v]);
  return { pulumi, backend };
}

/** The state's size per database resource, and what of it is the serialized provider. */
function stateFigures(layout: Layout, pulumi: (args: string[]) => number) {
  const file = join(layout.dir, "state.json");
  pulumi(["stack", "export", "--file", file]);
  const text = readFileSync(file, "utf8");
  const databases = JSON.parse(text).deployment.resources.filter((r: { type: string }) => r.type === "pulumi-nodejs:dynamic/pg:Database");
  const provider = databases.reduce(
    (sum: number, r: { inputs: { __provider: string }; outputs: { __provider: string } }) =>
      sum + r.inputs.__provider.length + r.outputs.__provider.length,
    0,
  );
  const resources = databases.reduce((sum: number, r: unknown) => sum + JSON.stringify(r).length, 0);
  return { checkpoint: text.length, perDatabase: resources / databases.length, providerPerDatabase: provider / databases.length };
}

async function main() {
  const pg = await startPostgres();
  const layouts = [installedLayout(), repositoryLayout()];
  try {
    const rows: string[] = [];
    const figures: Record<string, number>[] = [];
    for (const layout of layouts) {
      const { pulumi } = runner(layout, pg);
      const up = pulumi(["up", "--yes", "--skip-preview"]);
      const preview = pulumi(["preview", "--expect-no-changes"]);
      const state = stateFigures(layout, pulumi);
      const destroy = pulumi(["destroy", "--yes", "--skip-preview"]);
      figures.push({ up, preview, destroy, ...state });
      rows.push(
        `${layout.label.padEnd(34)} ${(state.perDatabase / 1024).toFixed(2).padStart(6)} KB  ${(state.providerPerDatabase / 1024).toFixed(2).padStart(6)} KB  ` +
          `${(state.checkpoint / 1024).toFixed(0).padStart(6)} KB  ${up.toFixed(1).padStart(6)} s  ${preview.toFixed(1).padStart(6)} s  ${destroy.toFixed(1).padStart(6)} s`,
      );
    }
    console.log(
      `${n} PgDatabases: state per database (of it the serialized provider, inputs and outputs), the checkpoint, up, no-op preview, destroy`,
    );
    console.log(
      `${"".padEnd(34)} ${"state".padStart(9)}  ${"provider".padStart(9)}  ${"file".padStart(9)}  ${"up".padStart(8)}  ${"preview".padStart(8)}  ${"destroy".padStart(8)}`,
    );
    for (const row of rows) console.log(row);
    const [a, b] = figures;
    const ratio = (k: string) => (a[k] / b[k]).toFixed(2);
    console.log(
      `${"installed / repository".padEnd(34)} ${`x${ratio("perDatabase")}`.padStart(9)}  ${`x${ratio("providerPerDatabase")}`.padStart(9)}  ` +
        `${`x${ratio("checkpoint")}`.padStart(9)}  ${`x${ratio("up")}`.padStart(8)}  ${`x${ratio("preview")}`.padStart(8)}  ${`x${ratio("destroy")}`.padStart(8)}`,
    );
  } finally {
    pg.destroy();
    for (const layout of layouts) rmSync(layout.dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
