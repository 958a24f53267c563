// The status of a PgDatabase: built once per reconcile from what happened, written with a merge patch to the status
// subresource only when it changed, plus Kubernetes Events. Never carries secrets: only names, SQL and reasons.
import * as k8s from "@kubernetes/client-node";
import type { ObservedDatabase } from "../core/observe";
import type { FailureReason } from "../core/errors";
import { API, type Condition, type PgDatabaseObject, type PgDatabaseStatus } from "./resource";

export type ReadyReason = "Reconciled" | "Deleting" | FailureReason;

export interface Verdict {
  readonly ready: boolean;
  readonly reason: ReadyReason;
  readonly message: string;
  readonly observed?: ObservedDatabase;
  readonly appliedSql?: readonly string[];
}

/** The new status for `obj` given the reconcile's verdict. Keeps lastTransitionTime when the condition did not change. Pure but for the clock. */
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
  const out: PgDatabaseStatus = {
    ...obj.status,
    observedGeneration: obj.metadata.generation,
    conditions: [...(obj.status?.conditions ?? []).filter((c) => c.type !== "Ready"), ready],
  };
  if (v.observed) {
    const o = v.observed;
    out.database = { oid: o.oid, owner: o.owner, encoding: o.encoding, tablespace: o.tablespace, connectionLimit: o.connectionLimit };
  }
  if (v.appliedSql && v.appliedSql.length > 0) out.lastAppliedSql = [...v.appliedSql];
  return out;
}

const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);

/** Writes the status if it differs from the object's. Custom resources need a merge patch, not the client's default. */
export async function writeStatus(api: k8s.CustomObjectsApi, obj: PgDatabaseObject, status: PgDatabaseStatus): Promise<boolean> {
  if (JSON.stringify(status) === JSON.stringify(obj.status ?? {})) return false;
  await api.patchNamespacedCustomObjectStatus(
    { ...API, namespace: obj.metadata.namespace, name: obj.metadata.name, body: { status } },
    mergePatch,
  );
  return true;
}

/** Records a Kubernetes Event on the object. Best effort: a failed event never fails a reconcile. */
export async function recordEvent(
  core: k8s.CoreV1Api,
  obj: PgDatabaseObject,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
  reporter: string,
): Promise<void> {
  const now = new Date();
  await core
    .createNamespacedEvent({
      namespace: obj.metadata.namespace,
      body: {
        metadata: { generateName: `${obj.metadata.name}.`, namespace: obj.metadata.namespace },
        involvedObject: {
          apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace,
          uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion,
        },
        type, reason, message: message.slice(0, 1024),
        source: { component: "pg-kopf" },
        reportingComponent: "pg-kopf", reportingInstance: reporter,
        firstTimestamp: now, lastTimestamp: now, count: 1,
      },
    })
    .catch(() => undefined);
}
