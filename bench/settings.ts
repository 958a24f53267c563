// Settings: what a database with settings and role settings costs to converge, and to re-check when nothing changed,
// against psql running the same statements (the floor) on one Postgres. `npm run bench:settings [-- N]`: N
// databases (default 20), each with 8 settings and 2 roles' settings.
import * as core from "../core";
import { startPostgres } from "../test/harness/postgres";
import { psqlFile } from "./measure";

const n = Number(process.argv[2] ?? 20);
const config = {
  statement_timeout: "30s",
  lock_timeout: "5s",
  work_mem: "64MB",
  search_path: "app, public",
  timezone: "UTC",
  default_transaction_isolation: "read committed",
  idle_in_transaction_session_timeout: "1min",
  random_page_cost: "1.1",
};
const roleConfig = { reporting: { work_mem: "256MB", statement_timeout: "5min" }, loader: { maintenance_work_mem: "1GB" } };

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

async function main() {
  const pg = await startPostgres();
  try {
    const settings = pg.settings();
    for (const r of Object.keys(roleConfig)) await pg.query(`CREATE ROLE ${r}`);
    const ctx = { manager: "bench:settings" };
    const spec = (name: string) => {
      const r = core.parseDatabaseSpec({ name, config, roleConfig });
      if (!r.ok) throw new Error(JSON.stringify(r.failures));
      return r.spec;
    };
    // The floor: psql running the planner's statements for the same databases (CREATE, stamp, every SET), one session.
    const statements: string[] = [];
    for (let i = 0; i < n; i++)
      statements.push(...core.planDatabase(spec(`floor_${i}`), undefined, ctx).map((s) => `${core.databaseStepSql(s)};`));
    const floor = (await psqlFile(pg, statements.join("\n"))) * 1000;
    await pg.query("CHECKPOINT");
    const create = await timed(async () => {
      for (let i = 0; i < n; i++) await core.convergeDatabase(settings, spec(`core_${i}`), ctx);
    });
    const noop = await timed(async () => {
      for (let i = 0; i < n; i++) {
        const s = spec(`core_${i}`);
        const { steps } = await core.convergeDatabase(settings, s, { ...ctx, previous: { config: s.config, roleConfig: s.roleConfig } });
        if (steps.length) throw new Error(`no-op converge ran ${steps.length} steps`);
      }
    });
    const row = (label: string, ms: number) => `${label.padEnd(58)} ${(ms / 1000).toFixed(3).padStart(7)} s  x${(ms / floor).toFixed(2)}`;
    console.log(`${n} databases, each with ${Object.keys(config).length} settings and ${Object.keys(roleConfig).length} roles' settings`);
    console.log(row("psql: CREATE DATABASE + the ALTER ... SET statements (floor)", floor));
    console.log(row("pg-kopf: converge (observe, plan, apply, observe)", create));
    console.log(row("pg-kopf: no-op converge (observe, plan: nothing to do)", noop));
  } finally {
    pg.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
