// The controller's writes to its custom objects and their Events, in one place for every kind: JSON patches with
// their preconditions, merge patches of the status subresource, and Events in the object's namespace.
import type { KubeClient } from "../kube/client";
import type { CustomObject, ResourceKind } from "./objects";

export class ResourceApi {
  constructor(
    readonly client: KubeClient,
    readonly kind: ResourceKind,
  ) {}

  /** A kind's collection path, in one namespace or all of them. */
  static collection(kind: ResourceKind, namespace?: string): string {
    return namespace
      ? `/apis/${kind.group}/${kind.version}/namespaces/${encodeURIComponent(namespace)}/${kind.plural}`
      : `/apis/${kind.group}/${kind.version}/${kind.plural}`;
  }

  /** The object as it is now. */
  async get<T extends CustomObject>(obj: T): Promise<T> {
    return this.client.get<T>(this.path(obj));
  }

  /** Applies JSON Patch operations (with their `test` preconditions) to the object; returns the new object. */
  async patch<T extends CustomObject>(obj: T, operations: readonly object[]): Promise<T> {
    return this.client.patch<T>(this.path(obj), operations, "json");
  }

  /** Merge-patches the status subresource (custom resources take merge patches, not strategic ones). */
  async patchStatus<T extends CustomObject>(obj: T, status: Record<string, unknown>): Promise<T> {
    return this.client.patch<T>(`${this.path(obj)}/status`, { status }, "merge");
  }

  /** Creates an Event in the object's namespace. */
  async createEvent(namespace: string, event: object): Promise<void> {
    await this.client.create(`/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, event);
  }

  private path(obj: CustomObject): string {
    return `${ResourceApi.collection(this.kind, obj.metadata.namespace)}/${encodeURIComponent(obj.metadata.name)}`;
  }
}
