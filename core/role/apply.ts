// Bringing a role to its spec (observe, plan, apply, observe) in one transaction, and carrying out its deletion.
// Unlike CREATE DATABASE, every role statement is transactional: a failure leaves the role as it was.
import type { Client } from "pg";
import { type AdminView, observeAdminView } from "../admin";
import { lockPrivileges, retryingRaces } from "../concurrency";
import { type ConnectionSettings, inTransaction, withClient } from "../connect";
import { classifyError, PlanChanged, PostgresRejected } from "../errors";
import type { OwnershipContext } from "../ownership";
import { type ObservedRole, observeRoleWith } from "./observe";
import { planRole, planRoleDelete, type RoleDependency, type RolePasswordChange } from "./plan";
import type { PgRoleSpec } from "./spec";
import { groupsOf, type RoleMemory } from "./behaviours";
import { superuserKeysIn } from "../settings";
import { describeRoleStep, type RoleStep, roleStepField, roleStepSql, roleStepTarget } from "./steps";

export interface ConvergedRole {
  readonly steps: readonly RoleStep[];
  readonly observed: ObservedRole;
}

export interface ConvergeRoleOptions {
  /** Set the password (a rotation, or a new role); omitted: the password is left as it is. */
  readonly password?: RolePasswordChange;
  /**
   * The password for the role if it has to be created (it is new, or was dropped out of band) and `password` is not
   * given: the password the caller already handed out, so the re-created role accepts it. Called only then.
   */
  readonly passwordIfCreated?: () => RolePasswordChange;
  /** Called after the transaction committed, for each step, with the statement as shown (password redacted). */
  readonly onStep?: (step: RoleStep, shown: string) => void;
  /** The statements a reviewer was shown (describeRoleStep): nothing runs unless the plan is exactly that. */
  readonly expected?: readonly string[];
}

async function run(admin: Client, step: RoleStep): Promise<void> {
  try {
    await admin.query(roleStepSql(step));
  } catch (err) {
    throw classifyError(err, roleStepField(step));
  }
}

/** Observes a role over the maintenance database. */
export function observeRole(settings: ConnectionSettings, name: string): Promise<ObservedRole | undefined> {
  return withClient(settings, undefined, (admin) => observeRoleWith(admin, name));
}

/** What planning a role reads: the role, and what the admin can do with it, its groups and its heir. */
export interface RoleObservation {
  readonly observed: ObservedRole | undefined;
  readonly admin: AdminView;
}

async function observeForPlanWith(client: Client, spec: PgRoleSpec): Promise<RoleObservation> {
  const observed = await observeRoleWith(client, spec.name);
  const admin = await observeAdminView(client, [spec.name, ...groupsOf(spec), spec.reassignOwnedTo], superuserKeysIn([spec.config]));
  return { observed, admin };
}

/** The observations planRole needs for several roles, over one connection to the maintenance database. */
export function observeRolesForPlan(settings: ConnectionSettings, specs: readonly PgRoleSpec[]): Promise<RoleObservation[]> {
  return withClient(settings, undefined, async (client) => {
    const out: RoleObservation[] = [];
    for (const spec of specs) out.push(await observeForPlanWith(client, spec));
    return out;
  });
}

/** The observation planRole needs, over the maintenance database: pass `admin` in its context. */
export function observeRoleForPlan(settings: ConnectionSettings, spec: PgRoleSpec): Promise<RoleObservation> {
  return withClient(settings, undefined, (client) => observeForPlanWith(client, spec));
}

/**
 * Brings the role to the spec in one transaction. Idempotent: a second call without a password runs nothing.
 * Throws NotOwned / InvalidSpec (permanent), PlanChanged, or a transient PgKopfError; a failure changes nothing.
 */
export async function convergeRole(
  settings: ConnectionSettings,
  spec: PgRoleSpec,
  ctx: OwnershipContext & { readonly previous?: RoleMemory },
  options: ConvergeRoleOptions = {},
): Promise<ConvergedRole> {
  return withClient(settings, undefined, async (admin) => {
    const attempt = () =>
      inTransaction(admin, async () => {
        const { observed: before, admin: view } = await observeForPlanWith(admin, spec);
        const planned = planRole(
          spec,
          before,
          { ...ctx, admin: view },
          options.password ?? (before ? undefined : options.passwordIfCreated?.()),
        );
        const shown = planned.map(describeRoleStep);
        if (options.expected && JSON.stringify(shown) !== JSON.stringify(options.expected)) {
          throw new PlanChanged("role", options.expected, shown);
        }
        for (const step of planned) await run(admin, step);
        const after = planned.length ? await observeRoleWith(admin, spec.name) : before;
        if (!after) throw new PostgresRejected(`role "${spec.name}" is missing right after it was created`, { transient: true });
        return { steps: planned, observed: after };
      });
    const { steps, observed } = await retryingRaces(attempt);
    for (const step of steps) options.onStep?.(step, describeRoleStep(step));
    return { steps, observed };
  });
}

/** Where a role still owns objects or holds privileges: per database ("" for shared objects such as databases). */
export async function observeRoleDependencies(admin: Client, oid: number): Promise<RoleDependency[]> {
  const { rows } = await admin.query(
    `SELECT coalesce(d.datname, '') AS database, count(*)::int AS objects, bool_or(s.deptype = 'o') AS owns
       FROM pg_shdepend s LEFT JOIN pg_database d ON d.oid = s.dbid
      WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $1
      GROUP BY 1 ORDER BY 1`,
    [oid],
  );
  return rows;
}

/**
 * Carries out deleting the resource (see planRoleDelete): nothing with retain; with delete, the role's objects go to
 * reassignOwnedTo in each database where it has any (REASSIGN and DROP OWNED in one transaction there, under the
 * database's privilege lock), then the role is dropped. Idempotent. Throws NotOwned, RoleInUse (listing where) or
 * AdminLacksPrivilege before anything runs; a failure in one database leaves the others' reassignments done, which a
 * second call finishes.
 */
export async function reclaimRole(
  settings: ConnectionSettings,
  spec: PgRoleSpec,
  ctx: OwnershipContext,
  onStep?: (step: RoleStep, shown: string) => void,
): Promise<RoleStep[]> {
  if (spec.reclaimPolicy !== "delete") return [];
  const steps = await withClient(settings, undefined, async (admin) => {
    const { observed, admin: view } = await observeForPlanWith(admin, spec);
    const dependencies = observed ? await observeRoleDependencies(admin, observed.oid) : [];
    return planRoleDelete(spec, observed, dependencies, settings.database, { ...ctx, admin: view });
  });
  for (let i = 0; i < steps.length; ) {
    const target = roleStepTarget(steps[i]);
    let j = i + 1;
    while (target !== undefined && j < steps.length && roleStepTarget(steps[j]) === target) j++;
    const batch = steps.slice(i, j);
    await withClient(settings, target === settings.database ? undefined : target, (client) =>
      target === undefined
        ? retryingRaces(() => run(client, batch[0]))
        : retryingRaces(() =>
            inTransaction(client, async () => {
              await lockPrivileges(client);
              for (const step of batch) await run(client, step);
            }),
          ),
    );
    for (const step of batch) onStep?.(step, describeRoleStep(step));
    i = j;
  }
  return steps;
}
