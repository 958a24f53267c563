// The status of a PgDatabase: built once per reconcile from what happened, written with a merge patch to the status
// subresource only when it changed, plus Kubernetes Events. Never carries secrets: only names, SQL and reasons.
import { isDeepStrictEqual } from "node:util";
import type { ObservedDatabase } from "../core/observe";
import type { FailureReason } from "../core/errors";
import type { PgDatabaseApi } from "./pgDatabaseApi";
import type { Condition, PgDatabaseObject, PgDatabaseStatus } from "./resource";

export type ReadyReason = "Reconciled" | "Deleting" | FailureReason;

export interface Verdict {
  readonly ready: boolean;
  readonly reason: ReadyReason;
  readonly message: string;
  readonly observed?: ObservedDatabase;
  readonly appliedSql?: readonly string[];
}

/**
 * The whole status for `obj`, rebuilt from this reconcile's verdict: nothing of the old status survives except the
 * Ready condition's lastTransitionTime (when the condition did not change) and lastAppliedSql (history by
 * definition). `database` is there only when this reconcile observed the database. Pure but for the clock.
 */
export function buildStatus(obj: PgDatabaseObject, v: Verdict, now = new Date()): PgDatabaseStatus {
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
  const out: PgDatabaseStatus = { observedGeneration: obj.metadata.generation, conditions: [ready] };
  if (v.observed) {
    const o = v.observed;
    out.database = { oid: o.oid, owner: o.owner, encoding: o.encoding, tablespace: o.tablespace, connectionLimit: o.connectionLimit };
  }
  const applied = v.appliedSql && v.appliedSql.length > 0 ? [...v.appliedSql] : obj.status?.lastAppliedSql;
  if (applied) out.lastAppliedSql = applied;
  return out;
}

/**
 * Writes the status if it differs from the object's, compared by value (the API server returns keys in its own
 * order). Custom resources need a merge patch, not the client's default; a key the new status no longer has is
 * removed with null, as merge patches require.
 */
export async function writeStatus(api: PgDatabaseApi, obj: PgDatabaseObject, status: PgDatabaseStatus): Promise<boolean> {
  if (sameStatus(status, obj.status)) return false;
  const removed = Object.keys(obj.status ?? {}).filter((k) => !(k in status));
  await api.patchStatus(obj, { ...Object.fromEntries(removed.map((k) => [k, null])), ...status });
  return true;
}

/** Whether two statuses say the same, whatever the order of their keys. */
export function sameStatus(a: PgDatabaseStatus, b: PgDatabaseStatus | undefined): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b ?? {})));
}

/** Where Events go, and where a failure to record one is logged. */
export interface EventSink {
  readonly api: PgDatabaseApi;
  /** Who we are (the pod), for the Event's reporting instance. */
  readonly reporter: string;
  readonly log: { warn(o: object, m: string): void };
}

/** Records a Kubernetes Event on the object. Best effort: a failed event never fails a reconcile. */
export async function recordEvent(
  sink: EventSink,
  obj: PgDatabaseObject,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
): Promise<void> {
  const now = new Date();
  await sink.api
    .createEvent(obj.metadata.namespace, {
      metadata: { generateName: `${obj.metadata.name}.`, namespace: obj.metadata.namespace },
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
