// Keeps an informer on PgDatabase objects running: the client's ListWatch re-lists on 410 Gone and re-watches a
// silent connection after its inactivity timeout; on any other error it stops, and we restart it with backoff.
// A periodic resync re-enqueues every object, catching missed events and drift made in Postgres.
import * as k8s from "@kubernetes/client-node";
import { API, keyOf, type PgDatabaseObject } from "./resource";

export interface WatcherOptions {
  readonly namespace?: string;
  readonly resyncMs: number;
  readonly onKey: (key: string) => void;
  readonly log: { info(o: object, m: string): void; warn(o: object, m: string): void };
  readonly onError?: () => void;
}

export class PgDatabaseWatcher {
  private readonly informer: k8s.Informer<PgDatabaseObject> & k8s.ObjectCache<PgDatabaseObject>;
  private restartDelayMs = 500;
  private stopped = false;
  private resync: NodeJS.Timeout | undefined;
  private restart: NodeJS.Timeout | undefined;
  private hasSynced = false;

  constructor(
    kc: k8s.KubeConfig,
    private readonly o: WatcherOptions,
  ) {
    const api = kc.makeApiClient(k8s.CustomObjectsApi);
    const path = o.namespace
      ? `/apis/${API.group}/${API.version}/namespaces/${o.namespace}/${API.plural}`
      : `/apis/${API.group}/${API.version}/${API.plural}`;
    const list = () =>
      (o.namespace
        ? api.listNamespacedCustomObject({ ...API, namespace: o.namespace })
        : api.listClusterCustomObject({ ...API })) as Promise<k8s.KubernetesListObject<PgDatabaseObject>>;
    this.informer = k8s.makeInformer<PgDatabaseObject>(kc, path, list);
    const enqueue = (obj: PgDatabaseObject) => o.onKey(keyOf(obj));
    this.informer.on("add", enqueue);
    this.informer.on("update", enqueue);
    this.informer.on("delete", enqueue);
    this.informer.on("connect", () => {
      this.hasSynced = true;
      this.restartDelayMs = 500;
    });
    this.informer.on("error", (err: unknown) => {
      o.onError?.();
      if (this.stopped) return;
      o.log.warn({ err: (err as Error)?.message ?? String(err), retryInMs: this.restartDelayMs }, "watch failed; restarting");
      // A failed restart emits "error" again, which schedules the next one; it is logged here too.
      this.restart = setTimeout(
        () => void this.start().catch((e: unknown) => o.log.warn({ err: (e as Error)?.message ?? String(e) }, "watch restart failed")),
        this.restartDelayMs,
      );
      this.restartDelayMs = Math.min(this.restartDelayMs * 2, 30_000);
    });
  }

  /** Whether the first list has completed. */
  get synced(): boolean {
    return this.hasSynced;
  }

  get(key: string): PgDatabaseObject | undefined {
    const [namespace, name] = key.split("/");
    return this.informer.get(name, namespace);
  }

  async start(): Promise<void> {
    if (this.stopped) return;
    if (!this.resync) {
      this.resync = setInterval(() => {
        for (const obj of this.informer.list()) this.o.onKey(keyOf(obj));
      }, this.o.resyncMs);
      this.resync.unref();
    }
    await this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resync) clearInterval(this.resync);
    if (this.restart) clearTimeout(this.restart);
    await this.informer.stop();
  }
}
