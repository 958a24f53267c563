// Benchmark: create and drop N databases through the core (observe, plan, apply, observe per database) and
// through bare psql running the same statements, on a throwaway PostgreSQL 15. Prints times and ratios.
// Usage: npm run bench [-- N]
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as core from "../core";
import { startPostgres } from "../test/harness/postgres";
import { createSql, runPsql } from "./measure";

const N = Number(process.argv[2] ?? 100);
const ctx = { manager: "bench:databases" };

function spec(i: number, prefix: string): core.PgDatabaseSpec {
  const r = core.parseDatabaseSpec({ name: `${prefix}_${i}`, reclaimPolicy: "delete" });
  if (!r.ok) throw new Error("bad spec");
  return r.spec;
}

async function main() {
  const pg = await startPostgres();
  const settings = pg.settings();
  const pooled = core.withPool(pg.settings(), 2);
  const dir = mkdtempSync(join(tmpdir(), "pg-kopf-bench-"));
  const psql = (file: string) => runPsql(pg, file);
  // CREATE DATABASE writes the template's pages to the WAL, so checkpoints come every few dozen databases and
  // cost whoever runs then. Each phase starts from a fresh checkpoint so they all pay alike.
  const timed = async (fn: () => Promise<void> | void): Promise<number> => {
    await pg.query("CHECKPOINT");
    const t = performance.now();
    await fn();
    return performance.now() - t;
  };
  // The same statements the core runs, from the same planner, fed to psql.
  const sqlFor = (prefix: string, i: number) => createSql(`${prefix}_${i}`, ctx.manager);
  const sqlFile = (name: string, lines: string[]) => {
    const file = join(dir, name);
    writeFileSync(file, lines.join("\n"));
    return file;
  };
  const range = Array.from({ length: N }, (_, i) => i);
  try {
    const psqlCreate = await timed(() =>
      psql(
        sqlFile(
          "create.sql",
          range.map((i) => sqlFor("psql", i)),
        ),
      ),
    );
    const coreCreate = await timed(async () => {
      for (const i of range) await core.convergeDatabase(settings, spec(i, "core"), ctx);
    });
    const pooledCreate = await timed(async () => {
      for (const i of range) await core.convergeDatabase(pooled, spec(i, "pooled"), ctx);
    });
    const noop = await timed(async () => {
      for (const i of range) await core.convergeDatabase(pooled, spec(i, "pooled"), ctx);
    });
    // A psql process per database, as a shell loop would do it.
    const loopFiles = range.map((i) => sqlFile(`loop_${i}.sql`, [sqlFor("loop", i)]));
    const loopCreate = await timed(() => loopFiles.forEach(psql));

    const psqlDrop = await timed(() =>
      psql(
        sqlFile(
          "drop.sql",
          range.map((i) => `${core.databaseStepSql({ kind: "dropDatabase", database: `psql_${i}`, force: false })};`),
        ),
      ),
    );
    const coreDrop = await timed(async () => {
      for (const i of range) await core.reclaimDatabase(settings, spec(i, "core"), ctx);
    });

    const row = (label: string, ms: number, floor: number) =>
      `${label.padEnd(48)} ${(ms / 1000).toFixed(2).padStart(7)} s  ${(ms / N).toFixed(1).padStart(6)} ms/db  x${(ms / floor).toFixed(2)}`;
    console.log(`pg-kopf bench: ${N} databases, PostgreSQL 15 on loopback, ${process.version}`);
    console.log(row("psql, one session (floor)", psqlCreate, psqlCreate));
    console.log(row("core create, connection per database", coreCreate, psqlCreate));
    console.log(row("core create, pooled connection (controller)", pooledCreate, psqlCreate));
    console.log(row("psql, one process per database", loopCreate, psqlCreate));
    console.log(row("core, nothing to do (observe+plan), pooled", noop, psqlCreate));
    console.log(row("psql drop, one session (floor)", psqlDrop, psqlDrop));
    console.log(row("core drop (reclaim: observe+sessions+drop)", coreDrop, psqlDrop));
    console.log(
      `ratio core/psql: create ${(coreCreate / psqlCreate).toFixed(2)} (pooled ${(pooledCreate / psqlCreate).toFixed(2)}), drop ${(coreDrop / psqlDrop).toFixed(2)}`,
    );
  } finally {
    await pooled.pool!.end();
    pg.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
