// Adding and removing our finalizer with JSON Patch preconditions, so a concurrent change by another controller
// makes our patch fail (and the reconcile retry) instead of overwriting their finalizers.
import type { ResourceApi } from "./writes";
import type { CustomObject, ResourceKind } from "./objects";

export function hasFinalizer(kind: ResourceKind, obj: CustomObject): boolean {
  return obj.metadata.finalizers?.includes(kind.finalizer) ?? false;
}

/** The JSON Patch operation that appends the kind's finalizer to `obj`'s list (or makes the list). No precondition. */
export function addFinalizerOp(kind: ResourceKind, obj: CustomObject): object {
  return obj.metadata.finalizers
    ? { op: "add", path: "/metadata/finalizers/-", value: kind.finalizer }
    : { op: "add", path: "/metadata/finalizers", value: [kind.finalizer] };
}

/**
 * Adds the finalizer if missing. Returns the updated object. Throws (HTTP 422 or 409) if the finalizers or the
 * object changed since `obj` was read; the caller retries from a fresh read.
 */
export async function addFinalizer<T extends CustomObject>(api: ResourceApi, obj: T): Promise<T> {
  if (hasFinalizer(api.kind, obj)) return obj;
  const current = obj.metadata.finalizers;
  const body = [
    current
      ? { op: "test", path: "/metadata/finalizers", value: current }
      : { op: "test", path: "/metadata/resourceVersion", value: obj.metadata.resourceVersion },
    addFinalizerOp(api.kind, obj),
  ];
  return api.patch(obj, body);
}

/**
 * Removes only our finalizer, by index, after testing that the list is still exactly what we read. Idempotent when
 * it is already gone. Throws on a concurrent change; the caller retries.
 */
export async function removeFinalizer(api: ResourceApi, obj: CustomObject): Promise<void> {
  const current = obj.metadata.finalizers ?? [];
  const index = current.indexOf(api.kind.finalizer);
  if (index < 0) return;
  const body = [
    { op: "test", path: "/metadata/finalizers", value: current },
    { op: "remove", path: `/metadata/finalizers/${index}` },
  ];
  await api.patch(obj, body);
}
