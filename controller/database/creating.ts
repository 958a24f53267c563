// The creation intent: CREATE DATABASE cannot run in a transaction with the ownership stamp that follows it, so a
// controller killed between the two would leave an unstamped database it could never touch again (NotOwned). The
// object records "I am creating <name>, claimed at <time>" in the one write it makes before the CREATE anyway; a
// reconcile that finds a live claim finishes the creation instead of refusing. The status write that follows the
// creation marks the claim done (status.creationClaim), so a created object costs two API writes, not a third to
// remove the record (docs/adr/0024).
import type { ResourceApi } from "../runtime/writes";
import { CLAIMED_AT_ANNOTATION, CREATING_ANNOTATION, type CustomObject, type PgDatabaseObject } from "../runtime/objects";
import { addFinalizerOp, hasFinalizer } from "../runtime/finalizer";

/**
 * How long a claim the status does not mark done stays live. A controller killed between CREATE and the stamp comes
 * back within minutes; a claim older than this is one whose status was lost (an object restored from a backup without
 * status), which must not take over an unstamped database of that name that someone else made since. A creation
 * really cut off longer ago than this is refused as NotOwned, and adopt: true finishes it.
 */
export const CLAIM_LIFETIME_MS = 60 * 60 * 1000;

const pointer = (annotation: string) => `/metadata/annotations/${annotation.replace(/~/g, "~0").replace(/\//g, "~1")}`;

/** The claim an object records for `database`, if any: its time, or "" for one an earlier release wrote without. */
function claimOf(obj: PgDatabaseObject, database: string): string | undefined {
  const annotations = obj.metadata.annotations ?? {};
  return annotations[CREATING_ANNOTATION] === database ? (annotations[CLAIMED_AT_ANNOTATION] ?? "") : undefined;
}

/**
 * Whether `obj` holds a live claim that it is creating database `database`: recorded, not marked done by its status,
 * and younger than CLAIM_LIFETIME_MS at `now`. A claim without a time (written by an earlier release, which removed
 * it once the database was stamped) is live until removed.
 */
export function claimsCreation(obj: PgDatabaseObject, database: string, now = Date.now()): boolean {
  const at = claimOf(obj, database);
  if (at === undefined) return false;
  if (at === "") return true;
  if (obj.status?.creationClaim === at) return false;
  const age = now - Date.parse(at);
  return age >= 0 && age < CLAIM_LIFETIME_MS;
}

/**
 * What the status records of the object's claim once its database is there and stamped, or once Postgres refused
 * the CREATE: the claim is done. Undefined for an object without a timed claim.
 */
export function doneClaim(obj: PgDatabaseObject): { creationClaim?: string } {
  const at = obj.metadata.annotations?.[CLAIMED_AT_ANNOTATION] ?? obj.status?.creationClaim;
  return at ? { creationClaim: at } : {};
}

/**
 * One write before the first change in Postgres: our finalizer if it is missing (so nothing is created or altered that
 * a deletion could miss), and, for a database, a fresh creation claim for `creating` when that first change is a
 * CREATE. Fails (409/422) if the object changed since it was read, so nothing runs on a stale view.
 */
export async function prepareForChange<T extends CustomObject>(api: ResourceApi, obj: T, creating?: string, now = new Date()): Promise<T> {
  const body: object[] = [{ op: "test", path: "/metadata/resourceVersion", value: obj.metadata.resourceVersion }];
  if (!hasFinalizer(api.kind, obj)) body.push(addFinalizerOp(api.kind, obj));
  if (creating !== undefined) {
    const claim = { [CREATING_ANNOTATION]: creating, [CLAIMED_AT_ANNOTATION]: now.toISOString() };
    if (!obj.metadata.annotations) body.push({ op: "add", path: "/metadata/annotations", value: claim });
    else for (const [key, value] of Object.entries(claim)) body.push({ op: "add", path: pointer(key), value });
  }
  if (body.length === 1) return obj;
  return api.patch(obj, body);
}

/**
 * Removes a claim an earlier release wrote (one without a time, which no status can mark done), if it is still the
 * one we read; leaves a timed claim, and everything else in the annotations, alone.
 */
export async function clearUntimedClaim(api: ResourceApi, obj: PgDatabaseObject): Promise<PgDatabaseObject> {
  const annotations = obj.metadata.annotations ?? {};
  const value = annotations[CREATING_ANNOTATION];
  if (value === undefined || annotations[CLAIMED_AT_ANNOTATION] !== undefined) return obj;
  const body = [
    { op: "test", path: pointer(CREATING_ANNOTATION), value },
    { op: "remove", path: pointer(CREATING_ANNOTATION) },
  ];
  return api.patch(obj, body);
}
