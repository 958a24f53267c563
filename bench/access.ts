// Benchmark: access levels for N roles (default 50) on one database with tables in two schemas: the core's
// converge (observe inside the database, plan, apply in one transaction, observe again) against psql running the
// same statements in one transaction on an identical database; then a converge with nothing to do. Prints times
// and ratios.
// Usage: npm run bench:access [-- N]
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as core from "../core";
import { startPostgres } from "../test/harness/postgres";
import { runPsql } from "./measure";

const N = Number(process.argv[2] ?? 50);
const TABLES = 20;
const ctx = { manager: "bench:access" };
const roles = Array.from({ length: N }, (_, i) => `bench_role_${i}`);

function spec(name: string): core.PgDatabaseSpec {
  const r = core.parseDatabaseSpec({
    name,
    owner: "bench_owner",
    schemas: [{ name: "app" }],
    access: roles.map((role, i) => ({ role, level: i % 2 ? "write" : "read" })),
  });
  if (!r.ok) throw new Error(JSON.stringify(r.failures));
  return r.spec;
}

async function main() {
  const pg = await startPostgres();
  const settings = pg.settings();
  try {
    await pg.query(`CREATE ROLE bench_owner; ${roles.map((r) => `CREATE ROLE ${r};`).join(" ")}`);
    // Two identical databases, each with its schema and tables, as migrations would have left them.
    for (const db of ["floor_db", "core_db"]) {
      await pg.query(`CREATE DATABASE ${db} OWNER bench_owner`);
      await pg.query(`COMMENT ON DATABASE ${db} IS '${core.ownershipStamp(ctx.manager)}'`);
      const tables = Array.from({ length: TABLES }, (_, i) => `CREATE TABLE ${i % 2 ? "app" : "public"}.t${i} (id serial, v text);`);
      await pg.query(`SET ROLE bench_owner; CREATE SCHEMA app; ${tables.join(" ")} RESET ROLE;`, [], db);
    }
    // The floor: the statements the core plans, run by psql in one transaction.
    const floorSpec = spec("floor_db");
    const steps = core.planDatabase(floorSpec, await core.observeDatabaseFor(settings, floorSpec), ctx);
    const file = join(mkdtempSync(join(tmpdir(), "pg-kopf-bench-")), "access.sql");
    writeFileSync(file, ["BEGIN;", ...steps.map((s) => `${core.databaseStepSql(s)};`), "COMMIT;"].join("\n"));
    const timed = async (fn: () => unknown) => {
      const t = performance.now();
      await fn();
      return performance.now() - t;
    };
    const floor = await timed(() => runPsql(pg, file, "floor_db"));
    const coreSpec = spec("core_db");
    let statements = 0;
    const converge = await timed(async () => {
      statements = (await core.convergeDatabase(settings, coreSpec, ctx)).steps.length;
    });
    const noop = await timed(() => core.convergeDatabase(settings, coreSpec, { ...ctx, previous: { access: coreSpec.access } }));

    const row = (label: string, ms: number) => `${label.padEnd(52)} ${(ms / 1000).toFixed(3).padStart(7)} s  x${(ms / floor).toFixed(2)}`;
    console.log(
      `pg-kopf access bench: ${N} roles (read and write), ${TABLES} tables in 2 schemas, ${statements} statements, PostgreSQL 15`,
    );
    console.log(row("psql, the same statements, one transaction (floor)", floor));
    console.log(row("core converge (observe, plan, apply, observe)", converge));
    console.log(row("core converge, nothing to do (observe, plan)", noop));
  } finally {
    pg.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
