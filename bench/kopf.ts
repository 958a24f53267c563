// The kopf side of the controller benchmark: the seed's operator (bench/kopf/operator.py) in a Python environment
// of its own, with kopf and psycopg2 at pinned versions (pip), run standalone against the same API server and
// Postgres, kept running across rounds as a deployed operator would be.
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { KubeClient } from "../controller/kube/client";
import type { TestCluster } from "../test/harness/cluster";
import type { TestPostgres } from "../test/harness/postgres";
import { RssSampler } from "./measure";
import { type BenchObject, createAll } from "./objects";

const PACKAGES = ["kopf==1.45.2", "psycopg2-binary==2.9.13"];

/** The virtual environment with kopf, made once under the toolchain cache. Returns its bin folder. */
function kopfEnv(): string {
  const venv = join(process.env.PGKOPF_CACHE ?? join(homedir(), ".cache", "pg-kopf"), `kopf-venv-${PACKAGES.join("-")}`);
  if (!existsSync(join(venv, "bin", "kopf"))) {
    execFileSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
    execFileSync(join(venv, "bin", "pip"), ["install", "-q", ...PACKAGES], { stdio: "inherit" });
  }
  return join(venv, "bin");
}

export interface KopfOperator {
  readonly rss: RssSampler;
  /** Creates the objects at once; resolves with the seconds until every database they name exists. */
  create(list: readonly BenchObject[]): Promise<number>;
  stop(): void;
}

/** Starts the kopf operator on `namespace` and waits until it has listed it. */
export async function startKopf(cluster: TestCluster, pg: TestPostgres, kube: KubeClient, namespace: string): Promise<KopfOperator> {
  const bin = kopfEnv();
  cluster.kubectl(["create", "namespace", namespace]);
  const child = spawn(
    join(bin, "kopf"),
    ["run", "--standalone", "--namespace", namespace, join(__dirname, "..", "..", "bench", "kopf", "operator.py")],
    {
      env: {
        PATH: `${bin}:${process.env.PATH}`,
        KUBECONFIG: cluster.kubeconfig,
        PGHOST: pg.host,
        PGPORT: String(pg.port),
        PGUSER: pg.user,
        PGPASSWORD: pg.password,
        PGDATABASE: "postgres",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  process.once("exit", () => child.kill("SIGKILL"));
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const deadline = Date.now() + 30_000;
  while (!/Initial listing|Processing|Resuming|activity\/startup/i.test(log) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1000));
  return {
    rss: new RssSampler(child.pid ?? 0),
    async create(list) {
      await pg.query("CHECKPOINT");
      const names = list.map((o) => o.database);
      const started = performance.now();
      await createAll(kube, namespace, list);
      const count = async () =>
        (await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_database WHERE datname = ANY($1)", [names]))[0].n;
      while ((await count()) < list.length) {
        if (performance.now() - started > 300_000)
          throw new Error(`kopf did not create ${list.length} databases in 5 minutes:\n${log.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return (performance.now() - started) / 1000;
    },
    stop() {
      child.kill("SIGTERM");
    },
  };
}
