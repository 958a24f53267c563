// The status of every kind: built once per reconcile from what happened, written with a merge patch to the status
// subresource only when it changed, plus Kubernetes Events. Never carries secrets: only names, SQL and reasons.
import { isDeepStrictEqual } from "node:util";
import type { FailureReason } from "../../core/errors";
import type { ResourceApi } from "./writes";
import type { CommonStatus, Condition, CustomObject } from "./objects";

/**
 * Why an object is (not) Ready: the core's failure reasons, the controller's own about credentials Secrets, and a write
 * on the object's behalf that the API server refused (KubernetesRefused).
 */
export type ReadyReason = "Reconciled" | "Deleting" | FailureReason | CredentialsReason | ServerReason | "KubernetesRefused";
/**
 * A PgServer's: connected (Reachable), or why not: down or not answering in time (Unreachable), the admin
 * credentials or the certificate refused, its Secret or CA not readable, the Postgres it reaches already another
 * server (SameServer), its admin able to manage neither databases nor roles (AdminLacksPrivilege), its spec or
 * Postgres refusing otherwise.
 */
export type ServerReason =
  | "Reachable"
  | "Unreachable"
  | "AuthenticationFailed"
  | "TLSVerificationFailed"
  | "CredentialsNotFound"
  | "CANotFound"
  | "SameServer"
  | "AdminLacksPrivilege"
  | "Rejected";
/** A PgRole's credentials cannot be written: the Secret's name is another's, or Secrets there are not ours to manage. */
export type CredentialsReason = "SecretNotOwned" | "SecretsNotAllowed";

export interface Verdict<S extends CommonStatus = CommonStatus> {
  readonly ready: boolean;
  readonly reason: ReadyReason;
  readonly message: string;
  /** The kind's own status fields this reconcile established (what it observed); absent ones are left out. */
  readonly details?: Omit<S, keyof CommonStatus>;
  readonly appliedSql?: readonly string[];
}

/**
 * The whole status for `obj`, rebuilt from this reconcile's verdict: nothing of the old status survives except the
 * Ready condition's lastTransitionTime (when the condition did not change) and lastAppliedSql (history by
 * definition). The kind's details are there only when this reconcile established them. Pure but for the clock.
 */
export function buildStatus<S extends CommonStatus>(obj: CustomObject<S>, v: Verdict<S>, now = new Date()): S {
  const previous = obj.status?.conditions?.find((c) => c.type === "Ready");
  const status: Condition["status"] = v.ready ? "True" : "False";
  const ready: Condition = {
    type: "Ready",
    status,
    reason: v.reason,
    message: v.message,
    observedGeneration: obj.metadata.generation,
    lastTransitionTime: previous && previous.status === status ? previous.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
  const out = { observedGeneration: obj.metadata.generation, conditions: [ready], ...v.details } as S;
  const applied = v.appliedSql && v.appliedSql.length > 0 ? [...v.appliedSql] : obj.status?.lastAppliedSql;
  if (applied) out.lastAppliedSql = applied;
  return out;
}

/**
 * Writes the status if it differs from the object's, compared by value (the API server returns keys in its own
 * order). Custom resources need a merge patch, not the client's default; a key the new status no longer has is
 * removed with null, as merge patches require.
 */
export async function writeStatus<S extends CommonStatus>(api: ResourceApi, obj: CustomObject<S>, status: S): Promise<boolean> {
  if (sameStatus(status, obj.status)) return false;
  const removed = Object.keys(obj.status ?? {}).filter((k) => !(k in status));
  await api.patchStatus(obj, { ...Object.fromEntries(removed.map((k) => [k, null])), ...status });
  return true;
}

/** Whether two statuses say the same, whatever the order of their keys. */
export function sameStatus(a: CommonStatus, b: CommonStatus | undefined): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b ?? {})));
}

/** Where Events go, and where a failure to record one is logged. */
export interface EventSink {
  readonly api: ResourceApi;
  /** Who we are (the pod), for the Event's reporting instance. */
  readonly reporter: string;
  readonly log: { warn(o: object, m: string): void };
}

/** Records a Kubernetes Event on the object. Best effort: a failed event never fails a reconcile. */
export async function recordEvent(
  sink: EventSink,
  obj: CustomObject,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
): Promise<void> {
  const now = new Date();
  // A cluster-scoped object's (a PgServer's) Events go to the default namespace, as Kubernetes' own do.
  const namespace = obj.metadata.namespace || "default";
  await sink.api
    .createEvent(namespace, {
      metadata: { generateName: `${obj.metadata.name}.`, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: "pg-kopf" },
      reportingComponent: "pg-kopf",
      reportingInstance: sink.reporter,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    })
    // An event is a notice, not the outcome: a failure to record one never fails a reconcile, but it is logged.
    .catch((err: unknown) =>
      sink.log.warn(
        { err: (err as Error).message, reason, object: `${obj.metadata.namespace}/${obj.metadata.name}` },
        "could not record an event",
      ),
    );
}

/** The reason of the object's Ready condition, as last written. */
export function readyReason(obj: CustomObject): string | undefined {
  return obj.status?.conditions?.find((c) => c.type === "Ready")?.reason;
}
