// An informer: lists a collection, keeps a cache of it, and follows it with a watch from the list's
// resourceVersion. Bookmarks keep the resume point fresh; a 410 Gone (the resume point compacted away) or a failed
// watch starts over with a list, whose difference from the cache is reported as adds, updates and deletes.
import { apiError, KubeApiError, type KubeClient, type WatchEvent } from "./client";

export interface KubeObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

export interface InformerHandlers<T> {
  readonly onAdd: (obj: T) => void;
  readonly onUpdate: (obj: T, old: T) => void;
  readonly onDelete: (obj: T) => void;
  /** Called after every completed list, the first one included. */
  readonly onSynced?: () => void;
  /** Called when a list or watch failed; the informer lists again after a backoff. */
  readonly onError?: (err: unknown, retryInMs: number) => void;
}

interface List<T> {
  metadata: { resourceVersion: string; continue?: string };
  items: T[];
}

const PAGE = 500;
const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;

export interface InformerOptions<T> {
  /** Only objects with these labels (a label selector, e.g. app.kubernetes.io/managed-by=pg-kopf). */
  readonly labelSelector?: string;
  /** What the cache keeps of each object (e.g. its metadata only); the handlers see the same. */
  readonly transform?: (obj: T) => T;
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly selector: string;
  private readonly transform: (obj: T) => T;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly client: KubeClient,
    /** The collection's path, e.g. /apis/my.local/v1/namespaces/ns/pgdatabases. */
    private readonly path: string,
    private readonly handlers: InformerHandlers<T>,
    options: InformerOptions<T> = {},
  ) {
    this.selector = options.labelSelector ? `&labelSelector=${encodeURIComponent(options.labelSelector)}` : "";
    this.transform = options.transform ?? ((obj) => obj);
  }

  /** The cached object, by its key (objectKey: namespace/name). */
  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** Starts following the collection in the background; errors are reported to onError and retried. */
  start(): void {
    this.running ??= this.run();
  }

  /** Stops the watch; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.running;
  }

  private async run(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    while (!this.abort.signal.aborted) {
      try {
        let resourceVersion = await this.relist();
        backoff = MIN_BACKOFF_MS;
        // Follow until the resume point is gone (410) or something fails; a stream the server ended is resumed.
        for (;;) {
          const next = await this.follow(resourceVersion);
          if (next === undefined || this.abort.signal.aborted) break;
          resourceVersion = next;
        }
      } catch (err) {
        if (this.abort.signal.aborted) break;
        this.handlers.onError?.(err, backoff);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoff);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /** Lists every page, reconciles the cache with it, and returns the list's resourceVersion. */
  private async relist(): Promise<string> {
    const seen = new Map<string, T>();
    let page: List<T> | undefined;
    do {
      const cont = page?.metadata.continue ? `&continue=${encodeURIComponent(page.metadata.continue)}` : "";
      page = await this.client.get<List<T>>(`${this.path}?limit=${PAGE}${this.selector}${cont}`);
      for (const obj of page.items) seen.set(objectKey(obj), this.transform(obj));
    } while (page.metadata.continue);
    for (const [key, old] of this.cache) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      this.handlers.onDelete(old);
    }
    for (const [key, obj] of seen) this.store(key, obj);
    this.handlers.onSynced?.();
    return page.metadata.resourceVersion;
  }

  /**
   * Watches from `resourceVersion` until the server ends the stream; returns where to resume, or undefined when
   * the resume point has expired and a new list is needed. Throws on other failures.
   */
  private async follow(resourceVersion: string): Promise<string | undefined> {
    let resume: string | undefined = resourceVersion;
    // Servers end a watch after timeoutSeconds; spreading it keeps many controllers from re-watching at once.
    const timeout = 300 + Math.floor(Math.random() * 300);
    const query = `?watch=1&allowWatchBookmarks=true&timeoutSeconds=${timeout}&resourceVersion=${encodeURIComponent(resourceVersion)}${this.selector}`;
    await this.client
      .watch<T>(
        `${this.path}${query}`,
        (event: WatchEvent<T>) => {
          if (resume === undefined) return;
          if (event.type === "ERROR") {
            const status = event.object as unknown as { code?: number; reason?: string; message?: string };
            if (status.code === 410) {
              resume = undefined;
              return;
            }
            throw new KubeApiError(status.code ?? 0, status.reason, `watch ${this.path}: ${status.message ?? "error event"}`);
          }
          resume = event.object.metadata.resourceVersion ?? resume;
          if (event.type === "BOOKMARK") return;
          const obj = this.transform(event.object);
          const key = objectKey(obj);
          if (event.type === "DELETED") {
            this.cache.delete(key);
            this.handlers.onDelete(obj);
          } else {
            this.store(key, obj);
          }
        },
        this.abort.signal,
        // The server ends the stream after timeoutSeconds; silence well past that means the connection is gone.
        (timeout + 60) * 1000,
      )
      .catch((err: unknown) => {
        // A 410 can also come as the response to the watch request itself.
        if (apiError(err, "gone")) resume = undefined;
        else throw err;
      });
    return resume;
  }

  private store(key: string, obj: T): void {
    const old = this.cache.get(key);
    this.cache.set(key, obj);
    if (!old) this.handlers.onAdd(obj);
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.handlers.onUpdate(obj, old);
  }
}

/** An object's key in the cache, namespace/name ("/name" for a cluster-scoped one): also the work queue's key. */
export function objectKey(obj: { metadata?: { namespace?: string; name?: string } }): string {
  return `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
}
