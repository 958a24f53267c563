// The custom objects as the controller sees them, and the API coordinates of each kind it reconciles: one
// descriptor per kind, so the watch, the writes, the finalizer and the queue keys are written once for all kinds.
import type { CommonStatus, Condition, DatabaseStatusFields, RoleStatusFields, ServerStatusFields } from "../../crd/status";
import * as databaseCrd from "../../crd/pgdatabase";
import * as roleCrd from "../../crd/pgrole";
import * as serverCrd from "../../crd/pgserver";

export interface ResourceKind {
  readonly kind: "PgDatabase" | "PgRole" | "PgServer";
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  /** Ours on every object we may have changed Postgres for: its deletion comes through us. */
  readonly finalizer: string;
}

/** A kind's coordinates, from the module that generates its CRD. */
function kindOf(crd: typeof databaseCrd | typeof roleCrd | typeof serverCrd): ResourceKind {
  return { kind: crd.KIND, group: crd.GROUP, version: crd.VERSION, plural: crd.PLURAL, finalizer: `${crd.CRD_NAME}/finalizer` };
}

export const PG_DATABASE = kindOf(databaseCrd);
export const PG_ROLE = kindOf(roleCrd);
/** Not reconciled through the work queue: checked by the server registry (controller/server/servers). */
export const PG_SERVER = kindOf(serverCrd);
/** The kinds the work queue reconciles. */
export const KINDS: readonly ResourceKind[] = [PG_DATABASE, PG_ROLE];

/**
 * The creation intent (controller/database/creating): set, to the database name, right before CREATE DATABASE runs,
 * with CLAIMED_AT_ANNOTATION; done once the status names that claim (status.creationClaim).
 */
export const CREATING_ANNOTATION = "pgdatabases.my.local/creating";

/** When the creation intent was recorded (RFC 3339): the claim's identity, and how old it is. */
export const CLAIMED_AT_ANNOTATION = "pgdatabases.my.local/creating-at";

/** Set to any new value to have a PgRole's password rotated (see controller/role/credentials). */
export const ROTATE_ANNOTATION = "pgroles.my.local/rotate";

/** The common status (conditions, generation, SQL last applied): crd/status.ts, with each kind's own fields. */
export type { CommonStatus, Condition };

/** Each kind's own status fields: crd/status.ts, where the CRDs' status schemas come from too. */
export interface PgDatabaseStatus extends CommonStatus, DatabaseStatusFields {}
export interface PgRoleStatus extends CommonStatus, RoleStatusFields {}

export interface CustomObject<Status extends CommonStatus = CommonStatus> {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    /** RFC 3339, to the second: which of two PgServers for one Postgres came first. */
    creationTimestamp?: string;
    // Arrives as a string in JSON; only its presence is used.
    deletionTimestamp?: Date;
    finalizers?: string[];
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  status?: Status;
}

export interface PgServerStatus extends CommonStatus, ServerStatusFields {}

export type PgDatabaseObject = CustomObject<PgDatabaseStatus>;
/** Cluster-scoped: its metadata.namespace is absent. */
export type PgServerObject = CustomObject<PgServerStatus>;
export type PgRoleObject = CustomObject<PgRoleStatus>;

/** An object's key in its kind's informer cache: namespace/name. */
export { objectKey as keyOf } from "../kube/informer";

/** The work queue's key: the kind, then the cache key, so one queue serves every kind. */
export function queueKey(kind: ResourceKind, objectKey: string): string {
  return `${kind.kind}/${objectKey}`;
}

/** The kind and cache key a queue key names. */
export function fromQueueKey(key: string): { kind: ResourceKind; objectKey: string } {
  const slash = key.indexOf("/");
  const kind = KINDS.find((k) => k.kind === key.slice(0, slash));
  if (!kind) throw new Error(`work queue key ${JSON.stringify(key)} names no kind the controller reconciles`);
  return { kind, objectKey: key.slice(slash + 1) };
}
