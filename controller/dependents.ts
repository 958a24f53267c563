// What waits on what between kinds: a database waits for the roles it names (owner, access) to exist, and a role's deletion waits for
// the databases it owns to go. Each waits at its slow retry otherwise; these say whom to bring back at once. Pure.
import { type CustomObject, keyOf } from "./resource";
import { readyReason } from "./status";

/**
 * Cache keys of the PgDatabases that name role `role` (as owner, or in access) and are not Ready yet: they may have
 * failed for want of it.
 */
export function databasesWaitingFor(role: unknown, databases: readonly CustomObject[]): string[] {
  if (typeof role !== "string") return [];
  const names = (db: CustomObject): unknown[] => [
    db.spec?.owner,
    ...(Array.isArray(db.spec?.access) ? db.spec.access.map((a: { role?: unknown }) => a?.role) : []),
  ];
  return databases
    .filter((db) => names(db).includes(role) && !db.metadata.deletionTimestamp && readyReason(db) !== "Reconciled")
    .map(keyOf);
}

/** Cache keys of the PgRoles being deleted whose role is `owner` (a database it owned was just dropped or released). */
export function rolesWaitingOn(owner: unknown, roles: readonly CustomObject[]): string[] {
  if (typeof owner !== "string") return [];
  return roles.filter((r) => r.spec?.name === owner && r.metadata.deletionTimestamp).map(keyOf);
}
