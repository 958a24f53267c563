// plan: the only place that decides which SQL runs. Pure: (spec, observed) -> steps, or a typed refusal.
import { IMMUTABLE_FIELDS, type PgDatabaseSpec } from "./spec";
import type { ObservedDatabase, Session } from "./observe";
import type { Step } from "./steps";
import { DatabaseInUse, InvalidSpec, NotOwned } from "./errors";
import { ownershipStamp, stampedManager } from "./ownership";

export interface PlanContext {
  /** Who is managing: the identity written in the ownership stamp. */
  readonly manager: string;
  /**
   * The manager recorded that it ran CREATE DATABASE for this name and may have stopped before stamping it: a
   * database of this name with no comment at all is then its own, and gets stamped. A comment of any kind still
   * means someone else's.
   */
  readonly claimsUnstamped?: boolean;
}

/** The immutable fields Postgres reports back; template is used only at creation and cannot be observed. */
const OBSERVABLE_IMMUTABLE = IMMUTABLE_FIELDS.filter((f) => f !== "name" && f !== "template");

/** True when the plan must (re-)stamp the database; throws NotOwned when it may not touch it. */
function refuseUnlessOwned(spec: Pick<PgDatabaseSpec, "name" | "adopt">, observed: ObservedDatabase, ctx: PlanContext, action: "alter" | "drop"): boolean {
  const stamped = stampedManager(observed.comment);
  if (stamped === ctx.manager) return false;
  if (spec.adopt) return true;
  // A claim finishes an interrupted creation; it never grants a drop, any more than adopt does.
  if (ctx.claimsUnstamped && observed.comment === undefined && action === "alter") return true;
  const who = stamped ? `is managed by ${stamped}` : "was not created by pg-kopf";
  throw new NotOwned(
    `database "${spec.name}" exists and ${who}, so it will not ${action} it. ` +
      `To manage it from ${ctx.manager}, set adopt: true (this re-stamps it); otherwise choose another name.`,
  );
}

/** The message for an immutable field that differs between what exists and what is asked. */
export function immutableChangeMessage(from: unknown, to: unknown): string {
  return (
    `cannot change from ${JSON.stringify(from)} to ${JSON.stringify(to)}: Postgres fixes it when the database is created, ` +
    `so changing it means DROP DATABASE and CREATE DATABASE, which loses the data. ` +
    `Keep the old value, or create a new database under another name and migrate; ` +
    `to re-create this one on purpose, set reclaimPolicy: delete first.`
  );
}

/**
 * Steps that bring `observed` (undefined: absent) to `spec`. Pure. Only fields the spec sets are compared, so a
 * plan right after applying its steps is empty. Throws NotOwned for a database stamped by another manager (or
 * none) unless spec.adopt, and InvalidSpec when an immutable field differs from the database.
 */
export function plan(spec: PgDatabaseSpec, observed: ObservedDatabase | undefined, ctx: PlanContext): Step[] {
  const database = spec.name;
  const steps: Step[] = [];
  if (!observed) {
    steps.push({
      kind: "createDatabase",
      database,
      ...pickDefined(spec, [
        "owner", "template", "encoding", "lcCollate", "lcCtype", "localeProvider", "icuLocale",
        "tablespace", "allowConnections", "connectionLimit", "isTemplate",
      ]),
    });
    steps.push({ kind: "stampOwnership", database, manager: ctx.manager, comment: ownershipStamp(ctx.manager) });
    for (const extension of spec.extensions ?? []) steps.push({ kind: "createExtension", database, extension });
    return steps;
  }

  const adopting = refuseUnlessOwned(spec, observed, ctx, "alter");
  const failures = OBSERVABLE_IMMUTABLE.flatMap((field) => {
    const want = spec[field];
    const have = observed[field];
    return want !== undefined && !sameSetting(field, want, have)
      ? [{ field, message: immutableChangeMessage(have, want) }]
      : [];
  });
  if (failures.length) throw new InvalidSpec(failures);

  if (adopting) steps.push({ kind: "stampOwnership", database, manager: ctx.manager, comment: ownershipStamp(ctx.manager) });
  if (spec.owner !== undefined && spec.owner !== observed.owner) steps.push({ kind: "alterOwner", database, owner: spec.owner });
  if (spec.tablespace !== undefined && spec.tablespace !== observed.tablespace) {
    steps.push({ kind: "alterTablespace", database, tablespace: spec.tablespace });
  }
  if (spec.connectionLimit !== undefined && spec.connectionLimit !== observed.connectionLimit) {
    steps.push({ kind: "alterConnectionLimit", database, connectionLimit: spec.connectionLimit });
  }
  if (spec.allowConnections !== undefined && spec.allowConnections !== observed.allowConnections) {
    steps.push({ kind: "alterAllowConnections", database, allowConnections: spec.allowConnections });
  }
  if (spec.isTemplate !== undefined && spec.isTemplate !== observed.isTemplate) {
    steps.push({ kind: "alterIsTemplate", database, isTemplate: spec.isTemplate });
  }
  if (spec.extensions?.length) {
    // Callers observe extensions whenever the spec lists some; unobserved means none could be seen.
    const installed = new Set(observed.extensions ?? []);
    for (const extension of spec.extensions) {
      if (!installed.has(extension)) steps.push({ kind: "createExtension", database, extension });
    }
  }
  return steps;
}

/**
 * Steps that carry out deleting the resource. Pure. With reclaimPolicy retain, or when the database is already
 * gone, there are none. With delete: refuses (NotOwned) a database another manager stamped, and refuses
 * (DatabaseInUse, listing who is connected) while sessions are connected unless forceDrop.
 */
export function planDelete(
  spec: PgDatabaseSpec,
  observed: ObservedDatabase | undefined,
  sessions: readonly Session[],
  ctx: PlanContext,
): Step[] {
  if (!observed || spec.reclaimPolicy !== "delete") return [];
  refuseUnlessOwned({ ...spec, adopt: false }, observed, ctx, "drop");
  if (sessions.length > 0 && !spec.forceDrop) {
    const who = sessions.map((s) => `pid ${s.pid} user ${s.user || "?"} app ${s.application || "?"} from ${s.clientAddress}`);
    throw new DatabaseInUse(
      `database "${spec.name}" has ${sessions.length} connected session(s) and was not dropped: ${who.join("; ")}. ` +
        `Disconnect them, or set forceDrop: true to terminate them and drop the database.`,
    );
  }
  const steps: Step[] = [];
  // Postgres refuses to drop a database marked as a template.
  if (observed.isTemplate) steps.push({ kind: "alterIsTemplate", database: spec.name, isTemplate: false });
  steps.push({ kind: "dropDatabase", database: spec.name, force: spec.forceDrop });
  return steps;
}

function sameSetting(field: string, want: unknown, have: unknown): boolean {
  // Postgres reports locale names as given, but users write "C.utf8" and "C.UTF-8" interchangeably.
  if ((field === "lcCollate" || field === "lcCtype") && typeof want === "string" && typeof have === "string") {
    const norm = (s: string) => s.toLowerCase().replace(/utf-?8/, "utf8");
    return norm(want) === norm(have);
  }
  return want === have;
}

function pickDefined<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}
