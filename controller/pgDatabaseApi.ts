// The controller's writes to PgDatabase objects and their Events, in one place, so that it also knows which
// versions of an object it wrote itself: the watch echoes each write back, and reconciling our own write again
// would only repeat what was just done (one observe per object and write, measured in docs/adr/0011).
import type { KubeClient } from "./kube/client";
import { API, type PgDatabaseObject } from "./resource";

/** How long a written resourceVersion is remembered: the watch delivers it within seconds, or after a re-list not at all. */
const OWN_WRITE_TTL_MS = 5 * 60_000;

export class PgDatabaseApi {
  /** resourceVersion -> when we wrote it. */
  private readonly ownWrites = new Map<string, number>();

  constructor(readonly client: KubeClient) {}

  /** The collection's path, in one namespace or all of them. */
  static collection(namespace?: string): string {
    return namespace
      ? `/apis/${API.group}/${API.version}/namespaces/${encodeURIComponent(namespace)}/${API.plural}`
      : `/apis/${API.group}/${API.version}/${API.plural}`;
  }

  /** Applies JSON Patch operations (with their `test` preconditions) to the object; returns the new object. */
  async patch(obj: PgDatabaseObject, operations: readonly object[]): Promise<PgDatabaseObject> {
    return this.remember(await this.client.patch<PgDatabaseObject>(this.path(obj), operations, "json"));
  }

  /** Merge-patches the status subresource (custom resources take merge patches, not strategic ones). */
  async patchStatus(obj: PgDatabaseObject, status: Record<string, unknown>): Promise<PgDatabaseObject> {
    return this.remember(await this.client.patch<PgDatabaseObject>(`${this.path(obj)}/status`, { status }, "merge"));
  }

  /** Creates an Event in the object's namespace. */
  async createEvent(namespace: string, event: object): Promise<void> {
    await this.client.create(`/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, event);
  }

  /**
   * Whether this version of the object is one this process wrote. Each version answers true once: the watch
   * delivers it once, and a later re-list that shows it again is then treated as news.
   */
  isOwnWrite(obj: PgDatabaseObject): boolean {
    const version = obj.metadata.resourceVersion;
    return version !== undefined && this.ownWrites.delete(version);
  }

  private remember(obj: PgDatabaseObject): PgDatabaseObject {
    const now = Date.now();
    for (const [version, at] of this.ownWrites) {
      // Oldest first (insertion order): stop at the first one still fresh.
      if (now - at < OWN_WRITE_TTL_MS) break;
      this.ownWrites.delete(version);
    }
    if (obj.metadata.resourceVersion) this.ownWrites.set(obj.metadata.resourceVersion, now);
    return obj;
  }

  private path(obj: PgDatabaseObject): string {
    return `${PgDatabaseApi.collection(obj.metadata.namespace)}/${encodeURIComponent(obj.metadata.name)}`;
  }
}
