// pg-kopf's PgDatabase beside the anchor, @pulumi/postgresql's Database (the bridged Terraform provider, built from
// ../shared/vendor by scripts/toolchain.sh postgresql-plugin), in one run on one Postgres: the same N databases
// through both, `pulumi up`, a no-op `pulumi preview` and `pulumi destroy`, with `refresh: always` and without, rounds
// alternated (who goes first changes every round). Prints each round's ratio, the medians and their ratio, the
// state per database, and the growth of the per-database cost from N to the large N.
// `npm run bench:pulumi` (BENCH_PULUMI_DATABASES=50, BENCH_PULUMI_ROUNDS=3, BENCH_PULUMI_LARGE=500; 0 skips the large run)
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startPostgres, type TestPostgres } from "../test/harness/postgres";
import { REPO } from "../test/harness/project";
import { type BenchProject, benchProject, packRepository, pgKopfConfig, scratchDir, stateFigures } from "./pulumiProject";

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const N = env("BENCH_PULUMI_DATABASES", 50);
const ROUNDS = env("BENCH_PULUMI_ROUNDS", 3);
const LARGE = env("BENCH_PULUMI_LARGE", 500);
const ANCHOR_VERSION = "3.18.0";
type Op = "up" | "preview" | "destroy";
const OPS: Op[] = ["up", "preview", "destroy"];

interface Contestant {
  readonly label: string;
  readonly dir: string;
  readonly program: (n: number) => string;
  readonly config: Record<string, string>;
  readonly type: string;
}

function contestants(pg: TestPostgres): Contestant[] {
  const kopf = scratchDir("pg-kopf", (dir) => ({ "pg-kopf": packRepository(dir) }));
  const anchor = scratchDir("anchor", () => ({ "@pulumi/postgresql": ANCHOR_VERSION }));
  return [
    {
      label: "pg-kopf",
      dir: kopf,
      type: "pulumi-nodejs:dynamic/pg:Database",
      config: pgKopfConfig(pg),
      program: (n) =>
        `const { PgDatabase } = require("pg-kopf");\n` +
        `for (let i = 0; i < ${n}; i++) new PgDatabase("db" + i, { name: "bench_kopf_" + i, reclaimPolicy: "delete" });\n`,
    },
    {
      label: "anchor",
      dir: anchor,
      type: "postgresql:index/database:Database",
      config: {},
      // The admin connection as the anchor takes it: its provider's inputs, the password from PGPASSWORD.
      program: (n) =>
        `const postgresql = require("@pulumi/postgresql");\n` +
        `const provider = new postgresql.Provider("pg", { host: ${JSON.stringify(pg.host)}, port: ${pg.port}, username: ${JSON.stringify(pg.user)}, sslmode: "disable", superuser: ${pg.admin === "superuser"} });\n` +
        `for (let i = 0; i < ${n}; i++) new postgresql.Database("db" + i, { name: "bench_anchor_" + i }, { provider });\n`,
    },
  ];
}

/** One contestant's up, no-op preview and destroy of n databases, with Pulumi.yaml's refresh option as given. */
function run(c: Contestant, pg: TestPostgres, n: number, refresh: boolean): { times: Record<Op, number>; project: BenchProject } {
  const project = benchProject(c.dir, pg, c.program(n), c.config, refresh ? { refresh: "always" } : {});
  const up = project.pulumi(["up", "--yes"]);
  const preview = project.pulumi(["preview", "--expect-no-changes"]);
  return { times: { up, preview, destroy: Number.NaN }, project };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function side(pg: TestPostgres, cs: Contestant[], refresh: boolean) {
  const times: Record<string, Record<Op, number[]>> = Object.fromEntries(cs.map((c) => [c.label, { up: [], preview: [], destroy: [] }]));
  const rounds: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? cs : [...cs].reverse();
    const thisRound: Record<string, Record<Op, number>> = {};
    for (const c of order) {
      const { times: t, project } = run(c, pg, N, refresh);
      t.destroy = project.pulumi(["destroy", "--yes"]);
      thisRound[c.label] = t;
      for (const op of OPS) times[c.label][op].push(t[op]);
    }
    rounds.push(OPS.map((op) => `${op} x${(thisRound["pg-kopf"][op] / thisRound.anchor[op]).toFixed(2)}`).join("  "));
  }
  console.log(`\n${N} databases, ${refresh ? "refresh: always" : "no refresh"}, ${ROUNDS} rounds (median seconds; pg-kopf / anchor)`);
  for (const [i, r] of rounds.entries()) console.log(`  round ${i + 1} (${i % 2 === 0 ? "pg-kopf" : "anchor"} first): ${r}`);
  for (const op of OPS) {
    const [k, a] = [median(times["pg-kopf"][op]), median(times.anchor[op])];
    console.log(`  ${op.padEnd(8)} pg-kopf ${k.toFixed(2).padStart(6)} s   anchor ${a.toFixed(2).padStart(6)} s   x${(k / a).toFixed(2)}`);
  }
  return Object.fromEntries(cs.map((c) => [c.label, median(times[c.label].up)]));
}

async function main() {
  execFileSync("bash", [join(REPO, "scripts", "toolchain.sh"), "postgresql-plugin"], { stdio: "inherit" });
  const pg = await startPostgres();
  const cs = contestants(pg);
  try {
    side(pg, cs, true);
    // The per-database cost at the large N is compared with this one: the same command, without refresh.
    const upAt = side(pg, cs, false);
    // The state per database, from one more up of each.
    console.log(`\nstate per database (${N} databases)`);
    for (const c of cs) {
      const { project } = run(c, pg, N, false);
      const s = stateFigures(project, c.type);
      project.pulumi(["destroy", "--yes", "--skip-preview"]);
      console.log(
        `  ${c.label.padEnd(8)} ${(s.perResource / 1024).toFixed(2)} KB (of it the serialized provider ${(s.providerPerResource / 1024).toFixed(2)} KB)`,
      );
    }
    if (LARGE > 0) {
      console.log(
        `\n${LARGE} databases, no refresh, one round: up / no-op preview / destroy --skip-preview (s), and the up per database against ${N}'s without refresh`,
      );
      for (const c of cs) {
        const project = benchProject(c.dir, pg, c.program(LARGE), c.config);
        const up = project.pulumi(["up", "--yes"]);
        const preview = project.pulumi(["preview", "--expect-no-changes"]);
        const destroy = project.pulumi(["destroy", "--yes", "--skip-preview"]);
        const growth = up / LARGE / (upAt[c.label] / N);
        console.log(
          `  ${c.label.padEnd(8)} ${up.toFixed(1).padStart(6)} / ${preview.toFixed(1).padStart(6)} / ${destroy.toFixed(1).padStart(6)}   per-database cost x${growth.toFixed(2)}`,
        );
      }
    }
  } finally {
    pg.destroy();
    for (const c of cs) rmSync(c.dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
