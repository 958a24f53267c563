// What waits on what between kinds: a database waits for the roles it names (owner, access, roleConfig) to exist, and a role's deletion waits for
// the databases it owns to go. Each waits at its slow retry otherwise; these say whom to bring back at once. Pure.
import { serverOf as specServer } from "../crd/server";
import { type CustomObject, keyOf, type PgDatabaseObject } from "./runtime/objects";
import { readyReason } from "./runtime/status";

/** The server an object lives on (spec.server, default when absent). */
const serverOf = (obj: CustomObject): string => specServer(obj.spec);

/** Cache keys of the objects on `server`: what a change of that server's state concerns. */
export function objectsOn(server: string, objects: readonly CustomObject[]): string[] {
  return objects.filter((obj) => serverOf(obj) === server).map(keyOf);
}

/**
 * Cache keys of the PgDatabases that name role `role` (as owner, in access or in roleConfig) on the role's server and are not
 * Ready yet: they may have failed for want of it.
 */
export function databasesWaitingFor(role: CustomObject | undefined, databases: readonly CustomObject[]): string[] {
  const name = role?.spec?.name;
  if (!role || typeof name !== "string") return [];
  const names = (db: CustomObject): unknown[] => [
    db.spec?.owner,
    ...(Array.isArray(db.spec?.access) ? db.spec.access.map((a: { role?: unknown }) => a?.role) : []),
    ...(typeof db.spec?.roleConfig === "object" && db.spec.roleConfig !== null ? Object.keys(db.spec.roleConfig) : []),
  ];
  return databases
    .filter(
      (db) =>
        names(db).includes(name) && serverOf(db) === serverOf(role) && !db.metadata.deletionTimestamp && readyReason(db) !== "Reconciled",
    )
    .map(keyOf);
}

/**
 * Cache keys of the PgRoles being deleted whose role owned `database` (on the same server): it was just dropped or
 * released.
 */
export function rolesWaitingOn(database: PgDatabaseObject | undefined, roles: readonly CustomObject[]): string[] {
  const owner = database?.status?.database?.owner ?? database?.spec?.owner;
  if (!database || typeof owner !== "string") return [];
  return roles.filter((r) => r.spec?.name === owner && serverOf(r) === serverOf(database) && r.metadata.deletionTimestamp).map(keyOf);
}
