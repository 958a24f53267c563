// One level-based reconcile of a PgDatabase, as a ladder of early returns: fetch, deleting, validate, converge (the
// finalizer and any creation intent in one write right before the first change), status. Status is written once, at
// the end, and only when it changed; the outcome tells the queue when to come back.
import * as core from "../../core";
import { parsePgDatabaseSpec } from "../../crd/pgdatabase";
import { addFinalizer, hasFinalizer } from "../runtime/finalizer";
import { KubeApiError } from "../kube/client";
import { claimsCreation, clearUntimedClaim, doneClaim, prepareForChange } from "./creating";
import { readyReason, recordEvent, type Verdict } from "../runtime/status";
import type { PgDatabaseObject, PgDatabaseStatus } from "../runtime/objects";
import {
  afterFailure,
  clusterOwner,
  crossNamespaceTakeover,
  finish,
  finishDeletion,
  finishRefused,
  type ReconcileResult,
  type ReconcilerDeps,
} from "../runtime/reconcile";

/** What one reconcile has learnt so far: the object as last written, the statements run, what failed where. */
interface Attempt {
  current: PgDatabaseObject;
  readonly database: string;
  readonly sql: string[];
  /** An API failure while recording the creation intent is not a Postgres verdict: the queue retries it. */
  apiError?: unknown;
  creating: boolean;
}

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

  const failures = parsed.ok ? crossNamespaceTakeover("PgDatabase", parsed.spec.adoptFrom, obj.metadata.namespace) : parsed.failures;
  if (failures.length > 0) {
    // Nothing to retry: the next change to the spec brings the object back.
    // What was applied and the claim marked done stay recorded: the spec's next fix needs them.
    await finish(deps, obj, {
      ready: false,
      reason: "InvalidSpec",
      message: new core.InvalidSpec(failures).message,
      details: keptStatus(obj),
    });
    return { outcome: { kind: "done" }, reason: "InvalidSpec" };
  }
  if (!parsed.ok) return { outcome: { kind: "done" }, reason: "InvalidSpec" };

  const attempt: Attempt = { current: obj, database: parsed.spec.name, sql: [], creating: false };
  try {
    const { settings } = await deps.servers.resolve(parsed.server, obj.metadata.namespace);
    const ctx = { ...clusterOwner(obj), claimsUnstamped: claimsCreation(obj, attempt.database), previous: keptMemory(obj) };
    const { observed } = await core.convergeDatabase(settings, parsed.spec, ctx, {
      onStep: (_step, statement) => attempt.sql.push(statement),
      beforeApply: (steps) => beforeApply(deps, attempt, steps),
    });
    return await finishReconciled(deps, attempt, parsed.spec, observed);
  } catch (err) {
    return finishFailed(key, deps, attempt, err);
  }
}

/**
 * Right before the first statement: warn when a database this object had is gone (re-creating it empty is what the
 * spec says, but never silently), and record the finalizer and any creation intent in one write.
 */
async function beforeApply(deps: ReconcilerDeps<PgDatabaseObject>, attempt: Attempt, steps: readonly core.DatabaseStep[]): Promise<void> {
  attempt.creating = steps.some((step) => step.kind === "createDatabase");
  const had = attempt.current.status?.database;
  if (attempt.creating && had) {
    await recordEvent(
      deps,
      attempt.current,
      "Warning",
      "Recreating",
      `database "${attempt.database}" (oid ${had.oid}) is gone from Postgres; creating it again, empty. Restore its data from a backup if it was dropped by mistake.`,
    );
  }
  const claim = attempt.creating && !claimsCreation(attempt.current, attempt.database) ? attempt.database : undefined;
  attempt.current = await prepareForChange(deps.api, attempt.current, claim).catch((err: unknown) => {
    attempt.apiError = err;
    throw err;
  });
}

async function finishReconciled(
  deps: ReconcilerDeps<PgDatabaseObject>,
  attempt: Attempt,
  spec: core.PgDatabaseSpec,
  observed: core.ObservedDatabase,
): Promise<ReconcileResult> {
  let current = attempt.current;
  const { sql } = attempt;
  // The database is there and stamped: the status write below marks the claim done (an untimed one goes).
  if (claimsCreation(current, attempt.database)) current = await clearUntimedClaim(deps.api, current);
  // Nothing changed in Postgres, but a later deletion must still come through us (reclaimPolicy delete).
  if (!hasFinalizer(deps.api.kind, current)) current = await addFinalizer(deps.api, current);
  // Routine success writes no Event: the statements are in status.lastAppliedSql. Events are for what needs eyes:
  // statements run for a spec already reconciled mean Postgres was changed by hand (drift), now repaired.
  const drifted = !attempt.creating && sql.length > 0 && readyReason(current) === "Reconciled";
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
        config: { ...observed.config },
      },
      ...appliedMemory(spec),
      ...doneClaim(current),
    },
    appliedSql: sql,
  });
  return { outcome: { kind: "done" }, reason: "Reconciled" };
}

async function finishFailed(key: string, deps: ReconcilerDeps<PgDatabaseObject>, attempt: Attempt, err: unknown): Promise<ReconcileResult> {
  let current = attempt.current;
  if (attempt.apiError || err instanceof KubeApiError) return finishRefused(deps, current, attempt.apiError ?? err, keptStatus(current));
  const e = inClusterWords(core.classifyError(err));
  // Postgres refused the CREATE itself (it answered with an error, e.g. someone else created the database just
  // now): nothing was created, so the claim is done. A lost connection leaves it live, as the CREATE may have run.
  const refusedCreate = attempt.creating && attempt.sql.length === 0 && e.sqlstate && claimsCreation(current, attempt.database);
  if (refusedCreate) current = await clearUntimedClaim(deps.api, current);
  const verdict: Verdict<PgDatabaseStatus> = {
    ready: false,
    reason: e.reason,
    message: e.message,
    appliedSql: attempt.sql,
    details: { ...keptStatus(current), ...(refusedCreate ? doneClaim(current) : {}) },
  };
  await finish(deps, current, verdict);
  deps.log.warn({ key, reason: e.reason, transient: e.transient, sqlstate: e.sqlstate }, e.message);
  return { ...afterFailure(e, deps.slowRetryMs), reason: e.reason };
}

/** A failure with the remedy a cluster user applies, where the core's is the engines' common one. */
function inClusterWords(e: core.PgKopfError): core.PgKopfError {
  if (!(e instanceof core.RoleMissing)) return e;
  return e.withRemedy(
    `create it (a PgRole whose spec.name is "${e.roles[0]}", on this object's server: this object is reconciled again as soon as that PgRole is Ready), or remove it from ${e.field}`,
  );
}

type Memory = Pick<PgDatabaseStatus, "access" | "config" | "roleConfig">;

/** What a success records as applied (the status' memory, docs/adr/0020): the access and settings of the spec. */
function appliedMemory(spec: core.PgDatabaseSpec): Memory {
  return {
    ...(spec.access?.length ? { access: [...spec.access] } : {}),
    ...(spec.config && Object.keys(spec.config).length ? { config: { ...spec.config } } : {}),
    ...(spec.roleConfig && Object.keys(spec.roleConfig).length ? { roleConfig: structuredClone(spec.roleConfig) } : {}),
  };
}

/** What was applied before stays recorded until a success replaces it: a failure (one transaction) granted nothing. */
function keptMemory(obj: PgDatabaseObject): Memory {
  const { access, config, roleConfig } = obj.status ?? {};
  return { ...(access ? { access } : {}), ...(config ? { config } : {}), ...(roleConfig ? { roleConfig } : {}) };
}

/** What a failure's status keeps: the memory, and the creation claim last marked done. */
function keptStatus(obj: PgDatabaseObject): Memory & Pick<PgDatabaseStatus, "creationClaim"> {
  const claim = obj.status?.creationClaim;
  return { ...keptMemory(obj), ...(claim ? { creationClaim: claim } : {}) };
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
        const steps = await core.reclaimDatabase(settings, dropping.spec, { manager });
        for (const step of steps) await recordEvent(deps, obj, "Normal", "Dropped", core.databaseStepSql(step));
      }
    : undefined;
  const name = parsed.ok ? parsed.spec.name : String(obj.spec?.name);
  return finishDeletion(deps, obj, `database "${name}"`, reclaim, {});
}
