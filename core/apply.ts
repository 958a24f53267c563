// apply: runs planned steps, one statement each, against the maintenance database or (for extensions) the
// database itself; and the two whole operations both adapters use: converge (observe, plan, apply, observe again)
// and reclaim (what deleting the resource does).
import type { Client } from "pg";
import { withClient, type ConnectionSettings } from "./connect";
import { classifyError, PgKopfError } from "./errors";
import { observeDatabase, observeDatabaseWith, observeSessions, type ObservedDatabase } from "./observe";
import { plan, planDelete, type PlanContext } from "./plan";
import type { PgDatabaseSpec } from "./spec";
import { stepSql, stepTarget, type Step } from "./steps";

/**
 * Runs the steps in order, each as one statement. Not atomic (CREATE DATABASE cannot run in a transaction): a
 * failure leaves the earlier steps applied, and re-planning from a fresh observation resumes where it stopped.
 * Throws a typed PgKopfError naming the step that failed.
 */
export async function applySteps(settings: ConnectionSettings, steps: readonly Step[], onStep?: (step: Step, sql: string) => void): Promise<void> {
  let i = 0;
  while (i < steps.length) {
    // Consecutive steps with the same target share one connection.
    const target = stepTarget(steps[i]);
    let j = i;
    while (j < steps.length && stepTarget(steps[j]) === target) j++;
    const batch = steps.slice(i, j);
    await withClient(settings, target, async (client: Client) => {
      for (const step of batch) {
        const sql = stepSql(step);
        try {
          await client.query(sql);
        } catch (err) {
          const typed = classifyError(err, fieldOf(step));
          typed.message = `${step.kind} failed: ${typed.message}`;
          throw typed;
        }
        onStep?.(step, sql);
      }
    });
    i = j;
  }
}

function fieldOf(step: Step): string | undefined {
  switch (step.kind) {
    case "alterOwner":
      return "owner";
    case "alterTablespace":
      return "tablespace";
    case "createExtension":
      return "extensions";
    default:
      return undefined;
  }
}

export interface Converged {
  /** The steps that ran (empty when the database already matched). */
  readonly steps: readonly Step[];
  /** The database as observed after the steps. */
  readonly observed: ObservedDatabase;
}

/** Observes a database with what the spec needs to compare (extensions only when it lists some). */
export function observeFor(settings: ConnectionSettings, spec: PgDatabaseSpec): Promise<ObservedDatabase | undefined> {
  return observeDatabase(settings, spec.name, { withExtensions: (spec.extensions?.length ?? 0) > 0 });
}

/**
 * Brings the database to the spec: observe, plan, apply, observe. Idempotent: a second call runs no step.
 * Throws NotOwned / InvalidSpec (permanent) or a transient PgKopfError; a failure can leave earlier steps applied.
 */
export async function converge(settings: ConnectionSettings, spec: PgDatabaseSpec, ctx: PlanContext, onStep?: (step: Step, sql: string) => void): Promise<Converged> {
  const before = await observeFor(settings, spec);
  const steps = plan(spec, before, ctx);
  await applySteps(settings, steps, onStep);
  const after = steps.length ? await observeFor(settings, spec) : before;
  if (!after) {
    throw new PgKopfError("PostgresRejected", `database "${spec.name}" is missing right after it was created`, { transient: true });
  }
  return { steps, observed: after };
}

/**
 * Carries out deleting the resource according to its reclaim policy. Idempotent: an absent database is a no-op.
 * Throws NotOwned or DatabaseInUse (listing the sessions) without dropping anything.
 */
export async function reclaim(settings: ConnectionSettings, spec: PgDatabaseSpec, ctx: PlanContext, onStep?: (step: Step, sql: string) => void): Promise<Step[]> {
  if (spec.reclaimPolicy !== "delete") return [];
  const { observed, sessions } = await withClient(settings, undefined, async (c) => {
    const observed = await observeDatabaseWith(c, spec.name);
    return { observed, sessions: observed ? await observeSessions(c, spec.name) : [] };
  });
  const steps = planDelete(spec, observed, sessions, ctx);
  await applySteps(settings, steps, onStep);
  return steps;
}
