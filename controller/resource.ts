// The PgDatabase object as the controller sees it, and the API coordinates shared by the controller's modules.
import { GROUP, PLURAL, VERSION, KIND } from "../crd/pgdatabase";

export const FINALIZER = "pgdatabases.my.local/finalizer";
/** Set, to the database name, right before CREATE DATABASE runs and removed once the database is stamped. */
export const CREATING_ANNOTATION = "pgdatabases.my.local/creating";
/** Where PgDatabase objects live in the API: spread into the client's custom-object calls. */
export const API = { group: GROUP, version: VERSION, plural: PLURAL } as const;
export { KIND };

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface PgDatabaseStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  database?: { oid: number; owner: string; encoding: string; tablespace: string; connectionLimit: number };
  lastAppliedSql?: string[];
}

export interface PgDatabaseObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    // The client types it as a Date; custom objects arrive as parsed JSON, so it is really a string. Only its
    // presence is used.
    deletionTimestamp?: Date;
    finalizers?: string[];
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  status?: PgDatabaseStatus;
}

/** The work-queue key of an object: namespace/name, the informer's cache key, so the queue looks objects up by it. */
export { objectKey as keyOf } from "./kube/informer";
