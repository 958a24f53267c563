// Benchmark: create and drop N databases through the core (observe, plan, apply, observe per database) and
// through bare psql running the same statements, on a throwaway PostgreSQL 15. Prints times and ratios.
// Usage: npm run bench [-- N]
import { spawnSync } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as core from "../core";
import { startPostgres } from "../scripts/local/postgres";

const N = Number(process.argv[2] ?? 100);
const ctx = { manager: "bench:databases" };

function spec(i: number, prefix: string): core.PgDatabaseSpec {
  const r = core.parseSpec({ name: `${prefix}_${i}`, reclaimPolicy: "delete" });
  if (!r.ok) throw new Error("bad spec");
  return r.spec;
}

async function main() {
  const pg = await startPostgres();
  const settings = pg.settings();
  try {
    let t = performance.now();
    for (let i = 0; i < N; i++) await core.converge(settings, spec(i, "core"), ctx);
    const coreCreate = performance.now() - t;
    t = performance.now();
    for (let i = 0; i < N; i++) await core.reclaim(settings, spec(i, "core"), ctx);
    const coreDrop = performance.now() - t;

    // The same statements the core runs, from the same planner, fed to psql.
    const creates = Array.from({ length: N }, (_, i) => core.plan(spec(i, "psql"), undefined, ctx).map(core.stepSql).join(";\n") + ";");
    const drops = Array.from({ length: N }, (_, i) => core.stepSql({ kind: "dropDatabase", database: `psql_${i}`, force: false }) + ";");
    const dir = mkdtempSync(join(tmpdir(), "pg-kopf-bench-"));
    const psql = (file: string) => {
      // The password goes through the environment, never the command line.
      const r = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.host, "-p", String(pg.port), "-U", pg.user, "-d", "postgres", "-f", file], {
        env: { ...process.env, PGPASSWORD: pg.password },
        encoding: "utf8",
      });
      if (r.status !== 0) throw new Error(r.stderr);
    };
    writeFileSync(join(dir, "create.sql"), creates.join("\n"));
    writeFileSync(join(dir, "drop.sql"), drops.join("\n"));
    t = performance.now();
    psql(join(dir, "create.sql"));
    const psqlCreate = performance.now() - t;
    t = performance.now();
    psql(join(dir, "drop.sql"));
    const psqlDrop = performance.now() - t;

    // A psql process per database, as a shell loop would do it.
    t = performance.now();
    for (let i = 0; i < N; i++) {
      writeFileSync(join(dir, "one.sql"), creates[i].replaceAll("psql_", "loop_"));
      psql(join(dir, "one.sql"));
    }
    const loopCreate = performance.now() - t;

    const row = (label: string, ms: number, floor: number) =>
      `${label.padEnd(44)} ${(ms / 1000).toFixed(2).padStart(7)} s  ${(ms / N).toFixed(1).padStart(6)} ms/db  x${(ms / floor).toFixed(2)}`;
    console.log(`pg-kopf bench: ${N} databases, PostgreSQL 15 on loopback, ${process.version}`);
    console.log(row("core create (observe+plan+apply+observe)", coreCreate, psqlCreate));
    console.log(row("psql, one session (floor)", psqlCreate, psqlCreate));
    console.log(row("psql, one process per database", loopCreate, psqlCreate));
    console.log(row("core drop (reclaim: observe+sessions+drop)", coreDrop, psqlDrop));
    console.log(row("psql drop, one session (floor)", psqlDrop, psqlDrop));
    console.log(`ratio core/psql: create ${(coreCreate / psqlCreate).toFixed(2)}, drop ${(coreDrop / psqlDrop).toFixed(2)}`);
  } finally {
    pg.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
