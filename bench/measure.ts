// What the controller benchmark measures besides readiness: the psql floor (the same statements in one session),
// a process's resident memory sampled over a phase, and the API server's own count of writes.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as core from "../core";
import type { TestPostgres } from "../test/harness/postgres";

/** The planner's statements that create database `name` from nothing, as one psql script line. */
export function createSql(name: string, manager = "bench:floor"): string {
  const r = core.parseDatabaseSpec({ name });
  if (!r.ok) throw new Error(`bad bench spec ${name}`);
  return `${core.planDatabase(r.spec, undefined, { manager }).map(core.databaseStepSql).join(";\n")};`;
}

/** Seconds psql takes to run the planner's statements for creating these databases, in one session. */
export async function psqlFloor(pg: TestPostgres, databases: readonly string[], manager = "bench:floor"): Promise<number> {
  return psqlFile(pg, databases.map((name) => createSql(name, manager)).join("\n"));
}

/** Runs a psql script file in one session; throws with psql's message when a statement fails. */
export function runPsql(pg: TestPostgres, file: string, database = "postgres"): void {
  // The password goes through the environment, never the command line.
  const r = spawnSync(
    "psql",
    ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.host, "-p", String(pg.port), "-U", pg.user, "-d", database, "-f", file],
    { env: { ...process.env, PGPASSWORD: pg.password }, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(r.stderr);
}

/** Seconds psql takes to run `sql` in one session. */
export async function psqlFile(pg: TestPostgres, sql: string): Promise<number> {
  const file = join(mkdtempSync(join(tmpdir(), "pg-kopf-bench-")), "statements.sql");
  writeFileSync(file, sql);
  // CREATE DATABASE makes checkpoints; every contestant starts from a fresh one so none pays for another's.
  await pg.query("CHECKPOINT");
  const started = performance.now();
  runPsql(pg, file);
  return (performance.now() - started) / 1000;
}

/** Samples a process's resident set every 50 ms; `peak()` is the highest since the last `reset()`. */
export class RssSampler {
  private max = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 50);
    this.timer.unref();
  }

  /** The resident set now, in MiB. */
  now(): number {
    try {
      return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
    } catch {
      return 0;
    }
  }

  peak(): number {
    this.sample();
    return this.max;
  }

  reset(): void {
    this.max = this.now();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    this.max = Math.max(this.max, this.now());
  }
}

/**
 * Writes the API server has served on PgDatabase objects (their status included) and Events, by verb, from its own
 * request counters: what the controller costs the control plane, independent of the controller's own accounting.
 */
export function apiWrites(cluster: { kubectl(args: string[]): string }): Map<string, number> {
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

/** The writes between two readings, without the objects' own creation (the benchmark's, not the controller's). */
export function writesBetween(before: Map<string, number>, after: Map<string, number>): [string, number][] {
  return [...after]
    .map(([k, v]) => [k, v - (before.get(k) ?? 0)] as [string, number])
    .filter(([k, v]) => v > 0 && k !== "POST pgdatabases");
}

/** The pid of a test Postgres' postmaster (the first line of postmaster.pid): the root of its server's processes. */
export function postmasterPid(pg: TestPostgres): number {
  return Number(readFileSync(join(pg.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
}

/**
 * CPU seconds (user + system, finished children included) used so far by each process group the benchmark watches,
 * counting only the benchmark's own processes: those descending from this process or from one of `roots` (a
 * postmaster, which pg_ctl leaves to init). Other API servers and Postgres servers on the machine are not counted.
 */
export function cpuSeconds(roots: readonly number[] = []): Record<"controller" | "kopf" | "apiserver" | "etcd" | "postgres", number> {
  const ticks = 100; // USER_HZ on Linux
  const out = { controller: 0, kopf: 0, apiserver: 0, etcd: 0, postgres: 0 };
  const procs = new Map<number, { ppid: number; fields: string[]; stat: string; cmdline: string }>();
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // Fields after the command name (which may hold spaces): ppid is the 2nd, utime stime cutime cstime the 12th-15th.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      procs.set(Number(pid), { ppid: Number(fields[1]), fields, stat, cmdline: readFileSync(`/proc/${pid}/cmdline`, "utf8") });
    } catch {
      // gone meanwhile
    }
  }
  const own = new Set([process.pid, ...roots]);
  const isOwn = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; p = procs.get(p)?.ppid ?? 0, hops++) if (own.has(p)) return true;
    return false;
  };
  for (const [pid, { fields, stat, cmdline }] of procs) {
    if (!isOwn(pid)) continue;
    const used = (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / ticks;
    const group = cmdline.includes("controller/main.js")
      ? "controller"
      : cmdline.includes("kopf\0run")
        ? "kopf"
        : cmdline.includes("kube-apiserver")
          ? "apiserver"
          : cmdline.split("\0")[0].endsWith("etcd")
            ? "etcd"
            : stat.includes("(postgres)")
              ? "postgres"
              : undefined;
    if (group) out[group] += used;
  }
  return out;
}

/** The CPU seconds each group used between two readings, printed. */
export function cpuBetween(before: ReturnType<typeof cpuSeconds>, after: ReturnType<typeof cpuSeconds>): string {
  return (Object.keys(after) as (keyof typeof after)[])
    .map((k) => [k, after[k] - before[k]] as const)
    .filter(([, v]) => v > 0.005)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(", ");
}

/** A line of the controller's JSON log, as the benchmark reads it. */
export interface LogEntry {
  readonly msg: string;
  readonly time: number;
  readonly key?: string;
  readonly result?: string;
}

/** Follows the controller's log from now on, parsing each complete line once. */
export class LogFollower {
  private offset: number;

  constructor(private readonly output: () => string) {
    this.offset = output().length;
  }

  /** The entries written since the last call. */
  read(): LogEntry[] {
    const text = this.output();
    const end = text.lastIndexOf("\n") + 1;
    if (end <= this.offset) return [];
    const lines = text.slice(this.offset, end).split("\n").filter(Boolean);
    this.offset = end;
    return lines.map((line) => JSON.parse(line) as LogEntry);
  }
}
