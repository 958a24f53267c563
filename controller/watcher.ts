// Follows PgDatabase objects with an informer and turns their changes into work-queue keys: every add and
// delete, and every update but the versions this process wrote itself. A periodic resync re-enqueues every object,
// catching drift made in Postgres.
import type { KubeClient } from "./kube/client";
import { Informer } from "./kube/informer";
import { PgDatabaseApi } from "./pgDatabaseApi";
import { keyOf, type PgDatabaseObject } from "./resource";

export interface WatcherOptions {
  readonly namespace?: string;
  readonly resyncMs: number;
  readonly onKey: (key: string) => void;
  readonly log: { info(o: object, m: string): void; warn(o: object, m: string): void };
  readonly onError?: () => void;
}

export class PgDatabaseWatcher {
  private readonly informer: Informer<PgDatabaseObject>;
  private resync: NodeJS.Timeout | undefined;
  private hasSynced = false;

  constructor(client: KubeClient, api: PgDatabaseApi, options: WatcherOptions) {
    const enqueue = (obj: PgDatabaseObject) => options.onKey(keyOf(obj));
    this.informer = new Informer<PgDatabaseObject>(client, PgDatabaseApi.collection(options.namespace), {
      onAdd: enqueue,
      onUpdate: (obj) => {
        if (!api.isOwnWrite(obj)) enqueue(obj);
      },
      onDelete: enqueue,
      onSynced: () => {
        this.hasSynced = true;
      },
      onError: (err, retryInMs) => {
        options.onError?.();
        options.log.warn({ err: (err as Error)?.message ?? String(err), retryInMs }, "watch failed; listing again");
      },
    });
    this.resync = setInterval(() => {
      for (const obj of this.informer.list()) enqueue(obj);
    }, options.resyncMs);
    this.resync.unref();
  }

  /** Whether the first list has completed. */
  get synced(): boolean {
    return this.hasSynced;
  }

  get(key: string): PgDatabaseObject | undefined {
    const [namespace, name] = key.split("/");
    return this.informer.get(namespace, name);
  }

  start(): void {
    this.informer.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.resync);
    await this.informer.stop();
  }
}
