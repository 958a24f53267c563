// The Pulumi side of the benchmark: `pulumi up` of N databases, a no-op `preview` and `destroy`, with the plain CLI
// and this project's program, beside the engine's fixed cost (the same commands on a stack that declares nothing)
// and psql running the same statements in one session.
import { escapeIdentifier } from "pg";
import { startPostgres } from "../test/harness/postgres";
import type { TestPostgres } from "../test/harness/postgres";
import { createCliStack } from "../test/harness/project";
import { localStackConfig } from "../test/harness/pulumi";
import { psqlFile, psqlFloor } from "./measure";

export interface PulumiFigures {
  readonly n: number;
  readonly up: number;
  readonly preview: number;
  readonly destroy: number;
  /** The same commands on a stack with no databases: what the engine costs whatever the program does. */
  readonly empty: { up: number; preview: number; destroy: number };
  readonly floor: { create: number; drop: number };
}

function timed(run: () => void): number {
  const started = performance.now();
  run();
  return (performance.now() - started) / 1000;
}

export async function benchPulumi(pg: TestPostgres, n: number): Promise<PulumiFigures> {
  const names = Array.from({ length: n }, (_, i) => `pulumi_${i}`);
  const commands = (databases: object[], name: string) => {
    const stack = createCliStack(name, pg, localStackConfig(pg, databases));
    try {
      return {
        up: timed(() => stack.run(["up", "--yes", "--skip-preview"])),
        preview: timed(() => stack.run(["preview", "--expect-no-changes"])),
        destroy: timed(() => stack.run(["destroy", "--yes", "--skip-preview"])),
      };
    } finally {
      stack.destroyDir();
    }
  };
  const empty = commands([], "bench-empty");
  const full = commands(
    names.map((name) => ({ name, reclaimPolicy: "delete" })),
    "bench-databases",
  );
  const remaining = await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_database WHERE datname = ANY($1)", [names]);
  if (remaining[0].n !== 0) throw new Error(`pulumi destroy left ${remaining[0].n} databases`);
  const create = await psqlFloor(pg, names);
  const drop = await psqlFile(pg, names.map((name) => `DROP DATABASE ${escapeIdentifier(name)};`).join("\n"));
  return { n, ...full, empty, floor: { create, drop } };
}

/** On its own: node dist/bench/pulumi.js [N]. */
if (require.main === module) {
  (async () => {
    if (!process.env.TMPDIR) process.env.TMPDIR = "/dev/shm";
    const pg = await startPostgres();
    try {
      const p = await benchPulumi(pg, Number(process.argv[2] ?? 50));
      console.log(JSON.stringify(p, (_k, v) => (typeof v === "number" ? Number(v.toFixed(2)) : v), 1));
    } finally {
      pg.destroy();
    }
  })().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
