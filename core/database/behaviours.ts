// What each behaviour of a database field does in every layer (the one shape of core/behaviour): how the plan creates
// and converges its fields, what a refresh records for them, the CRD's rules, and whether changing one means a new
// database (the provider's diff and the CRD's transition rule). One entry per behaviour, keyed by the Behaviour type
// of ./fields: a behaviour added there does not compile until it has an entry here, and a field then gets everything
// its behaviour's entry does.
import {
  AS_RECORDED,
  type BehaviourEntry,
  type BehaviourTable,
  type CelRule,
  failuresEach,
  KEEP_RECORDED,
  NO_FAILURES,
  NO_RULES,
  NO_STEPS,
  reflectEach,
  rulesEach,
} from "../behaviour";
import { type FieldFailure, InvalidSpec, RoleMissing } from "../errors";
import { NOT_ROLES } from "../schema";
import {
  reflectSettings,
  refuseServerSettings,
  type Settings,
  settingsChanges,
  settingsFailures,
  SETTINGS_KEYS_MESSAGE,
  settingsKeysCel,
  settingsRules,
  settingsValueRules,
} from "../settings";
import type { AdminView } from "../admin";
import { cannotGrantOnSchema } from "../admin";
import { type AccessEntry, freshAccess, missingRoles, type ObservedAccess, planAccess, type TemplatePublicSchema } from "./access";
import {
  alterStep,
  type Behaviour,
  behaviourOf,
  FIELD_NAMES,
  type FieldName,
  type FieldOf,
  fieldsOf,
  type ObservedBehaviour,
  type ObservedField,
  sameSetting,
  sameValue,
  spellingOf,
} from "./fields";
import type { ObservedDatabase } from "./observe";
import type { PgDatabaseSpec } from "./spec";
import type { DatabaseStep } from "./steps";

/**
 * What pg-kopf last applied to a database, as its engine records it (the Pulumi state, the PgDatabase's status): what
 * an access entry removed or lowered revokes, and which settings a key removed from the spec resets. Nothing
 * recorded, nothing revoked or reset (docs/adr/0020).
 */
export interface DatabaseMemory {
  readonly access?: readonly AccessEntry[];
  readonly config?: Settings;
  readonly roleConfig?: Readonly<Record<string, Settings>>;
}

/** What a behaviour's planner is given: the spec, what the admin can do, and what pg-kopf last applied. */
export interface BehaviourPlanInput {
  readonly spec: PgDatabaseSpec;
  readonly admin?: AdminView;
  /** For a database to be created: its template's public schema (default: a stock one of Postgres 15 or later). */
  readonly templatePublic?: TemplatePublicSchema;
  readonly previous: DatabaseMemory;
}

/**
 * How a change of a field is judged between two recorded specs: always (the name: another value is another
 * database), betweenValues (from one value to another; setting or unsetting it is no change, as the plan compares a
 * newly set value with the live database), or never (changed in place, or not Postgres' at all).
 */
export type Replaces = "always" | "betweenValues" | "never";

interface DatabaseBehaviour<F extends FieldName> extends BehaviourEntry<F, BehaviourPlanInput, ObservedDatabase, DatabaseStep> {
  readonly replaces: Replaces;
  /** Whether Postgres reports the fields back (./fields ObservedBehaviour decides; this entry must agree). */
  readonly observed: boolean;
}

/** The behaviour table's type: an entry for every behaviour, each given its own fields; `observed` as ./fields says. */
type DatabaseBehaviours = {
  readonly [B in Behaviour]: DatabaseBehaviour<FieldOf<B>> & { readonly observed: B extends ObservedBehaviour ? true : false };
};

const none = NO_STEPS;
const asRecorded = KEEP_RECORDED;
/** Reported back: reflected when the spec sets it (or on import, when every observable field is taken). */
const asObserved = (field: ObservedField, recorded: unknown, observed: ObservedDatabase, importing: boolean): unknown =>
  (importing || recorded !== undefined) && observed[field] !== undefined ? observed[field] : AS_RECORDED;
/** The transition rule of a field whose change means a new database (replacingChangeCel), with what to do instead. */
const transitionRule = (field: FieldName): CelRule[] => [
  {
    rule: replacingChangeCel(field)!,
    message:
      field === "name"
        ? "spec.name is immutable: renaming would create a new, empty database. Create a new PgDatabase instead."
        : `spec.${field} is immutable: Postgres fixes it when the database is created. Keep the old value (or remove the field), or create a new PgDatabase under another name.`,
  },
];
/** The parts every entry has that few behaviours fill: no checks beyond the schema, no rules. */
const plain = { validate: NO_FAILURES, rules: NO_RULES };

/**
 * The message for an immutable field that differs between what exists and what is asked. `recreate`: how to re-create
 * the database on purpose, given only by an engine where that works (the Pulumi provider replaces a resource whose
 * recorded reclaimPolicy is delete; the cluster and a plan against Postgres never re-create).
 */
export function immutableChangeMessage(from: unknown, to: unknown, recreate?: string): string {
  return (
    `cannot change from ${JSON.stringify(from)} to ${JSON.stringify(to)}: Postgres fixes it when the database is created, ` +
    `so changing it means DROP DATABASE and CREATE DATABASE, which loses the data. ` +
    `Keep the old value, or create a new database under another name and migrate` +
    (recreate ? `; ${recreate}.` : ".")
  );
}

/** Refuses (InvalidSpec, naming each) an immutable field set to another value than the database has. */
function refuseImmutableChanges(fields: readonly FieldOf<"immutable">[], spec: PgDatabaseSpec, observed: ObservedDatabase): DatabaseStep[] {
  const failures = fields.flatMap((field) => {
    const want = spec[field];
    const have = observed[field];
    return want !== undefined && !sameSetting(field, want, have) ? [{ field, message: immutableChangeMessage(have, want) }] : [];
  });
  if (failures.length) throw new InvalidSpec(failures);
  return [];
}

/** ALTER DATABASE for each mutable field the spec sets to another value than the database has. */
function alterChanged(fields: readonly FieldOf<"mutable">[], spec: PgDatabaseSpec, observed: ObservedDatabase): DatabaseStep[] {
  return fields
    .filter((field) => spec[field] !== undefined && !sameSetting(field, spec[field], observed[field]))
    .map((field) => alterStep(field, spec.name, spec[field]));
}

/** CREATE EXTENSION for each listed extension the database does not have (all of them for a new database). */
function installMissing(fields: readonly FieldOf<"extensions">[], spec: PgDatabaseSpec, observed?: ObservedDatabase): DatabaseStep[] {
  return fields.flatMap((field) => {
    // Callers observe extensions whenever the spec lists some; unobserved means none could be seen.
    const installed = new Set(observed?.[field] ?? []);
    return (spec[field] ?? [])
      .filter((e) => !installed.has(e))
      .map((extension): DatabaseStep => ({ kind: "createExtension", database: spec.name, extension }));
  });
}

/**
 * The access fields, each with what it is to the access planner (./access), which plans them together: a field of
 * behaviour access that is not listed here does not compile, so none is silently left out of the plan.
 */
export const ACCESS_FIELDS: { readonly [F in FieldOf<"access">]: string } = {
  schemas: "the schemas to create and cover",
  access: "the levels to grant",
  revokePublic: "whether PUBLIC loses CONNECT and CREATE on public",
};

/** Whether the spec asks for anything inside the database beyond extensions: schemas, access, revokePublic. */
export function needsAccess(spec: PgDatabaseSpec, previous: DatabaseMemory = {}): boolean {
  return (
    (spec.schemas?.length ?? 0) > 0 || (spec.access?.length ?? 0) > 0 || spec.revokePublic === true || (previous.access?.length ?? 0) > 0
  );
}

/** The schemas of an observation on which the admin holds no grant option (see AccessSpec.ungrantable). */
function ungrantable(admin: AdminView | undefined, observed: ObservedAccess): Set<string> {
  return new Set(observed.schemas.filter((s) => cannotGrantOnSchema(admin, s.owner)).map((s) => s.name));
}

function accessSpec(spec: PgDatabaseSpec) {
  return { database: spec.name, schemas: spec.schemas ?? [], access: spec.access ?? [], revokePublic: spec.revokePublic ?? false };
}

function planAccessCreate(input: BehaviourPlanInput): DatabaseStep[] {
  const { spec } = input;
  if (!needsAccess(spec)) return [];
  const fresh = freshAccess(
    (spec.access ?? []).map((a) => a.role),
    input.templatePublic,
  );
  return planAccess({ ...accessSpec(spec), owner: spec.owner, ungrantable: ungrantable(input.admin, fresh) }, fresh);
}

function planAccessExisting(input: BehaviourPlanInput & { observed: ObservedDatabase }): DatabaseStep[] {
  const { spec, observed } = input;
  if (!observed.access) return [];
  const access = accessSpec(spec);
  const missing = missingRoles(access, observed.access);
  if (missing.length) throw new RoleMissing(missing);
  return planAccess(
    { ...access, owner: spec.owner ?? observed.owner, ungrantable: ungrantable(input.admin, observed.access) },
    observed.access,
    input.previous.access,
  );
}

/** ALTER DATABASE ... SET for each wanted setting that differs, RESET for each pg-kopf set that the map dropped. */
function planDatabaseSettings(
  fields: readonly FieldOf<"settings">[],
  input: BehaviourPlanInput,
  observed?: ObservedDatabase,
): DatabaseStep[] {
  const database = input.spec.name;
  return fields.flatMap((field) => {
    const want = input.spec[field];
    if (want === undefined) return [];
    refuseServerSettings([[field, want]], input.admin);
    const { set, reset } = settingsChanges(want, observed?.[field] ?? {}, input.previous[field] ?? {});
    return [
      ...set.map(([key, value]): DatabaseStep => ({ kind: "setDatabaseConfig", database, key, value })),
      ...reset.map((key): DatabaseStep => ({ kind: "resetDatabaseConfig", database, key })),
    ];
  });
}

/**
 * ALTER ROLE ... IN DATABASE ... SET / RESET, role by role: each role the spec maps, and each pg-kopf set settings for
 * before that the spec dropped (its keys reset). A mapped role that does not exist is RoleMissing.
 */
function planRoleSettings(
  fields: readonly FieldOf<"roleSettings">[],
  input: BehaviourPlanInput,
  observed?: ObservedDatabase,
): DatabaseStep[] {
  const database = input.spec.name;
  return fields.flatMap((field) => {
    const want = input.spec[field];
    const previous = input.previous[field] ?? {};
    if (want === undefined) return [];
    refuseServerSettings(
      Object.entries(want).map(([role, map]) => [`${field}.${role}`, map]),
      input.admin,
    );
    const have = observed?.[field];
    if (have) {
      const missing = Object.keys(want).filter((role) => !(role in have));
      if (missing.length) throw new RoleMissing(missing, field);
    }
    return [...new Set([...Object.keys(want), ...Object.keys(previous)])].flatMap((role) => {
      const { set, reset } = settingsChanges(want[role] ?? {}, have?.[role] ?? {}, previous[role] ?? {});
      return [
        ...set.map(([key, value]): DatabaseStep => ({ kind: "setRoleConfigIn", database, role, key, value })),
        ...reset.map((key): DatabaseStep => ({ kind: "resetRoleConfigIn", database, role, key })),
      ];
    });
  });
}

/** Each role of a roleConfig map that is no role (PUBLIC, the session's roles), then each role's settings. */
function roleSettingsFailures(field: string, raw: Readonly<Record<string, unknown>>): FieldFailure[] {
  const byRole = raw[field];
  if (typeof byRole !== "object" || byRole === null || Array.isArray(byRole)) return [];
  return Object.entries(byRole).flatMap(([role, map]): FieldFailure[] => [
    ...(NOT_ROLES.includes(role.toLowerCase())
      ? [{ field: `${field}.${role}`, message: `"${role}" is not a role; name the role (config sets the database's own settings)` }]
      : []),
    ...settingsFailures(`${field}.${role}`, map),
  ]);
}

/** In the order the plan runs them: refusals first, then ALTERs, extensions and what is inside the database. */
export const DATABASE_BEHAVIOURS: DatabaseBehaviours = {
  identity: {
    ...plain,
    rules: transitionRule,
    replaces: "always",
    observed: false,
    planCreate: none,
    planExisting: none,
    reflect: asRecorded,
  },
  immutable: {
    ...plain,
    rules: transitionRule,
    replaces: "betweenValues",
    observed: true,
    planCreate: none,
    planExisting: (fields, { spec, observed }) => refuseImmutableChanges(fields, spec, observed),
    reflect: asObserved,
  },
  creationOnly: {
    ...plain,
    rules: transitionRule,
    replaces: "betweenValues",
    observed: false,
    planCreate: none,
    planExisting: none,
    reflect: asRecorded,
  },
  mutable: {
    ...plain,
    replaces: "never",
    observed: true,
    planCreate: none,
    planExisting: (fields, { spec, observed }) => alterChanged(fields, spec, observed),
    reflect: asObserved,
  },
  settings: {
    validate: (field, raw) => settingsFailures(field, raw[field]),
    rules: settingsRules,
    replaces: "never",
    observed: false,
    planCreate: (fields, input) => planDatabaseSettings(fields, input),
    planExisting: (fields, input) => planDatabaseSettings(fields, input, input.observed),
    // What pg-kopf set, as Postgres has it now; a setting made by hand on another key is not pg-kopf's.
    reflect: (field, recorded, observed) =>
      recorded === null || recorded === undefined ? AS_RECORDED : reflectSettings(recorded as Settings, observed[field]),
  },
  roleSettings: {
    validate: roleSettingsFailures,
    rules: (field) =>
      [
        { rule: settingsKeysCel(`self.${field}[r]`), message: `spec.${field}: ${SETTINGS_KEYS_MESSAGE}` },
        ...settingsValueRules(`self.${field}[r]`, field),
      ].map((r) => ({ ...r, rule: `!has(self.${field}) || self.${field}.all(r, ${r.rule})` })),
    replaces: "never",
    observed: false,
    planCreate: (fields, input) => planRoleSettings(fields, input),
    planExisting: (fields, input) => planRoleSettings(fields, input, input.observed),
    reflect: (field, recorded, observed) => {
      const have = observed[field];
      if (recorded === null || recorded === undefined || !have) return AS_RECORDED;
      const byRole = recorded as Record<string, Settings>;
      return Object.fromEntries(Object.entries(byRole).map(([role, map]) => [role, reflectSettings(map, have[role] ?? {})]));
    },
  },
  extensions: {
    ...plain,
    replaces: "never",
    observed: false,
    planCreate: (fields, { spec }) => installMissing(fields, spec),
    planExisting: (fields, { spec, observed }) => installMissing(fields, spec, observed),
    // What is still installed of the recorded list; an extension dropped out of band is drift the next up repairs.
    reflect: (field, recorded, observed) => {
      const installed = observed[field];
      return Array.isArray(recorded) && installed ? (recorded as string[]).filter((e) => installed.includes(e)) : AS_RECORDED;
    },
  },
  access: {
    ...plain,
    replaces: "never",
    observed: false,
    // Planned together (ACCESS_FIELDS lists what each field is to the planner).
    planCreate: (_fields, input) => planAccessCreate(input),
    planExisting: (_fields, input) => planAccessExisting(input),
    // What was granted is memory, not observation (docs/adr/0020): recorded as applied.
    reflect: asRecorded,
  },
  // pg-kopf's own behaviour: read where its decision is made (ownership for adopt and adoptFrom, planDatabaseDelete
  // for reclaimPolicy and forceDrop), never planned as SQL.
  policy: { ...plain, replaces: "never", observed: false, planCreate: none, planExisting: none, reflect: asRecorded },
};

/** The table as the walks of core/behaviour take it (each entry typed by its own fields above). */
export const DATABASE_TABLE = { entries: DATABASE_BEHAVIOURS, fieldsOf } as unknown as BehaviourTable<
  Behaviour,
  FieldName,
  BehaviourPlanInput,
  ObservedDatabase,
  DatabaseStep
>;

/** Every behaviour's checks of a raw spec beyond its schema. */
export const databaseBehaviourFailures = (raw: Readonly<Record<string, unknown>>) => failuresEach(DATABASE_TABLE, raw);
/** Every behaviour's CEL rules, for the CRD. */
export const databaseBehaviourRules = (): CelRule[] => rulesEach(DATABASE_TABLE);

const behaviourOfField = (f: FieldName) => DATABASE_BEHAVIOURS[behaviourOf(f)!];

/** Fields whose change means a new database: identity, immutable and creation-only ones. */
export const REPLACING_FIELDS = FIELD_NAMES.filter((f) => behaviourOfField(f).replaces !== "never");
/** Fields Postgres reports back, compared with the live database by the plan and reflected by a refresh. */
export const OBSERVED_FIELDS = FIELD_NAMES.filter((f) => behaviourOfField(f).observed) as ObservedField[];

/**
 * The one immutability rule, for two recorded specs (the provider's diff, the CRD's CEL rule mirrors it): a
 * replacing field changed when it went from one value to another. The name changes whenever it differs. Setting or
 * unsetting an immutable field is no change here: the plan compares a newly set value with the live database.
 */
export function replacingChange(field: FieldName, before: unknown, after: unknown): boolean {
  const replaces = behaviourOfField(field).replaces;
  if (replaces === "never") return false;
  if (replaces === "betweenValues" && (before === undefined || after === undefined)) return false;
  return !sameValue(field, before, after);
}

/** The same rule as a CEL transition rule on the spec, for the CRD; undefined for a field changed in place. */
export function replacingChangeCel(field: FieldName): string | undefined {
  const replaces = behaviourOfField(field).replaces;
  if (replaces === "never") return undefined;
  const spelled = spellingOf(field)?.cel ?? ((e: string) => e);
  const same = `${spelled(`self.${field}`)} == ${spelled(`oldSelf.${field}`)}`;
  return replaces === "always" ? same : `!has(self.${field}) || !has(oldSelf.${field}) || ${same}`;
}

/**
 * Recorded properties updated with what the catalog says, field by field as each behaviour reflects it, so a refresh
 * shows drift and the next update repairs it. Only fields the spec sets are reflected (unset ones stay unset); with
 * `importing` (no recorded name) every observable field is taken.
 */
export function reflectDatabase(
  recorded: Readonly<Record<string, unknown>>,
  observed: ObservedDatabase,
  importing: boolean,
): Record<string, unknown> {
  return reflectEach(DATABASE_TABLE, recorded, observed, importing);
}
