// Benchmark: apply N PgDatabase objects at once to a local control plane and measure, through a watch, the time
// until each is Ready (p50/p99, total) and the controller's peak RSS; beside it, psql running the same CREATE
// DATABASE statements in one session (the floor), as a ratio. Usage: npm run bench:controller [-- N]
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as core from "../core";
import { startPostgres } from "../scripts/local/postgres";
import { startCluster } from "../scripts/local/cluster";
import { installController, startController } from "../scripts/local/controller";
import { benchKopf } from "./kopf";
import { KubeClient } from "../controller/kube/client";
import { fromKubeconfig } from "../controller/kube/config";

const N = Number(process.argv[2] ?? 100);
const NS = "bench";

/**
 * Writes the API server has served on PgDatabase objects (their status included) and Events, by verb, from its own
 * request counters: what the controller costs the control plane, independent of the controller's own accounting.
 */
function apiWrites(cluster: { kubectl(args: string[]): string }): Map<string, number> {
  const writes = new Map<string, number>();
  for (const line of cluster.kubectl(["get", "--raw", "/metrics"]).split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!["POST", "PATCH", "PUT", "DELETE", "APPLY"].includes(labels.verb)) continue;
    if (labels.resource !== "pgdatabases" && labels.resource !== "events") continue;
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ""}`;
    writes.set(key, (writes.get(key) ?? 0) + Number(line.split(" ").pop()));
  }
  return writes;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  // CREATE DATABASE is an fsync-bound copy: on a disk its cost varied 3-10x between runs here, which made the floor
  // meaningless. With the data directory on tmpfs both sides pay the same, small, stable cost.
  if (!process.env.TMPDIR && existsSync("/dev/shm")) process.env.TMPDIR = "/dev/shm";
  console.log(`Postgres data directory under ${tmpdir()}`);
  const pg = await startPostgres();
  const cluster = await startCluster({ workloads: true });
  try {
    const kubeconfig = installController(cluster, pg);
    cluster.kubectl(["create", "namespace", NS]);
    const controller = await startController("bench-controller", kubeconfig, pg, {
      RESYNC_SECONDS: "600",
      LOG_LEVEL: "warn",
      ...(process.env.CONTROLLER_NODE_OPTIONS !== undefined ? { NODE_OPTIONS: process.env.CONTROLLER_NODE_OPTIONS } : {}),
      ...(process.env.CONCURRENCY !== undefined ? { CONCURRENCY: process.env.CONCURRENCY } : {}),
    });
    while ((await controller.metric("pgkopf_leader")) !== 1) await new Promise((r) => setTimeout(r, 100));

    const kube = new KubeClient(fromKubeconfig(cluster.kubeconfig));
    const readyAt = new Map<string, number>();
    let allReady: () => void = () => undefined;
    const done = new Promise<void>((r) => (allReady = r));
    const watching = new AbortController();
    const watch = kube.watch<any>(
      `/apis/my.local/v1/namespaces/${NS}/pgdatabases?watch=1`,
      ({ object: obj }) => {
        const ready = obj.status?.conditions?.find((c: any) => c.type === "Ready");
        if (ready?.status === "True" && !readyAt.has(obj.metadata.name)) {
          readyAt.set(obj.metadata.name, performance.now());
          if (readyAt.size === N) allReady();
        }
      },
      watching.signal,
    );
    watch.catch(() => undefined);

    const items = Array.from({ length: N }, (_, i) => ({
      apiVersion: "my.local/v1",
      kind: "PgDatabase",
      metadata: { name: `db-${i}`, namespace: NS },
      spec: { name: `ctl_${i}` },
    }));
    await pg.query("CHECKPOINT");
    const writesBefore = apiWrites(cluster);
    const t0 = performance.now();
    cluster.kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }));
    const applied = performance.now() - t0;
    await done;
    const total = performance.now() - t0;
    watching.abort();
    kube.close();
    // Let the reconciles that the controller's own writes trigger settle, then count what it wrote.
    await new Promise((r) => setTimeout(r, 3000));
    const writesAfter = apiWrites(cluster);
    const writes = [...writesAfter]
      .map(([k, v]) => [k, v - (writesBefore.get(k) ?? 0)] as const)
      .filter(([k, v]) => v > 0 && k !== "POST pgdatabases");
    const latencies = [...readyAt.values()].map((t) => t - t0).sort((a, b) => a - b);
    const status = readFileSync(`/proc/${controller.child.pid}/status`, "utf8");
    const peakRssMb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
    const mib = async (metric: string) => ((await controller.metric(metric)) / 1048576).toFixed(1);
    const heap = `heap used ${await mib("pgkopf_nodejs_heap_size_used_bytes")} MiB of ${await mib("pgkopf_nodejs_heap_size_total_bytes")}, external ${await mib("pgkopf_nodejs_external_memory_bytes")}`;
    await controller.kill("SIGTERM");

    // The floor: the same statements from the same planner, one psql session.
    const ctx = { manager: "bench:floor" };
    const sql = Array.from({ length: N }, (_, i) => {
      const r = core.parseSpec({ name: `psql_${i}` });
      if (!r.ok) throw new Error("bad spec");
      return `${core.plan(r.spec, undefined, ctx).map(core.stepSql).join(";\n")};`;
    }).join("\n");
    const file = join(mkdtempSync(join(tmpdir(), "pg-kopf-bench-")), "create.sql");
    writeFileSync(file, sql);
    // CREATE DATABASE makes checkpoints; both runs start from a fresh one so neither pays for the other's.
    await pg.query("CHECKPOINT");
    const p0 = performance.now();
    const r = spawnSync(
      "psql",
      ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.host, "-p", String(pg.port), "-U", pg.user, "-d", "postgres", "-f", file],
      {
        env: { ...process.env, PGPASSWORD: pg.password },
        encoding: "utf8",
      },
    );
    if (r.status !== 0) throw new Error(r.stderr);
    const floor = performance.now() - p0;

    console.log(`pg-kopf controller bench: ${N} PgDatabase objects applied at once, concurrency ${process.env.CONCURRENCY ?? 4}`);
    console.log(`kubectl apply of all objects     ${(applied / 1000).toFixed(2)} s`);
    console.log(`all Ready after apply            ${(total / 1000).toFixed(2)} s`);
    console.log(
      `apply-to-Ready latency           p50 ${(percentile(latencies, 50) / 1000).toFixed(2)} s, p99 ${(percentile(latencies, 99) / 1000).toFixed(2)} s`,
    );
    console.log(`controller peak RSS              ${peakRssMb.toFixed(1)} MiB (now: ${heap})`);
    console.log(`psql floor (same SQL, 1 session) ${(floor / 1000).toFixed(2)} s`);
    console.log(`ratio controller/psql            ${(total / floor).toFixed(2)}`);
    if (process.env.BENCH_KOPF !== "0") {
      await pg.query("CHECKPOINT");
      const kopf = await benchKopf(cluster, pg, `${NS}-kopf`, N);
      console.log(
        `kopf operator, seed's behaviour  ${kopf.seconds.toFixed(2)} s to all databases created, peak RSS ${kopf.peakRssMib.toFixed(1)} MiB`,
      );
      console.log(
        `ratio kopf/psql                  ${(kopf.seconds / (floor / 1000)).toFixed(2)}; controller/kopf ${(total / 1000 / kopf.seconds).toFixed(2)}`,
      );
    }
    const perObject = writes.reduce((sum, [, v]) => sum + v, 0) / N;
    console.log(`API writes per object created    ${perObject.toFixed(2)} (${writes.map(([k, v]) => `${k} ${v}`).join(", ")})`);
  } finally {
    cluster.stop();
    pg.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
