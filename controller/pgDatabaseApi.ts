// The controller's writes to PgDatabase objects and their Events, in one place: JSON patches with their preconditions,
// merge patches of the status subresource, and Events in the object's namespace.
import type { KubeClient } from "./kube/client";
import { API, type PgDatabaseObject } from "./resource";

export class PgDatabaseApi {
  constructor(readonly client: KubeClient) {}

  /** The collection's path, in one namespace or all of them. */
  static collection(namespace?: string): string {
    return namespace
      ? `/apis/${API.group}/${API.version}/namespaces/${encodeURIComponent(namespace)}/${API.plural}`
      : `/apis/${API.group}/${API.version}/${API.plural}`;
  }

  /** Applies JSON Patch operations (with their `test` preconditions) to the object; returns the new object. */
  async patch(obj: PgDatabaseObject, operations: readonly object[]): Promise<PgDatabaseObject> {
    return this.client.patch<PgDatabaseObject>(this.path(obj), operations, "json");
  }

  /** Merge-patches the status subresource (custom resources take merge patches, not strategic ones). */
  async patchStatus(obj: PgDatabaseObject, status: Record<string, unknown>): Promise<PgDatabaseObject> {
    return this.client.patch<PgDatabaseObject>(`${this.path(obj)}/status`, { status }, "merge");
  }

  /** Creates an Event in the object's namespace. */
  async createEvent(namespace: string, event: object): Promise<void> {
    await this.client.create(`/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, event);
  }

  private path(obj: PgDatabaseObject): string {
    return `${PgDatabaseApi.collection(obj.metadata.namespace)}/${encodeURIComponent(obj.metadata.name)}`;
  }
}
