// What the reconcilers of every kind share: what they are given, what they return, and the namespace rule for
// taking over from another manager.
import { escapeIdentifier } from "pg";
import * as core from "../../core";
import { removeFinalizer } from "./finalizer";
import { KubeApiError } from "../kube/client";
import type { Outcome } from "./queue";
import type { CommonStatus, CustomObject } from "./objects";
import type { ResourceApi } from "./writes";
import type { ServerConnection } from "../server/servers";
import { buildStatus, type ReadyReason, readyReason, recordEvent, type Verdict, writeStatus } from "./status";

export interface ReconcilerDeps<T extends CustomObject> {
  readonly api: ResourceApi;
  /** The connection to the server an object names (spec.server); throws ServerUnavailable when it cannot be used. */
  readonly servers: { resolve(server: string, namespace: string): Promise<ServerConnection> };
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
  /** The object's server did not answer: it comes back as soon as the server does (../server/waiters). */
  readonly waitsForServer?: boolean;
}

/**
 * When a reconcile that failed with `e` comes back: after the failure's own hint when it gives one (retryAfterMs),
 * else a passing failure after the queue's backoff, and at once when its server answers again if the server did not
 * answer; a permanent one at the slow retry.
 */
export function afterFailure(e: core.PgKopfError, slowRetryMs: number): Pick<ReconcileResult, "outcome" | "waitsForServer"> {
  const later = (ms: number) => ({ kind: "requeueAfter", ms }) as const;
  return {
    outcome: e.retryAfterMs !== undefined ? later(e.retryAfterMs) : e.transient ? { kind: "retry" } : later(slowRetryMs),
    ...(core.serverDown(e) ? { waitsForServer: true } : {}),
  };
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

/**
 * Who an object is for the ownership rule: its manager, and the cluster's rule for taking over (crossNamespaceTakeover),
 * so that a NotOwned message advises only what works here.
 */
export function clusterOwner(obj: CustomObject): Pick<core.OwnershipContext, "manager" | "adoptsFrom"> {
  const namespace = obj.metadata.namespace;
  return {
    manager: core.kubernetesManager(namespace, obj.metadata.name),
    adoptsFrom: (stamped, target) => {
      const other = /^kubernetes:([^/]+)\//.exec(stamped)?.[1];
      if (other === namespace) return undefined;
      if (other !== undefined)
        return `Only an object in namespace ${other} may take it over (adoptFrom: ${JSON.stringify(stamped)} there); otherwise choose another name.`;
      const what = `${target.kind === "database" ? "DATABASE" : "ROLE"} ${escapeIdentifier(target.name)}`;
      return (
        `A cluster object cannot take over from ${stamped}: to move it here, have that manager let it go (with ` +
        `reclaimPolicy: retain there, remove it from that stack or program, which leaves it in place), clear its stamp ` +
        `(COMMENT ON ${what} IS NULL), then set adopt: true; otherwise choose another name.`
      );
    },
  };
}

/**
 * Writes the verdict as the object's status; a failure whose reason is new for the object also gets a Warning Event
 * (one per change of reason, not one per retry), whatever found it: the spec's parse, Postgres, the API server.
 */
export async function finish<S extends CommonStatus>(
  deps: ReconcilerDeps<CustomObject<S>>,
  obj: CustomObject<S>,
  verdict: Verdict<S>,
): Promise<void> {
  if (!verdict.ready && readyReason(obj) !== verdict.reason) await recordEvent(deps, obj, "Warning", verdict.reason, verdict.message);
  await writeStatus(deps.api, obj, buildStatus(obj, verdict));
}

/**
 * API answers that retrying the same write will not change: invalid (400, 422) or forbidden (403: RBAC, a quota, an
 * admission policy). Conflicts, timeouts and 5xx are passing: the queue retries them.
 */
const REFUSED_CODES = [400, 403, 422];

/**
 * Ends a reconcile whose write on the object's behalf (its Secret, its finalizer, its creation intent) the API server
 * refused, in the object's status and an Event, with what the API server said: otherwise the object would stay
 * without a status while the queue retried the same refused write forever. Anything else is rethrown for the queue.
 * `kept`: the kind's status details that must survive the failure.
 */
export async function finishRefused<S extends CommonStatus>(
  deps: ReconcilerDeps<CustomObject<S>>,
  obj: CustomObject<S>,
  err: unknown,
  kept: Omit<S, keyof CommonStatus>,
): Promise<ReconcileResult> {
  if (!(err instanceof KubeApiError) || !REFUSED_CODES.includes(err.code)) throw err;
  const message =
    `the Kubernetes API server refused a write pg-kopf makes for this object (${err.message}). ` +
    "Change what it names: a field of this spec (spec.secretName for a Secret's name), the namespace's quota or admission policy, or the controller's RBAC; pg-kopf tries again when the object changes and every few minutes.";
  await finish(deps, obj, { ready: false, reason: "KubernetesRefused", message, details: kept });
  deps.log.warn({ kind: obj.kind, name: obj.metadata.name, code: err.code }, err.message);
  return { outcome: { kind: "requeueAfter", ms: deps.slowRetryMs }, reason: "KubernetesRefused" };
}

/**
 * The end of an object's deletion, for every kind: `reclaim` (undefined: reclaimPolicy retain, or a spec that does
 * not parse and so cannot say "delete", which loses nothing) drops what the object made; on failure the finalizer
 * stays, the status says why, and the queue comes back. Something not ours to drop is left, and does not block the
 * deletion. `kept`: the kind's status details that must survive a failed attempt.
 */
export async function finishDeletion<S extends CommonStatus>(
  deps: ReconcilerDeps<CustomObject<S>>,
  obj: CustomObject<S>,
  subject: string,
  reclaim: (() => Promise<void>) | undefined,
  kept: Omit<S, keyof CommonStatus>,
): Promise<ReconcileResult> {
  if (reclaim) {
    try {
      await reclaim();
    } catch (err) {
      const e = core.classifyError(err);
      if (!(e instanceof core.NotOwned)) {
        // Postgres down, sessions connected, objects still owned: keep the finalizer, say why, and try again.
        if (readyReason(obj) !== "Deleting") await recordEvent(deps, obj, "Warning", e.reason, e.message);
        await writeStatus(
          deps.api,
          obj,
          buildStatus(obj, { ready: false, reason: "Deleting", message: `${e.reason}: ${e.message}`, details: kept }),
        );
        return { ...afterFailure(e, deps.slowRetryMs), reason: "Deleting" };
      }
      // Not ours to drop: it stays, and so nothing blocks the deletion of the resource.
      // (The message says it is left in place.)
      await recordEvent(deps, obj, "Warning", "NotOwned", e.message);
    }
  } else {
    await recordEvent(deps, obj, "Normal", "Retained", `${subject} left in place (reclaimPolicy retain)`);
  }
  await removeFinalizer(deps.api, obj);
  return { outcome: { kind: "done" }, reason: "Released" };
}
