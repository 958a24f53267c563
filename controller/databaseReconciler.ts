// One level-based reconcile of a PgDatabase, as a ladder of early returns: fetch, deleting, validate, converge (the
// finalizer and any creation intent in one write right before the first change), status. Status is written once, at
// the end, and only when it changed; the outcome tells the queue when to come back.
import * as core from "../core";
import { parsePgDatabaseSpec } from "../crd/pgdatabase";
import { addFinalizer, hasFinalizer } from "./finalizer";
import { KubeApiError } from "./kube/client";
import { claimsCreation, clearCreating, prepareForChange } from "./creating";
import { readyReason, recordEvent, type Verdict } from "./status";
import type { PgDatabaseObject, PgDatabaseStatus } from "./resource";
import {
  afterFailure,
  clusterOwner,
  crossNamespaceTakeover,
  finish,
  finishDeletion,
  finishRefused,
  type ReconcileResult,
  type ReconcilerDeps,
} from "./reconcile";

/**
 * Reconciles one object. Idempotent: running it again with nothing changed runs no SQL and writes no status.
 * Throws only on unexpected API errors; the queue then retries with backoff.
 */
export async function reconcileDatabase(key: string, deps: ReconcilerDeps<PgDatabaseObject>): Promise<ReconcileResult> {
  const obj = deps.get(key);
  if (!obj) return { outcome: { kind: "done" }, reason: "Gone" };
  const manager = core.kubernetesManager(obj.metadata.namespace, obj.metadata.name);
  const parsed = parsePgDatabaseSpec(obj.spec);

  if (obj.metadata.deletionTimestamp) return reconcileDeletion(obj, parsed, manager, deps);

  let current = obj;

  const failures = parsed.ok ? crossNamespaceTakeover("PgDatabase", parsed.spec.adoptFrom, obj.metadata.namespace) : parsed.failures;
  if (failures.length > 0) {
    // Nothing to retry: the next change to the spec brings the object back.
    await finish(deps, current, { ready: false, reason: "InvalidSpec", message: new core.InvalidSpec(failures).message });
    return { outcome: { kind: "done" }, reason: "InvalidSpec" };
  }
  if (!parsed.ok) return { outcome: { kind: "done" }, reason: "InvalidSpec" };

  const database = parsed.spec.name;
  const sql: string[] = [];
  // An API failure while recording the creation intent is not a Postgres verdict: the queue retries it.
  let apiError: unknown;
  let creating = false;
  const beforeApply = async (steps: readonly core.Step[]) => {
    creating = steps.some((step) => step.kind === "createDatabase");
    // It was there when this object last looked: someone dropped it. Re-creating it empty is what the spec says,
    // but never silently.
    const had = current.status?.database;
    if (creating && had) {
      await recordEvent(
        deps,
        current,
        "Warning",
        "Recreating",
        `database "${database}" (oid ${had.oid}) is gone from Postgres; creating it again, empty. Restore its data from a backup if it was dropped by mistake.`,
      );
    }
    const claim = creating && !claimsCreation(current, database) ? database : undefined;
    current = await prepareForChange(deps.api, current, claim).catch((err: unknown) => {
      apiError = err;
      throw err;
    });
  };
  try {
    const { settings } = await deps.servers.resolve(parsed.server, obj.metadata.namespace);
    const ctx = { ...clusterOwner(obj), claimsUnstamped: claimsCreation(current, database) };
    const { observed } = await core.converge(settings, parsed.spec, ctx, {
      onStep: (_step, statement) => sql.push(statement),
      beforeApply,
      previousAccess: current.status?.access ?? [],
    });
    if (claimsCreation(current, database)) current = await clearCreating(deps.api, current);
    // Nothing changed in Postgres, but a later deletion must still come through us (reclaimPolicy delete).
    if (!hasFinalizer(deps.api.kind, current)) current = await addFinalizer(deps.api, current);
    // Routine success writes no Event: the statements are in status.lastAppliedSql. Events are for what needs eyes:
    // statements run for a spec already reconciled mean Postgres was changed by hand (drift), now repaired.
    const drifted = !creating && sql.length > 0 && readyReason(current) === "Reconciled";
    if (drifted && current.status?.observedGeneration === current.metadata.generation)
      await recordEvent(deps, current, "Warning", "Drifted", `Postgres no longer matched the spec; repaired with: ${sql.join("; ")}`);
    await finish(deps, current, {
      ready: true,
      reason: "Reconciled",
      // The same message whether or not statements ran this time (they are in lastAppliedSql): otherwise the
      // reconcile that our own status write triggers would write the status a second time.
      message: "database matches the spec",
      details: {
        database: {
          oid: observed.oid,
          owner: observed.owner,
          encoding: observed.encoding,
          tablespace: observed.tablespace,
          connectionLimit: observed.connectionLimit,
        },
        ...(parsed.spec.access?.length ? { access: [...parsed.spec.access] } : {}),
      },
      appliedSql: sql,
    });
    return { outcome: { kind: "done" }, reason: "Reconciled" };
  } catch (err) {
    if (apiError || err instanceof KubeApiError) return finishRefused(deps, current, apiError ?? err, keptAccess(current));
    const e = inClusterWords(core.classifyError(err));
    // Postgres refused the CREATE itself (it answered with an error, e.g. someone else created the database just
    // now): nothing was created, so the intent goes. A lost connection leaves it, as the CREATE may have run.
    if (creating && sql.length === 0 && e.sqlstate && claimsCreation(current, database)) current = await clearCreating(deps.api, current);
    const verdict: Verdict<PgDatabaseStatus> = {
      ready: false,
      reason: e.reason,
      message: e.message,
      appliedSql: sql,
      details: keptAccess(current),
    };
    await finish(deps, current, verdict);
    deps.log.warn({ key, reason: e.reason, transient: e.transient, sqlstate: e.sqlstate }, e.message);
    return { ...afterFailure(e, deps.slowRetryMs), reason: e.reason };
  }
}

/** A failure with the remedy a cluster user applies, where the core's is the engines' common one. */
function inClusterWords(e: core.PgKopfError): core.PgKopfError {
  if (!(e instanceof core.RoleMissing)) return e;
  return e.withRemedy(
    `create it (a PgRole whose spec.name is "${e.roles[0]}", on this object's server: this object is reconciled again as soon as that PgRole is Ready), or remove it from ${e.field}`,
  );
}

/** What was granted before stays recorded until a success replaces it: a failure (one transaction) granted nothing. */
function keptAccess(obj: PgDatabaseObject): Pick<PgDatabaseStatus, "access"> {
  return obj.status?.access ? { access: obj.status.access } : {};
}

async function reconcileDeletion(
  obj: PgDatabaseObject,
  parsed: ReturnType<typeof parsePgDatabaseSpec>,
  manager: string,
  deps: ReconcilerDeps<PgDatabaseObject>,
): Promise<ReconcileResult> {
  if (!hasFinalizer(deps.api.kind, obj)) return { outcome: { kind: "done" }, reason: "Gone" };
  const dropping = parsed.ok && parsed.spec.reclaimPolicy === "delete" ? parsed : undefined;
  const reclaim = dropping
    ? async () => {
        const { settings } = await deps.servers.resolve(dropping.server, obj.metadata.namespace);
        const steps = await core.reclaim(settings, dropping.spec, { manager });
        for (const step of steps) await recordEvent(deps, obj, "Normal", "Dropped", core.stepSql(step));
      }
    : undefined;
  const name = parsed.ok ? parsed.spec.name : String(obj.spec?.name);
  return finishDeletion(deps, obj, `database "${name}"`, reclaim, {});
}
