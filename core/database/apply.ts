// apply: runs planned steps, one statement each, against the maintenance database or (for extensions) the
// database itself; and the two whole operations both adapters use: converge (observe, plan, apply, observe again)
// and reclaim (what deleting the resource does).
import type { Client } from "pg";

/** A server notice as the driver hands it over (pg-protocol's NoticeMessage: what we read of it). */
type NoticeMessage = { code?: string; message?: string };
import { OWNED_PUBLIC_SCHEMA, observeAdmin, observeAdminView } from "../admin";
import { lockPrivileges, retryingRaces } from "../concurrency";
import { inTransaction, withClient, type ConnectionSettings } from "../connect";
import { AdminLacksPrivilege, classifyError, PlanChanged, PostgresRejected, RoleMissing } from "../errors";
import { observeDatabaseAndRolesWith, observeDatabaseWith, observeExtensionsWith, observeSessions, type ObservedDatabase } from "./observe";
import { type DatabaseMemory, needsAccess } from "./behaviours";
import { superuserKeysIn } from "../settings";
import { planDatabase, planDatabaseDelete, type DatabasePlanContext } from "./plan";
import { accessSchemas, observeAccessWith, observeTemplatePublicSchema, type TemplatePublicSchema } from "./access";
import type { PgDatabaseSpec } from "./spec";
import { describeDatabaseStep, databaseStepField, databaseStepSql, databaseStepTarget, type DatabaseStep } from "./steps";

/**
 * Runs the steps in order, each as one statement, on `admin` (a client of the maintenance database) or, for steps
 * inside a database, on a client of that database. Not atomic (CREATE DATABASE cannot run in a transaction): a
 * failure leaves the earlier steps applied, and re-planning from a fresh observation resumes where it stopped.
 * Throws a typed PgKopfError naming the step that failed.
 */
export async function applyStepsWith(
  admin: Client,
  settings: ConnectionSettings,
  steps: readonly DatabaseStep[],
  onStep?: (step: DatabaseStep, sql: string) => void,
): Promise<void> {
  const run = async (client: Client, step: DatabaseStep) => {
    const sql = databaseStepSql(step);
    // A GRANT or REVOKE the admin has no right to make on some object is only a warning (privilege not granted or
    // not revoked) that changes nothing: without this the plan would never converge, silently.
    const ignored: NoticeMessage[] = [];
    const onNotice = (n: NoticeMessage) => {
      if (n.code === "01007" || n.code === "01006") ignored.push(n);
    };
    client.on("notice", onNotice);
    try {
      await client.query(sql);
      if (ignored.length) throw await notGranted(client, step, ignored);
    } catch (err) {
      if (err instanceof AdminLacksPrivilege) throw err;
      // A grantee or schema owner that does not exist yet (declared next to the database, still to come).
      if ((err as { code?: string }).code === "42704") {
        if ("role" in step) throw new RoleMissing([step.role]);
        if ((step.kind === "createSchema" || step.kind === "alterSchemaOwner") && step.owner)
          throw new RoleMissing([step.owner], "schemas");
      }
      const typed = classifyError(err, databaseStepField(step));
      typed.message = `${step.kind} failed: ${typed.message}`;
      throw typed;
    } finally {
      client.off("notice", onNotice);
    }
    return sql;
  };
  let i = 0;
  while (i < steps.length) {
    const target = databaseStepTarget(steps[i]);
    if (target === undefined) {
      const step = steps[i++];
      // Run first: an optional call would skip evaluating its arguments without a callback.
      const sql = await retryingRaces(() => run(admin, step));
      onStep?.(step, sql);
      continue;
    }
    // Consecutive steps inside the same database share one connection to it and one transaction: a failed GRANT
    // leaves the database's schemas and privileges as they were.
    let j = i;
    while (j < steps.length && databaseStepTarget(steps[j]) === target) j++;
    const batch = steps.slice(i, j);
    const ran = await withClient(settings, target, (client) =>
      retryingRaces(() =>
        inTransaction(client, async () => {
          await lockPrivileges(client);
          const statements: string[] = [];
          for (const step of batch) statements.push(await run(client, step));
          return statements;
        }),
      ),
    );
    for (const [k, step] of batch.entries()) onStep?.(step, ran[k]);
    i = j;
  }
}

/** applyStepsWith on a client of its own. */
export async function applySteps(
  settings: ConnectionSettings,
  steps: readonly DatabaseStep[],
  onStep?: (step: DatabaseStep, sql: string) => void,
): Promise<void> {
  await withClient(settings, undefined, (admin) => applyStepsWith(admin, settings, steps, onStep));
}

/** The refusal for a GRANT or REVOKE that Postgres skipped (warnings 01007, 01006): the admin lacks the grant option. */
async function notGranted(client: Client, step: DatabaseStep, notices: readonly NoticeMessage[]): Promise<AdminLacksPrivilege> {
  const admin = await observeAdmin(client);
  const objects = notices.map((n) => n.message).join("; ");
  return new AdminLacksPrivilege(
    `access: ${describeDatabaseStep(step)} changed nothing (${objects}): the admin "${admin.user}" is not a superuser and holds no grant ` +
      `option there, as the objects belong to a role it cannot act as. Make their owner a role pg-kopf manages, or run ` +
      `GRANT <owner> TO ${admin.user} as a superuser; the database's steps in this transaction were rolled back`,
  );
}

export interface ConvergedDatabase {
  /** The steps that ran (empty when the database already matched). */
  readonly steps: readonly DatabaseStep[];
  /** The database as observed after the steps. */
  readonly observed: ObservedDatabase;
}

/**
 * Observes a database with what the spec needs to compare: extensions when it lists some, schemas and privileges
 * when it (or the access last applied, `previousAccess`) has any; both on one connection inside the database.
 */
export function observeDatabaseFor(
  settings: ConnectionSettings,
  spec: PgDatabaseSpec,
  previous: DatabaseMemory = {},
): Promise<ObservedDatabase | undefined> {
  return withClient(settings, undefined, (admin) => observeForWith(admin, settings, spec, previous));
}

async function observeForWith(
  admin: Client,
  settings: ConnectionSettings,
  spec: PgDatabaseSpec,
  previous: DatabaseMemory,
): Promise<ObservedDatabase | undefined> {
  // Settings of roles in the database: those the spec maps, and those pg-kopf set before (what a removal resets).
  const configured = [...new Set([...Object.keys(spec.roleConfig ?? {}), ...Object.keys(previous.roleConfig ?? {})])];
  const db = await observeDatabaseAndRolesWith(admin, spec.name, configured);
  const extensions = (spec.extensions?.length ?? 0) > 0;
  const access = needsAccess(spec, previous);
  if (!db?.allowConnections || (!extensions && !access)) return db;
  const roles = [...new Set([...(spec.access ?? []), ...(previous.access ?? [])].map((a) => a.role))];
  return withClient(settings, spec.name, async (c) => ({
    ...db,
    ...(extensions ? { extensions: await observeExtensionsWith(c) } : {}),
    ...(access ? { access: await observeAccessWith(c, roles, accessSchemas(spec.schemas)) } : {}),
  }));
}

/**
 * The roles whose holds a database's plan reads: its owner (wanted and current) and its schemas' owners, and for a
 * database to be created its access roles (whether they exist: plan refuses a missing one before the CREATE).
 */
export function databaseRoles(spec: PgDatabaseSpec, observed: ObservedDatabase | undefined): (string | undefined)[] {
  return [
    spec.owner,
    observed?.owner,
    ...(spec.schemas ?? []).map((s) => s.owner),
    ...(observed?.access?.schemas ?? []).map((s) => s.owner),
    ...(observed ? [] : (spec.access ?? []).map((a) => a.role)),
    ...Object.keys(spec.roleConfig ?? {}),
  ];
}

/**
 * What a database's plan reads besides the database (PlanContext.admin and templatePublic), on an open admin client:
 * the admin and the roles involved, and, for a database to be created with access on a server before 15, the public
 * schema its template gives it (owned by the bootstrap superuser in a stock one).
 */
async function observePlanContextWith(
  admin: Client,
  settings: ConnectionSettings,
  spec: PgDatabaseSpec,
  observed: ObservedDatabase | undefined,
): Promise<Pick<DatabasePlanContext, "admin" | "templatePublic">> {
  const facts = await observeAdmin(admin);
  let templatePublic: TemplatePublicSchema | undefined;
  if (!observed && needsAccess(spec) && facts.versionNum < OWNED_PUBLIC_SCHEMA) {
    const template = spec.template ?? "template1";
    // template0 takes no connections; a stock one's public schema is the bootstrap superuser's, open to all.
    templatePublic =
      template === "template0"
        ? { owner: facts.bootstrap, publicPrivileges: ["CREATE", "USAGE"] }
        : await withClient(settings, template, observeTemplatePublicSchema);
  }
  const superuserKeys = superuserKeysIn([spec.config, ...Object.values(spec.roleConfig ?? {})]);
  const view = await observeAdminView(admin, [...databaseRoles(spec, observed), templatePublic?.owner], superuserKeys);
  return { admin: view, ...(templatePublic ? { templatePublic } : {}) };
}

/** observePlanContextWith on a client of its own: what the provider's preview passes to plan with the observation. */
export function observeDatabasePlanContext(
  settings: ConnectionSettings,
  spec: PgDatabaseSpec,
  observed: ObservedDatabase | undefined,
): Promise<Pick<DatabasePlanContext, "admin" | "templatePublic">> {
  return withClient(settings, undefined, (admin) => observePlanContextWith(admin, settings, spec, observed));
}

export interface ConvergeDatabaseOptions {
  /** Called after each step has run, with the statement it ran. */
  readonly onStep?: (step: DatabaseStep, sql: string) => void;
  /**
   * The statements a reviewer was shown (as describeStep writes them): nothing runs unless the plan is exactly
   * that, and PlanChanged is thrown otherwise.
   */
  readonly expected?: readonly string[];
  /**
   * Called once, right before the first step runs (never when there is nothing to do), with the steps: to record
   * what is about to happen durably. CREATE DATABASE cannot share a transaction with the ownership stamp, so a crash
   * between the two leaves an unstamped database that only such a record (see PlanContext.claimsUnstamped) shows to
   * be ours. A throw here stops the converge before anything runs.
   */
  readonly beforeApply?: (steps: readonly DatabaseStep[]) => Promise<void>;
}

/**
 * Brings the database to the spec: observe, plan, apply, observe, on one admin connection. Idempotent: a second
 * call runs no step. Throws NotOwned / InvalidSpec (permanent), PlanChanged, or a transient PgKopfError; a failure
 * can leave earlier steps applied.
 */
export async function convergeDatabase(
  settings: ConnectionSettings,
  spec: PgDatabaseSpec,
  ctx: DatabasePlanContext,
  options: ConvergeDatabaseOptions = {},
): Promise<ConvergedDatabase> {
  const { onStep, expected, beforeApply } = options;
  const previous = ctx.previous ?? {};
  return withClient(settings, undefined, async (admin) => {
    const before = await observeForWith(admin, settings, spec, previous);
    const steps = planDatabase(spec, before, { ...ctx, ...(await observePlanContextWith(admin, settings, spec, before)) });
    const planned = steps.map(describeDatabaseStep);
    if (expected && JSON.stringify(planned) !== JSON.stringify(expected)) {
      throw new PlanChanged("database", expected, planned);
    }
    if (beforeApply && steps.length > 0) await beforeApply(steps);
    await applyStepsWith(admin, settings, steps, onStep);
    const after = steps.length ? await observeForWith(admin, settings, spec, {}) : before;
    if (!after) {
      throw new PostgresRejected(`database "${spec.name}" is missing right after it was created`, { transient: true });
    }
    return { steps, observed: after };
  });
}

/**
 * Carries out deleting the resource according to its reclaim policy. Idempotent: an absent database is a no-op.
 * Throws NotOwned or DatabaseInUse (listing the sessions) without dropping anything.
 */
export async function reclaimDatabase(
  settings: ConnectionSettings,
  spec: PgDatabaseSpec,
  ctx: DatabasePlanContext,
  onStep?: (step: DatabaseStep, sql: string) => void,
): Promise<DatabaseStep[]> {
  if (spec.reclaimPolicy !== "delete") return [];
  return withClient(settings, undefined, async (admin) => {
    const observed = await observeDatabaseWith(admin, spec.name);
    const sessions = observed ? await observeSessions(admin, spec.name) : [];
    const steps = planDatabaseDelete(spec, observed, sessions, { ...ctx, admin: await observeAdminView(admin, [observed?.owner]) });
    await applyStepsWith(admin, settings, steps, onStep);
    return steps;
  });
}
