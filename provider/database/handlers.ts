// What the PgDatabase provider does for each of Pulumi's methods, each a thin call into the core. Loaded by name in
// the provider process (see ../provider), never serialized.
import type * as pulumi from "@pulumi/pulumi";
import * as core from "../../core";
import {
  checkFailures,
  fieldsOf,
  goneNotice,
  serverChange,
  serverConflictOf,
  serverKey,
  hasPlannedWork,
  managerOf as managerIn,
  ownershipOf,
  plannedStatements,
  type Props,
  removeOrLeave,
  providerConnection,
  recordedSettings,
  requireAdmin,
  rethrow,
  unplanned,
  userInputs,
} from "../props";

/** Spec fields of a property bag (engine keys such as __provider, manager and outputs dropped). */
export function specFields(props: Props): Record<string, unknown> {
  return fieldsOf(core.PgDatabaseSpecSchema, props);
}

function parseOrThrow(props: Props): core.PgDatabaseSpec {
  const r = core.parseDatabaseSpec(specFields(props));
  if (!r.ok) throw new core.InvalidSpec(r.failures);
  return r.spec;
}

function managerOf(props: Props): string {
  return managerIn(props, "PgDatabase");
}

/**
 * Fields that differ between two property bags. Values are compared as JSON, so list order counts for extensions
 * (the order they are installed in). An immutable field set on one side only is no change: unset means "whatever
 * Postgres chose at creation", and the plan compares a newly set value with the database itself.
 */
export function changedFields(olds: Props, news: Props): core.FieldName[] {
  const a = specFields(olds);
  const b = specFields(news);
  return core.FIELD_NAMES.filter((k) =>
    core.REPLACING_FIELDS.includes(k) ? core.replacingChange(k, a[k], b[k]) : JSON.stringify(a[k]) !== JSON.stringify(b[k]),
  );
}

/** The fields whose change means a new database (core/database/fields decides which, and when). */
function replacingFields(olds: Props, news: Props): core.FieldName[] {
  const a = specFields(olds);
  const b = specFields(news);
  return core.REPLACING_FIELDS.filter((k) => core.replacingChange(k, a[k], b[k]));
}

/** The recorded properties after the database was brought to `spec`: the spec, who manages it, and its oid. */
function outputs(spec: core.PgDatabaseSpec, manager: string, observed: core.ObservedDatabase, inputs: Props): Props {
  // plannedSql as run is kept, so that a refresh can give back the inputs exactly as recorded (see read).
  return {
    ...spec,
    ...serverKey(inputs),
    manager,
    oid: observed.oid,
    ...(Array.isArray(inputs.plannedSql) ? { plannedSql: inputs.plannedSql } : {}),
  };
}

/** The admin connection from stack config (configure) or, when the engine never called configure, PG* variables. */
export const configure = providerConnection;

/**
 * The plans of replacements this provider process has checked, by the new inputs they were made for. On a
 * replacement the engine calls check twice: with the old inputs, then again without them for the resource that
 * replaces the old one, and shows the second result. Without the first plan, the second would show only the CREATE
 * and hide the DROP of the old database from the reviewer.
 */
const replacementPlans = new Map<string, string[]>();
const replacementKey = (spec: core.PgDatabaseSpec, manager: unknown) => JSON.stringify([manager, core.FIELD_NAMES.map((f) => spec[f])]);

/** How to re-create a database on purpose through this provider: a replacement drops only under a recorded delete. */
const RECREATE_ON_PURPOSE =
  "to re-create this one on purpose (its data is lost), first run pulumi up with reclaimPolicy: delete and the old value, then change it";

/**
 * Validates the inputs and plans the SQL an update would run now, returned as the input property plannedSql so
 * previews show it. Refusals the plan makes (an immutable change, a database another manager owns) fail here,
 * naming the field, before anything runs.
 */
export async function check(settings: core.ConnectionSettings, olds: Props, news: Props): Promise<pulumi.dynamic.CheckResult> {
  // Validate everything the user passed, so a misspelt field fails instead of being dropped.
  const r = core.parseDatabaseSpec(userInputs(news));
  if (!r.ok) return { failures: checkFailures(r.failures) };
  const hasOlds = olds && Object.keys(olds).length > 0;
  const misplaced = serverConflictOf(news) ?? serverChange(olds, news);
  if (misplaced) return { failures: [misplaced] };
  // Compared in the spellings the spec normalizes to (utf-8 is UTF8), as recorded and as diff sees them.
  const replacing = hasOlds ? replacingFields(olds, r.spec as unknown as Props) : [];
  // An immutable change means DROP + CREATE. Only a resource whose recorded policy already says delete may do
  // that; otherwise the preview stops here, naming the field.
  if (replacing.length > 0 && olds.reclaimPolicy !== "delete") {
    const [before, after] = [specFields(olds), r.spec as Record<string, unknown>];
    return {
      failures: replacing.map((field) => ({
        property: field,
        reason: `${field}: ${core.immutableChangeMessage(before[field], after[field], RECREATE_ON_PURPOSE)}`,
      })),
    };
  }
  const replaced = hasOlds ? undefined : replacementPlans.get(replacementKey(r.spec, news.manager));
  if (replaced) return { inputs: { ...r.spec, ...serverKey(news), manager: news.manager, plannedSql: replaced } };
  let plannedSql: string[];
  try {
    const owner = ownershipOf(news, "PgDatabase", hasOlds ? olds : undefined);
    plannedSql = await planSql(settings, replacing.length > 0 ? olds : undefined, r.spec, { ...owner, previous: appliedOf(olds) }, olds);
    if (replacing.length > 0) replacementPlans.set(replacementKey(r.spec, news.manager), plannedSql);
  } catch (err) {
    const failed = unplanned(err, news);
    if ("failures" in failed) return failed;
    plannedSql = failed.plannedSql;
  }
  return { inputs: { ...r.spec, ...serverKey(news), manager: news.manager, plannedSql } };
}

/**
 * The statements, as reviewers read them, that bringing the database from its current state to `spec` runs; with
 * `replaced` (the recorded inputs of a resource this one replaces), the DROP of that database first.
 */
async function planSql(
  settings: core.ConnectionSettings,
  replaced: Props | undefined,
  spec: core.PgDatabaseSpec,
  ctx: core.DatabasePlanContext,
  recorded?: Props,
): Promise<string[]> {
  if (!replaced) {
    const observed = await core.observeDatabaseFor(settings, spec, ctx.previous);
    const context = await core.observeDatabasePlanContext(settings, spec, observed);
    requireAdmin(settings, context.admin!, "databases");
    const steps = core.planDatabase(spec, observed, { ...ctx, ...context }).map(core.describeDatabaseStep);
    const gone = goneNotice(
      recorded,
      observed,
      `database "${spec.name}"`,
      "up creates it again, empty: restore its data from a backup if it was dropped by mistake",
    );
    return gone ? [gone, ...steps] : steps;
  }
  // A replacement (only reached with reclaimPolicy delete recorded): the old database is dropped, then created anew.
  const old = parseOrThrow(replaced);
  const before = await core.observeDatabaseFor(settings, old);
  const context = await core.observeDatabasePlanContext(settings, old, before);
  requireAdmin(settings, context.admin!, "databases");
  // The old database goes as its own state says it was stamped.
  const drop = core.planDatabaseDelete(old, before, [], { manager: managerOf(replaced), ...context });
  const fresh = old.name === spec.name ? undefined : await core.observeDatabaseFor(settings, spec);
  const created = await core.observeDatabasePlanContext(settings, spec, fresh);
  return [...drop, ...core.planDatabase(spec, fresh, { manager: ctx.manager, ...created })].map(core.describeDatabaseStep);
}

/**
 * What the state records as applied (the last successful create or update, as a refresh left it): the access an
 * entry removed or lowered now revokes, the settings a key removed now resets. Nothing recorded, nothing undone.
 */
function appliedOf(olds: Props | undefined): core.DatabaseMemory {
  const config = recordedSettings(olds?.config);
  const roleConfig = recordedSettings(olds?.roleConfig) as Readonly<Record<string, core.Settings>> | undefined;
  return {
    access: Array.isArray(olds?.access) ? (olds.access as core.AccessEntry[]) : [],
    ...(config ? { config } : {}),
    ...(roleConfig ? { roleConfig } : {}),
  };
}

/** The part of a checked plan that create/update must find again, or undefined when there is none to hold to. */
function expectedSql(news: Props): string[] | undefined {
  const planned = plannedStatements(news);
  // After a replacement's drop (run by delete), the creation is what remains.
  return planned?.slice(planned.findLastIndex((s) => s.startsWith("[destructive]")) + 1);
}

export async function diff(olds: Props, news: Props): Promise<pulumi.dynamic.DiffResult> {
  const changed = changedFields(olds, news);
  const replaces = replacingFields(olds, news);
  return {
    // Planned SQL with an unchanged spec is drift made in Postgres: an update repairs it.
    changes: changed.length > 0 || olds.manager !== news.manager || hasPlannedWork(olds, news),
    replaces,
    stables: core.REPLACING_FIELDS.filter((f) => !replaces.includes(f)),
    // The replacement has the same name (or must not coexist with the old one), so the old goes first; with
    // reclaimPolicy delete recorded, that is the explicit permission to drop it.
    deleteBeforeReplace: replaces.length > 0,
  };
}

export async function create(settings: core.ConnectionSettings, inputs: Props): Promise<pulumi.dynamic.CreateResult> {
  const spec = parseOrThrow(inputs);
  const manager = managerOf(inputs);
  try {
    const { observed } = await core.convergeDatabase(settings, spec, { manager }, { expected: expectedSql(inputs) });
    return { id: spec.name, outs: outputs(spec, manager, observed, inputs) };
  } catch (err) {
    rethrow(err);
  }
}

export async function read(settings: core.ConnectionSettings, id: string, props: Props): Promise<pulumi.dynamic.ReadResult> {
  const name = typeof props.name === "string" ? props.name : id;
  let observed: core.ObservedDatabase | undefined;
  try {
    const wanted = Array.isArray(props.extensions) && props.extensions.length > 0;
    const roleConfigOf = Object.keys(recordedSettings(props.roleConfig) ?? {});
    observed = await core.observeDatabase(settings, name, { withExtensions: wanted, roleConfigOf });
  } catch (err) {
    rethrow(err);
  }
  // Gone out of band: an empty id tells the engine the resource no longer exists.
  if (!observed) return { id: undefined, props: {} };
  const refreshed = reflectObserved(props, observed);
  // Returning inputs too makes the next preview compare the program against what really exists. The statements
  // last run are given back as recorded: dropping them made every refresh after a create report an update.
  const inputs = {
    ...specFields(refreshed),
    ...serverKey(props),
    manager: refreshed.manager,
    ...(Array.isArray(props.plannedSql) ? { plannedSql: props.plannedSql } : {}),
  };
  return { id: name, props: refreshed, inputs } as pulumi.dynamic.ReadResult;
}

export async function update(settings: core.ConnectionSettings, olds: Props, news: Props): Promise<pulumi.dynamic.UpdateResult> {
  const spec = parseOrThrow(news);
  const owner = ownershipOf(news, "PgDatabase", olds);
  const { manager } = owner;
  try {
    const { observed } = await core.convergeDatabase(
      settings,
      spec,
      { ...owner, previous: appliedOf(olds) },
      { expected: expectedSql(news) },
    );
    return { outs: outputs(spec, manager, observed, news) };
  } catch (err) {
    rethrow(err);
  }
}

export async function remove(settings: core.ConnectionSettings, props: Props): Promise<void> {
  const spec = parseOrThrow(props);
  await removeOrLeave(() => core.reclaimDatabase(settings, spec, { manager: managerOf(props) }));
}

/**
 * Recorded properties updated with what the catalog says, so a refresh shows drift and the next update repairs
 * it. Only fields the spec sets are reflected (unset ones stay unset); with no recorded name (an import) every
 * observable field is taken.
 */
export function reflectObserved(props: Props, observed: core.ObservedDatabase): Props {
  const importing = typeof props.name !== "string";
  // Field by field as each behaviour reflects it (core/database/behaviours).
  const out: Props = { ...core.reflectDatabase(props, observed, importing), name: observed.name, oid: observed.oid };
  if (importing) {
    out.reclaimPolicy = "retain";
    if (typeof props.manager !== "string") out.manager = core.stampedManager(observed.comment) ?? "";
  }
  return out;
}
