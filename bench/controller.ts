// Benchmark of the controller against the psql floor and a kopf operator, on one Postgres 15 and one local control
// plane, printing every figure the performance goals name: bursts (3 rounds, order rotated), steady load, 1,000
// objects at once, 5,000 objects and their resync (floor runs interleaved in each burst round), idle memory and its growth, API writes, and the Pulumi side.
// Usage: npm run bench:controller   (BENCH_KOPF=0 skips kopf; BENCH_LARGE, BENCH_PEAK, BENCH_PULUMI and BENCH_STEADY_SECONDS are
// sizes (objects, databases, seconds), 0 skipping their part;
// BENCH_NODE_FLAGS="..." runs the controller with other node flags than the Deployment's)
import { tmpdir } from "node:os";
import { existsSync } from "node:fs";
import { escapeIdentifier } from "pg";
import { KubeClient } from "../controller/kube/client";
import { fromKubeconfig } from "../controller/kube/config";
import { startCluster, type TestCluster } from "../test/harness/cluster";
import { type ControllerProcess, installController, startController } from "../test/harness/controller";
import { startPostgres, type TestPostgres } from "../test/harness/postgres";
import { startKopf, type KopfOperator } from "./kopf";
import { apiWrites, cpuBetween, cpuSeconds, LogFollower, postmasterPid, psqlFloor, RssSampler, writesBetween } from "./measure";
import { assertReady, type BenchObject, createAll, createObject, objects, percentile, ReadyLog, removeAll } from "./objects";
import { benchPulumi } from "./pulumi";

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const BURST = env("BENCH_BURST", 100);
const ROUNDS = env("BENCH_ROUNDS", 3);
const STEADY_RATE = env("BENCH_STEADY_RATE", 20);
const STEADY_SECONDS = env("BENCH_STEADY_SECONDS", 60);
const PEAK = env("BENCH_PEAK", 1000);
const LARGE = env("BENCH_LARGE", 5000);
const PULUMI = env("BENCH_PULUMI", 50);
const WITH_KOPF = process.env.BENCH_KOPF !== "0";
const NS = "bench";
const KOPF_NS = "bench-kopf";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const s = (seconds: number) => `${seconds.toFixed(2)} s`;
const mib = (m: number) => `${m.toFixed(0)} MiB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const lines: string[] = [];
function report(line: string): void {
  lines.push(line);
  console.log(line);
}

interface Controller {
  readonly process: ControllerProcess;
  readonly rss: RssSampler;
}

async function runController(name: string, kubeconfig: string, pg: TestPostgres, resyncSeconds: number): Promise<Controller> {
  const proc = await startController(
    name,
    kubeconfig,
    pg,
    {
      RESYNC_SECONDS: String(resyncSeconds),
      // Only its own namespace: kopf's objects are kopf's to handle.
      WATCH_NAMESPACE: NS,
      LOG_LEVEL: "info",

      ...(process.env.CONCURRENCY !== undefined ? { CONCURRENCY: process.env.CONCURRENCY } : {}),
    },
    ...(process.env.BENCH_NODE_FLAGS !== undefined ? [process.env.BENCH_NODE_FLAGS.split(" ").filter(Boolean)] : []),
  );
  while ((await proc.metric("pgkopf_leader")) !== 1) await sleep(100);
  return { process: proc, rss: new RssSampler(proc.child.pid ?? 0) };
}

interface BurstResult {
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
  readonly peakRss: number;
  readonly writesPerObject: number;
  readonly writes: string;
}

/** Creates `list` at once and waits until every object is Ready; counts the API writes the controller made. */
async function burst(cluster: TestCluster, kube: KubeClient, controller: Controller, list: BenchObject[]): Promise<BurstResult> {
  const log = new ReadyLog(controller.process.output, NS);
  const before = apiWrites(cluster);
  controller.rss.reset();
  const started = Date.now();
  await createAll(kube, NS, list);
  await log.until(list.map((o) => o.name));
  const seconds = (Date.now() - started) / 1000;
  const peakRss = controller.rss.peak();
  await assertReady(
    kube,
    NS,
    list.map((o) => o.name),
  );
  // The writes a reconcile makes land before Ready is seen; a moment more catches any that come after.
  await sleep(1000);
  const writes = writesBetween(before, apiWrites(cluster));
  const latencies = [...log.readyAt.values()].map((t) => (t - started) / 1000).sort((a, b) => a - b);
  return {
    seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    peakRss,
    writesPerObject: writes.reduce((sum, [, v]) => sum + v, 0) / list.length,
    writes: writes.map(([k, v]) => `${k} ${v}`).join(", "),
  };
}

async function main(): Promise<void> {
  // CREATE DATABASE is an fsync-bound copy: on a disk its cost varied 3-10x between runs here, which made the floor
  // meaningless. With the data directory on tmpfs every contestant pays the same, small, stable cost.
  const diskTmp = tmpdir();
  if (!process.env.TMPDIR && existsSync("/dev/shm")) process.env.TMPDIR = "/dev/shm";
  const pg = await startPostgres();
  const cluster = await startCluster({ workloads: true });
  const stops: (() => void)[] = [];
  try {
    const kubeconfig = installController(cluster, pg);
    cluster.kubectl(["create", "namespace", NS]);
    const kube = new KubeClient(fromKubeconfig(cluster.kubeconfig));
    stops.push(() => kube.close());
    const controller = await runController("bench-controller", kubeconfig, pg, 600);
    const kopf: KopfOperator | undefined = WITH_KOPF ? await startKopf(cluster, pg, kube, KOPF_NS) : undefined;
    if (kopf) stops.push(() => kopf.stop());
    await sleep(3000);
    const concurrency = process.env.CONCURRENCY ?? "4";
    report(`pg-kopf controller benchmark: Postgres data directory under ${tmpdir()}, controller concurrency ${concurrency}`);
    const idle = controller.rss.now();
    report(`idle RSS                         controller ${mib(idle)}${kopf ? `, kopf ${mib(kopf.rss.now())}` : ""}`);

    // Bursts: every contestant creates BURST databases, with a psql floor run before, between and after them (the
    // order rotates), so each is measured against the floor runs next to it: a load that changes during the round
    // moves both.
    report(
      `\n${BURST} objects at once, ${ROUNDS} rounds, floor runs interleaved (seconds to all Ready / all created; ×the mean of the floor runs either side)`,
    );
    const contestants = ["pg-kopf", ...(kopf ? ["kopf"] : [])];
    const figures = {
      psql: [] as number[],
      "pg-kopf": [] as number[],
      kopf: [] as number[],
      ratio: [] as number[],
      kopfRatio: [] as number[],
    };
    const settled: number[] = [];
    let lastBurst: BurstResult | undefined;
    let peakBurstRss = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const order = contestants.map((_, i) => contestants[(i + round) % contestants.length]);
      const ours = objects(`r${round}`, BURST, (i) => `ctl_r${round}_${i}`);
      const theirs = objects(`k${round}`, BURST, (i) => `kopf_r${round}_${i}`);
      const floorNames: string[] = [];
      const floors: number[] = [];
      const cpu: string[] = [];
      const measured = async (who: string, run: () => Promise<number>) => {
        const cpuBefore = cpuSeconds([postmasterPid(pg)]);
        const seconds = await run();
        cpu.push(`${who}: ${cpuBetween(cpuBefore, cpuSeconds([postmasterPid(pg)]))}`);
        return seconds;
      };
      const floorRun = () => {
        const names = Array.from({ length: BURST }, (_, i) => `psql_r${round}_${floors.length}_${i}`);
        floorNames.push(...names);
        return measured("psql", () => psqlFloor(pg, names)).then((t) => floors.push(t));
      };
      const times: Record<string, number> = {};
      const against: Record<string, number> = {};
      await floorRun();
      for (const who of order) {
        if (who === "pg-kopf") {
          await pg.query("CHECKPOINT");
          times[who] = await measured(who, async () => {
            lastBurst = await burst(cluster, kube, controller, ours);
            return lastBurst.seconds;
          });
          peakBurstRss = Math.max(peakBurstRss, lastBurst!.peakRss);
        }
        if (who === "kopf" && kopf) times[who] = await measured(who, () => kopf.create(theirs));
        await floorRun();
        // The floor runs just before and just after this contestant.
        against[who] = (floors[floors.length - 2] + floors[floors.length - 1]) / 2;
      }
      figures.psql.push(...floors);
      figures["pg-kopf"].push(times["pg-kopf"]);
      figures.ratio.push(times["pg-kopf"] / against["pg-kopf"]);
      if (kopf) {
        figures.kopf.push(times.kopf);
        figures.kopfRatio.push(times.kopf / against.kopf);
      }
      const spread = `${s(Math.min(...floors))}–${s(Math.max(...floors))}`;
      report(
        `round ${round + 1} [${order.join(", ")}]  psql ${floors.map(s).join(" / ")} (spread ${spread}) | pg-kopf ${s(times["pg-kopf"])} ×${figures.ratio.at(-1)!.toFixed(2)} ` +
          `(p50 ${s(lastBurst!.p50)}, p99 ${s(lastBurst!.p99)}, peak ${mib(lastBurst!.peakRss)}, ${lastBurst!.writesPerObject.toFixed(2)} writes/object)` +
          (kopf
            ? ` | kopf ${s(times.kopf)} ×${figures.kopfRatio.at(-1)!.toFixed(2)}; pg-kopf/kopf ${(times["pg-kopf"] / times.kopf).toFixed(2)}`
            : ""),
      );
      report(`        CPU seconds by process   ${cpu.join(" | ")}`);
      await removeAll(cluster, kube, pg, NS, ours);
      if (kopf) await removeAll(cluster, kube, pg, KOPF_NS, theirs);
      for (const n of floorNames) await pg.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(n)}`);
      await sleep(3000);
      settled.push(controller.rss.now());
    }
    const ratio = median(figures.ratio);
    report(
      `median                           pg-kopf ×${ratio.toFixed(2)} the floor` +
        (kopf
          ? `, kopf ×${median(figures.kopfRatio).toFixed(2)}; pg-kopf/kopf ${(median(figures["pg-kopf"]) / median(figures.kopf)).toFixed(2)}`
          : ""),
    );
    report(`API writes per object created    ${lastBurst!.writesPerObject.toFixed(2)} (${lastBurst!.writes})`);
    report(`RSS after each burst settled     ${settled.map(mib).join(", ")} (idle before: ${mib(idle)})`);
    if (kopf) report(`kopf peak RSS                    ${mib(kopf.rss.peak())}`);
    kopf?.stop();

    const steadyP99 = STEADY_SECONDS > 0 ? await steadyLoad(cluster, pg, kube, controller) : undefined;
    const peakRss = PEAK > 0 ? await manyAtOnce(cluster, pg, kube, controller) : undefined;
    await controller.process.kill("SIGTERM");
    controller.rss.stop();

    if (LARGE > 0) await large(cluster, kube, kubeconfig, diskTmp);
    if (PULUMI > 0) {
      const p = await benchPulumi(pg, PULUMI);
      const row = (what: string, ours: number, engine: number, floor?: number) =>
        `${what.padEnd(33)}${s(ours)} (engine alone ${s(engine)}, ours ${s(ours - engine)}` +
        (floor !== undefined ? `; psql ${s(floor)}, ×${(ours / floor).toFixed(2)}, ours ×${((ours - engine) / floor).toFixed(2)})` : ")");
      report(`\nPulumi, ${p.n} databases, plain CLI (engine alone: the same command on a stack that declares none)`);
      report(row("pulumi up", p.up, p.empty.up, p.floor.create));
      report(row("pulumi preview (no changes)", p.preview, p.empty.preview));
      report(row("pulumi destroy", p.destroy, p.empty.destroy, p.floor.drop));
    }

    report("\nGoals");
    const worst = Math.max(...figures.ratio);
    report(
      `all Ready ≤ 1.3× the psql floor  ${worst <= 1.3 ? "met" : "NOT met"} in every round (×${figures.ratio.map((r) => r.toFixed(2)).join(", ")}; median ×${ratio.toFixed(2)})`,
    );
    if (WITH_KOPF) {
      const perRound = figures["pg-kopf"].map((t, i) => t / figures.kopf[i]);
      const every = perRound.every((r) => r < 1);
      report(`faster than kopf in every round  ${every ? "met" : "NOT met"} (${perRound.map((r) => r.toFixed(2)).join(", ")})`);
    }
    if (steadyP99 !== undefined) report(`p99 ≤ 1.5 s under steady load    ${steadyP99 <= 1.5 ? "met" : "NOT met"} (${s(steadyP99)})`);
    report(`idle RSS ≤ 80 MB                 ${idle * 1.048576 <= 80 ? "met" : "NOT met"} (${(idle * 1.048576).toFixed(0)} MB)`);
    if (peakRss !== undefined)
      report(
        `peak ≤ 150 MB at ${PEAK}            ${peakRss * 1.048576 <= 150 ? "met" : "NOT met"} (${(peakRss * 1.048576).toFixed(0)} MB)`,
      );
    report(
      `writes per object ≤ 3            ${lastBurst!.writesPerObject <= 3 ? "met" : "NOT met"} (${lastBurst!.writesPerObject.toFixed(2)})`,
    );
  } finally {
    for (const stop of stops) stop();
    cluster.stop();
    pg.destroy();
  }
}

/** Objects arriving at a fixed rate; latency from each object's creation to its Ready. Returns the p99 in seconds. */
async function steadyLoad(cluster: TestCluster, pg: TestPostgres, kube: KubeClient, controller: Controller): Promise<number> {
  const steady = objects("steady", STEADY_RATE * STEADY_SECONDS);
  const log = new ReadyLog(controller.process.output, NS);
  controller.rss.reset();
  const startedAt = new Map<string, number>();
  const posts: Promise<void>[] = [];
  const t0 = performance.now();
  for (const [i, o] of steady.entries()) {
    const due = t0 + (i * 1000) / STEADY_RATE;
    if (due > performance.now()) await sleep(due - performance.now());
    posts.push(createObject(kube, NS, o).then((t) => void startedAt.set(o.name, t)));
  }
  await Promise.all(posts);
  await log.until(steady.map((o) => o.name));
  await assertReady(
    kube,
    NS,
    steady.map((o) => o.name),
  );
  const latencies = steady.map((o) => (log.readyAt.get(o.name)! - startedAt.get(o.name)!) / 1000).sort((a, b) => a - b);
  report(
    `\nsteady ${STEADY_RATE} objects/s for ${STEADY_SECONDS} s   creation to Ready p50 ${s(percentile(latencies, 50))}, p99 ${s(percentile(latencies, 99))}, ` +
      `max ${s(latencies[latencies.length - 1])}; peak RSS ${mib(controller.rss.peak())}`,
  );
  await removeAll(cluster, kube, pg, NS, steady);
  return percentile(latencies, 99);
}

/** PEAK objects at once: the time and the memory it takes. Returns the peak RSS in MiB. */
async function manyAtOnce(cluster: TestCluster, pg: TestPostgres, kube: KubeClient, controller: Controller): Promise<number> {
  const many = objects("peak", PEAK);
  const cpuBefore = cpuSeconds([postmasterPid(pg)]);
  const big = await burst(cluster, kube, controller, many);
  report(
    `${PEAK} objects at once             all Ready ${s(big.seconds)} (${(PEAK / big.seconds).toFixed(0)} objects/s), peak RSS ${mib(big.peakRss)}, ` +
      `${big.writesPerObject.toFixed(2)} writes/object; CPU seconds ${cpuBetween(cpuBefore, cpuSeconds([postmasterPid(pg)]))}`,
  );
  await removeAll(cluster, kube, pg, NS, many);
  await sleep(3000);
  report(`RSS after it settled             ${mib(controller.rss.now())}`);
  return big.peakRss;
}

/**
 * LARGE objects on one controller, against a Postgres of its own with the data directory on disk (at 7 MiB a
 * database they do not fit in memory), then a resync of all of them unchanged: its duration and writes.
 */
async function large(cluster: TestCluster, kube: KubeClient, kubeconfig: string, dir: string): Promise<void> {
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  const pg = await startPostgres();
  process.env.TMPDIR = previous;
  const resync = 30;
  try {
    const controller = await runController("bench-large", kubeconfig, pg, resync);
    const connections = { max: 0 };
    const poll = setInterval(() => {
      pg.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pg-kopf-controller'").then(
        (r) => (connections.max = Math.max(connections.max, r[0].n)),
        () => undefined,
      );
    }, 200);
    try {
      const list = objects("large", LARGE);
      const result = await burst(cluster, kube, controller, list);
      const floor = await psqlFloor(
        pg,
        Array.from({ length: 200 }, (_, i) => `large_floor_${i}`),
      );
      report(
        `\n${LARGE} objects on one controller (data directory on disk) all Ready ${s(result.seconds)}, ${result.writesPerObject.toFixed(2)} writes/object, ` +
          `peak RSS ${mib(result.peakRss)}, Postgres connections at most ${connections.max} (pool ${Number(process.env.CONCURRENCY ?? 4) + 1}); ` +
          `psql floor on this disk ${s((floor * LARGE) / 200)} (from 200)`,
      );
      // The next periodic resync: every object reconciled again, unchanged; timed from the controller's own log.
      const log = new LogFollower(controller.process.output);
      let resyncAt: number | undefined;
      let finished: number | undefined;
      let reconciles = 0;
      // Counted from before the resync starts, so none of its writes can slip past.
      const before = apiWrites(cluster);
      while (finished === undefined) {
        await sleep(100);
        for (const entry of log.read()) {
          if (resyncAt === undefined && entry.msg === "resync") {
            resyncAt = entry.time;
            controller.rss.reset();
          } else if (resyncAt !== undefined && entry.msg === "reconciled" && ++reconciles === LARGE) {
            finished = entry.time;
          }
        }
      }
      const seconds = (finished - resyncAt!) / 1000;
      const writes = writesBetween(before, apiWrites(cluster));
      report(
        `resync of ${LARGE} unchanged objects    ${s(seconds)}, ${writes.reduce((n, [, v]) => n + v, 0)} API writes, peak RSS ${mib(controller.rss.peak())}, ` +
          `RSS after ${mib(controller.rss.now())}`,
      );
    } finally {
      clearInterval(poll);
      await controller.process.kill("SIGTERM");
      controller.rss.stop();
    }
  } finally {
    pg.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
