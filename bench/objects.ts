// PgDatabase objects for the benchmarks: created through the API with bounded parallelism, their readiness
// followed through one watch, and removed again (objects and databases) between phases.
import { escapeIdentifier } from "pg";
import { KubeApiError, type KubeClient } from "../controller/kube/client";
import { PgDatabaseApi } from "../controller/pgDatabaseApi";
import type { TestPostgres } from "../scripts/local/postgres";

export interface BenchObject {
  readonly name: string;
  readonly database: string;
}

export function objects(prefix: string, n: number, database = (i: number) => `${prefix.replace(/-/g, "_")}_${i}`): BenchObject[] {
  return Array.from({ length: n }, (_, i) => ({ name: `${prefix}-${i}`, database: database(i) }));
}

/** Creates the object; resolves with the time its POST started. */
export async function createObject(kube: KubeClient, namespace: string, o: BenchObject): Promise<number> {
  const started = performance.now();
  await kube.create(PgDatabaseApi.collection(namespace), {
    apiVersion: "my.local/v1",
    kind: "PgDatabase",
    metadata: { name: o.name, namespace },
    spec: { name: o.database },
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

/** Follows a namespace's PgDatabase objects and records when each first reported Ready=True. */
export class ReadyWatch {
  readonly readyAt = new Map<string, number>();
  private readonly abort = new AbortController();
  private waiters: { count: number; resolve: () => void }[] = [];

  constructor(kube: KubeClient, namespace: string) {
    const follow = async () => {
      let resourceVersion = "";
      while (!this.abort.signal.aborted) {
        await kube
          .watch<any>(
            `${PgDatabaseApi.collection(namespace)}?watch=1&allowWatchBookmarks=true${resourceVersion ? `&resourceVersion=${resourceVersion}` : ""}`,
            ({ type, object }) => {
              resourceVersion = object.metadata?.resourceVersion ?? resourceVersion;
              if (type === "ERROR") resourceVersion = "";
              else if (type !== "DELETED") this.saw(object);
            },
            this.abort.signal,
          )
          .catch(async (err: unknown) => {
            // Expired resume point (410) or a dropped stream: watch again from now; objects already seen stay seen.
            if (!(err instanceof KubeApiError && err.code === 410)) await new Promise((r) => setTimeout(r, 200));
            resourceVersion = "";
          });
      }
    };
    void follow();
  }

  /** Resolves once `count` objects have been Ready (since this watch started). */
  until(count: number): Promise<void> {
    if (this.readyAt.size >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  stop(): void {
    this.abort.abort();
  }

  private saw(obj: any): void {
    const ready = obj.status?.conditions?.find((c: any) => c.type === "Ready");
    if (ready?.status !== "True" || this.readyAt.has(obj.metadata.name)) return;
    this.readyAt.set(obj.metadata.name, performance.now());
    this.waiters = this.waiters.filter((w) => {
      if (this.readyAt.size < w.count) return true;
      w.resolve();
      return false;
    });
  }
}

/**
 * Deletes every PgDatabase object in the namespace (the controller releases them: retain), waits until they are
 * gone, then drops their databases directly, so the next phase starts from the same Postgres and an empty cache.
 */
export async function removeAll(
  cluster: { kubectl(args: string[]): string },
  pg: TestPostgres,
  namespace: string,
  list: readonly BenchObject[],
): Promise<void> {
  cluster.kubectl(["delete", "pgdatabases", "--all", "-n", namespace, "--wait=true", "--timeout=600s"]);
  for (const o of list) await pg.query(`DROP DATABASE IF EXISTS ${escapeIdentifier(o.database)}`);
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
