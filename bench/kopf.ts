// The kopf side of the controller benchmark: the seed's operator (bench/kopf/operator.py) in a Python environment
// of its own, with kopf and psycopg2 at pinned versions (pip), run standalone against the same API server and
// Postgres. Measures the time until every database the objects name exists, and the operator's peak RSS.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { TestCluster } from "../scripts/local/cluster";
import type { TestPostgres } from "../scripts/local/postgres";

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

export interface KopfResult {
  readonly seconds: number;
  readonly peakRssMib: number;
}

/** Applies `n` objects in `namespace` and waits until kopf has created every database. */
export async function benchKopf(cluster: TestCluster, pg: TestPostgres, namespace: string, n: number): Promise<KopfResult> {
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
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  try {
    // Ready when it has listed the (empty) namespace.
    const deadline = Date.now() + 30_000;
    while (!/Initial listing|Processing|Resuming|activity\/startup/i.test(log) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000));
    const items = Array.from({ length: n }, (_, i) => ({
      apiVersion: "my.local/v1",
      kind: "PgDatabase",
      metadata: { name: `kopf-${i}`, namespace },
      spec: { name: `kopf_${i}` },
    }));
    await pg.query("CHECKPOINT");
    const t0 = performance.now();
    cluster.kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }));
    const count = async () =>
      (await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE 'kopf\\_%'"))[0].n;
    while ((await count()) < n) {
      if (performance.now() - t0 > 300_000) throw new Error(`kopf did not create ${n} databases in 5 minutes:\n${log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - t0) / 1000;
    const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
    return { seconds, peakRssMib: Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024 };
  } finally {
    child.kill("SIGTERM");
  }
}
