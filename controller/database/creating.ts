// The creation intent: CREATE DATABASE cannot run in a transaction with the ownership stamp that follows it, so a
// controller killed between the two would leave an unstamped database it could never touch again (NotOwned). The
// object records "I am creating <name>" before the CREATE and drops the record once the database is stamped; a
// reconcile that finds the record finishes the creation instead of refusing.
import type { ResourceApi } from "../runtime/writes";
import { CREATING_ANNOTATION, type CustomObject, type PgDatabaseObject } from "../runtime/objects";
import { addFinalizerOp, hasFinalizer } from "../runtime/finalizer";

const POINTER = `/metadata/annotations/${CREATING_ANNOTATION.replace(/~/g, "~0").replace(/\//g, "~1")}`;

/** Whether `obj` recorded that it was creating database `database`. */
export function claimsCreation(obj: PgDatabaseObject, database: string): boolean {
  return obj.metadata.annotations?.[CREATING_ANNOTATION] === database;
}

/**
 * One write before the first change in Postgres: our finalizer if it is missing (so nothing is created or altered that
 * a deletion could miss), and, for a database, the creation intent for `creating` when that first change is a CREATE. Fails
 * (409/422) if the object changed since it was read, so nothing runs on a stale view.
 */
export async function prepareForChange<T extends CustomObject>(api: ResourceApi, obj: T, creating?: string): Promise<T> {
  const body: object[] = [{ op: "test", path: "/metadata/resourceVersion", value: obj.metadata.resourceVersion }];
  if (!hasFinalizer(api.kind, obj)) body.push(addFinalizerOp(api.kind, obj));
  if (creating !== undefined) {
    body.push(
      obj.metadata.annotations
        ? { op: "add", path: POINTER, value: creating }
        : { op: "add", path: "/metadata/annotations", value: { [CREATING_ANNOTATION]: creating } },
    );
  }
  if (body.length === 1) return obj;
  return api.patch(obj, body);
}

/** Removes the record if it is still the one we read; leaves everything else in the annotations alone. */
export async function clearCreating(api: ResourceApi, obj: PgDatabaseObject): Promise<PgDatabaseObject> {
  const value = obj.metadata.annotations?.[CREATING_ANNOTATION];
  if (value === undefined) return obj;
  const body = [
    { op: "test", path: POINTER, value },
    { op: "remove", path: POINTER },
  ];
  return api.patch(obj, body);
}
