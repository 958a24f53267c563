// What each PgDatabase costs in the Pulumi state, and the up / no-op preview / destroy of N databases, for pg-kopf
// installed in a project's node_modules (the provider recorded by reference) beside the same program run from this
// repository (the provider recorded by value, as every state was before docs/adr/0023), in one run on one Postgres.
// `npm run bench:pulumi-state [-- N]` (default 50).
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { startPostgres } from "../test/harness/postgres";
import { REPO } from "../test/harness/project";
import { benchProject, packRepository, pgKopfConfig, scratchDir, stateFigures } from "./pulumiProject";

const n = Number(process.argv[2] ?? 50);
const DATABASE = "pulumi-nodejs:dynamic/pg:Database";

async function main() {
  const pg = await startPostgres();
  // The same program twice: pg-kopf from node_modules, and from this repository's build (found from the checkout).
  const installed = scratchDir("installed", (dir) => ({ "pg-kopf": packRepository(dir) }));
  const inRepository = join(REPO, "dist", `bench-project-${randomBytes(4).toString("hex")}`);
  mkdirSync(inRepository, { recursive: true });
  const layouts = [
    { label: "installed package (by reference)", dir: installed, from: "pg-kopf" },
    { label: "this repository (by value)", dir: inRepository, from: join(REPO, "dist", "provider") },
  ];
  try {
    const figures: Record<string, number>[] = [];
    for (const layout of layouts) {
      const program =
        `const { PgDatabase } = require(${JSON.stringify(layout.from)});\n` +
        `for (let i = 0; i < ${n}; i++) new PgDatabase("db" + i, { name: "bench_state_" + i, reclaimPolicy: "delete" });\n`;
      const project = benchProject(layout.dir, pg, program, pgKopfConfig(pg));
      const up = project.pulumi(["up", "--yes", "--skip-preview"]);
      const preview = project.pulumi(["preview", "--expect-no-changes"]);
      const state = stateFigures(project, DATABASE);
      const destroy = project.pulumi(["destroy", "--yes", "--skip-preview"]);
      figures.push({ up, preview, destroy, ...state });
    }
    const kb = (b: number) => `${(b / 1024).toFixed(2)} KB`;
    const cells = (f: Record<string, number>) => [
      kb(f.perResource),
      kb(f.providerPerResource),
      kb(f.checkpoint),
      `${f.up.toFixed(1)} s`,
      `${f.preview.toFixed(1)} s`,
      `${f.destroy.toFixed(1)} s`,
    ];
    const line = (label: string, values: string[]) => console.log(`${label.padEnd(34)} ${values.map((v) => v.padStart(11)).join(" ")}`);
    console.log(
      `${n} PgDatabases: state per database (of it the serialized provider, inputs and outputs), the checkpoint, up, no-op preview, destroy`,
    );
    line("", ["state", "provider", "file", "up", "preview", "destroy"]);
    for (const [i, layout] of layouts.entries()) line(layout.label, cells(figures[i]));
    const keys = ["perResource", "providerPerResource", "checkpoint", "up", "preview", "destroy"];
    line(
      "installed / repository",
      keys.map((k) => `x${(figures[0][k] / figures[1][k]).toFixed(2)}`),
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
