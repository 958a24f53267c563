// Follows the objects of one kind with an informer and turns their changes into cache keys: every add and delete,
// and the updates that can change what a reconcile does. A periodic resync hands over every object again, catching
// drift made in Postgres.
import type { KubeClient } from "../kube/client";
import { Informer } from "../kube/informer";
import { hasFinalizer } from "./finalizer";
import { ResourceApi } from "./writes";
import { type CustomObject, keyOf, ROTATE_ANNOTATION, type ResourceKind } from "./objects";

export interface WatcherOptions {
  readonly namespace?: string;
  readonly resyncMs: number;
  /** Called with the object's cache key (keyOf). */
  readonly onKey: (key: string) => void;
  readonly log: { info(o: object, m: string): void; warn(o: object, m: string): void };
  readonly onError?: () => void;
}

export class ResourceWatcher<T extends CustomObject = CustomObject> {
  private readonly informer: Informer<T>;
  private resync: NodeJS.Timeout | undefined;
  private hasSynced = false;

  constructor(
    client: KubeClient,
    readonly kind: ResourceKind,
    options: WatcherOptions,
  ) {
    const enqueue = (obj: T) => options.onKey(keyOf(obj));
    this.informer = new Informer<T>(client, ResourceApi.collection(kind, options.namespace), {
      onAdd: enqueue,
      onUpdate: (obj, old) => {
        if (changesReconcile(kind, old, obj)) enqueue(obj);
      },
      onDelete: enqueue,
      onSynced: () => {
        this.hasSynced = true;
      },
      onError: (err, retryInMs) => {
        options.onError?.();
        options.log.warn({ kind: kind.kind, err: (err as Error)?.message ?? String(err), retryInMs }, "watch failed; listing again");
      },
    });
    this.resync = setInterval(() => {
      const objects = this.informer.list();
      options.log.info({ kind: kind.kind, objects: objects.length }, "resync");
      for (const obj of objects) enqueue(obj);
    }, options.resyncMs);
    this.resync.unref();
  }

  /** Whether the first list has completed. */
  get synced(): boolean {
    return this.hasSynced;
  }

  get(key: string): T | undefined {
    return this.informer.get(key);
  }

  list(): T[] {
    return this.informer.list();
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
 * Whether an update can change what a reconcile does: a new spec (generation), a deletion, our finalizer taken away,
 * or (for roles) a rotation asked for by annotation. The controller's own writes (status, its finalizer, the creation
 * intent) come back through the watch too, often before the write's own response; they change none of these, so
 * they cost no second reconcile.
 */
export function changesReconcile(kind: ResourceKind, old: CustomObject, obj: CustomObject): boolean {
  return (
    old.metadata.generation !== obj.metadata.generation ||
    old.metadata.deletionTimestamp !== obj.metadata.deletionTimestamp ||
    (hasFinalizer(kind, old) && !hasFinalizer(kind, obj)) ||
    old.metadata.annotations?.[ROTATE_ANNOTATION] !== obj.metadata.annotations?.[ROTATE_ANNOTATION]
  );
}
