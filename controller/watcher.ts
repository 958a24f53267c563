// Follows PgDatabase objects with an informer and turns their changes into work-queue keys: every add and
// delete, and the updates that can change what a reconcile does. A periodic resync re-enqueues every object,
// catching drift made in Postgres.
import type { KubeClient } from "./kube/client";
import { Informer } from "./kube/informer";
import { hasFinalizer } from "./finalizer";
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

  constructor(client: KubeClient, options: WatcherOptions) {
    const enqueue = (obj: PgDatabaseObject) => options.onKey(keyOf(obj));
    this.informer = new Informer<PgDatabaseObject>(client, PgDatabaseApi.collection(options.namespace), {
      onAdd: enqueue,
      onUpdate: (obj, old) => {
        if (changesReconcile(old, obj)) enqueue(obj);
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
      const objects = this.informer.list();
      options.log.info({ objects: objects.length }, "resync");
      for (const obj of objects) enqueue(obj);
    }, options.resyncMs);
    this.resync.unref();
  }

  /** Whether the first list has completed. */
  get synced(): boolean {
    return this.hasSynced;
  }

  get(key: string): PgDatabaseObject | undefined {
    return this.informer.get(key);
  }

  start(): void {
    this.informer.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.resync);
    await this.informer.stop();
  }
}

/**
 * Whether an update can change what a reconcile does: a new spec (generation), a deletion, or our finalizer taken
 * away. The controller's own writes (status, its finalizer, the creation intent) come back through the watch too,
 * often before the write's own response; they change none of these, so they cost no second reconcile.
 */
export function changesReconcile(old: PgDatabaseObject, obj: PgDatabaseObject): boolean {
  return (
    old.metadata.generation !== obj.metadata.generation ||
    old.metadata.deletionTimestamp !== obj.metadata.deletionTimestamp ||
    (hasFinalizer(old) && !hasFinalizer(obj))
  );
}
