// What the reconcilers of every kind share: what they are given, what they return, and the namespace rule for
// taking over from another manager.
import * as core from "../core";
import type { Outcome } from "./queue";
import type { CustomObject } from "./resource";
import type { ResourceApi } from "./resourceApi";
import type { ReadyReason } from "./status";

export interface ReconcilerDeps<T extends CustomObject> {
  readonly api: ResourceApi;
  readonly settings: core.ConnectionSettings;
  /** The latest object for a cache key, from the informer's cache. */
  readonly get: (key: string) => T | undefined;
  readonly log: { info(o: object, m: string): void; warn(o: object, m: string): void };
  /** Who we are, for events. */
  readonly reporter: string;
  /** How long to wait before checking a permanent failure again (the world may change: a role appears). */
  readonly slowRetryMs: number;
}

export interface ReconcileResult {
  readonly outcome: Outcome;
  readonly reason: ReadyReason | "Gone" | "Released";
}

/**
 * An object may take over a database or role only from a manager in its own namespace: otherwise anyone who can
 * create objects in one namespace could take (and drop) another team's.
 */
export function crossNamespaceTakeover(kind: string, adoptFrom: string | undefined, namespace: string): core.FieldFailure[] {
  if (adoptFrom === undefined || adoptFrom.startsWith(core.kubernetesManager(namespace, ""))) return [];
  return [
    {
      field: "adoptFrom",
      message:
        `a ${kind} in namespace ${namespace} may take over only from a manager in the same namespace (${core.kubernetesManager(namespace, "<name>")}); ` +
        `move the object to the manager's namespace, or ask that manager's owner to hand it over`,
    },
  ];
}
