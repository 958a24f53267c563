// PgDatabase objects for the benchmarks: created through the API with bounded parallelism, their readiness
// followed through one watch, and removed again (objects and databases) between phases.
import { escapeIdentifier } from "pg";
import type { KubeClient } from "../controller/kube/client";
import { ResourceApi } from "../controller/runtime/writes";
import { PG_DATABASE } from "../controller/runtime/objects";
import { LogFollower } from "./measure";
import type { TestPostgres } from "../test/harness/postgres";

export interface BenchObject {
  readonly name: string;
  readonly database: string;
  /** The PgServer it names; none: the controller's own server. */
  readonly server?: string;
}

export function objects(prefix: string, n: number, database = (i: number) => `${prefix.replace(/-/g, "_")}_${i}`): BenchObject[] {
  return Array.from({ length: n }, (_, i) => ({ name: `${prefix}-${i}`, database: database(i) }));
}

/** Creates the object; resolves with the time its POST started (epoch milliseconds). */
export async function createObject(kube: KubeClient, namespace: string, o: BenchObject): Promise<number> {
  const started = Date.now();
  await kube.create(ResourceApi.collection(PG_DATABASE, namespace), {
    apiVersion: "my.local/v1",
    kind: "PgDatabase",
    metadata: { name: o.name, namespace },
    spec: { name: o.database, ...(o.server ? { server: o.server } : {}) },
  });
  return started;
}

/** Creates every object, `parallel` requests at a time, as a client applying a large manifest at once would. */
export async function createAll(kube: KubeClient, namespace: string, list: readonly BenchObject[], parallel = 32): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, list.length) }, async () => {
      while (next < list.length) await createObject(kube, namespace, list[next++]);
    }),
  );
}

/**
 * Records when the controller finished each object's first reconcile to Ready, from its own log (the line comes
 * right after the status write), so that measuring costs the API server nothing: kopf is timed from Postgres alone.
 */
export class ReadyLog {
  /** Object name -> epoch milliseconds. */
  readonly readyAt = new Map<string, number>();
  private readonly log: LogFollower;

  constructor(
    output: () => string,
    private readonly namespace: string,
  ) {
    this.log = new LogFollower(output);
  }

  /** Resolves once every named object has been reconciled to Ready. */
  async until(names: readonly string[]): Promise<void> {
    for (;;) {
      for (const entry of this.log.read()) {
        if (entry.msg !== "reconciled" || entry.result !== "Reconciled" || !entry.key) continue;
        const [namespace, name] = entry.key.split("/");
        if (namespace === this.namespace && !this.readyAt.has(name)) this.readyAt.set(name, entry.time);
      }
      if (names.every((n) => this.readyAt.has(n))) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** Throws unless every named object's status says Ready=True: the log's word, checked against the API. */
export async function assertReady(kube: KubeClient, namespace: string, names: readonly string[]): Promise<void> {
  const list = await kube.get<{ items: any[] }>(ResourceApi.collection(PG_DATABASE, namespace));
  const ready = new Set(
    list.items
      .filter((o) => o.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"))
      .map((o) => o.metadata.name as string),
  );
  const missing = names.filter((n) => !ready.has(n));
  if (missing.length > 0) throw new Error(`not Ready in the API although reconciled: ${missing.slice(0, 5).join(", ")}`);
}

/**
 * Deletes every PgDatabase object in the namespace (the controller releases them: retain), waits until they are
 * gone, then drops their databases directly, so the next phase starts from the same Postgres and an empty cache.
 */
export async function removeAll(
  cluster: { kubectl(args: string[]): string },
  kube: KubeClient,
  pg: Pick<TestPostgres, "query">,
  namespace: string,
  list: readonly BenchObject[],
): Promise<void> {
  // kubectl's own --wait follows each object in turn, minutes for a thousand: poll the collection instead.
  cluster.kubectl(["delete", "pgdatabases", "--all", "-n", namespace, "--wait=false"]);
  while ((await kube.get<{ items: unknown[] }>(`${ResourceApi.collection(PG_DATABASE, namespace)}?limit=1`)).items.length > 0)
    await new Promise((r) => setTimeout(r, 200));
  for (const o of list) await pg.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(o.database)}`);
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
