// plan: the only place that decides which SQL runs. Pure: (spec, observed) -> steps, or a typed refusal.
import type { PgDatabaseSpec } from "./spec";
import { alterStep, CREATE_FIELDS, OBSERVED_FIELDS, behaviourOf, sameSetting } from "./fields";
import type { ObservedDatabase, Session } from "./observe";
import type { DatabaseStep } from "./steps";
import { DatabaseInUse, InvalidSpec, RoleMissing } from "../errors";
import { type AccessEntry, freshAccess, missingRoles, planAccess, type TemplatePublicSchema } from "./access";
import { ownership, ownershipStamp, type OwnershipContext } from "../ownership";
import { type AdminView, cannotGrantOnSchema, FIELDS_SINCE, grantToAdmin, majorOf, rolesToActAs } from "../admin";

/**
 * Who is planning: the manager, whether it recorded creating this database (see OwnershipContext), and what the admin
 * can do with the roles involved (undefined in pure tests: the admin is then taken to be a superuser).
 */
export interface DatabasePlanContext extends OwnershipContext {
  readonly admin?: AdminView;
  /** For a database to be created: its template's public schema (default: a stock template of Postgres 15 or later). */
  readonly templatePublic?: TemplatePublicSchema;
}

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

/**
 * Steps that bring `observed` (undefined: absent) to `spec`. Pure. Only fields the spec sets are compared, so a
 * plan right after applying its steps is empty. Throws NotOwned for a database stamped by another manager (or
 * none) unless spec.adopt, and InvalidSpec when an immutable field differs from the database.
 */
export function planDatabase(
  spec: PgDatabaseSpec,
  observed: ObservedDatabase | undefined,
  ctx: DatabasePlanContext,
  previousAccess: readonly AccessEntry[] = [],
): DatabaseStep[] {
  const database = spec.name;
  const access = { database, schemas: spec.schemas ?? [], access: spec.access ?? [], revokePublic: spec.revokePublic ?? false };
  const stamp: DatabaseStep = { kind: "stampOwnership", database, manager: ctx.manager, comment: ownershipStamp(ctx.manager) };
  const schemaOwners = (spec.schemas ?? []).map((s, i) => [`schemas.${i}.owner`, s.owner] as const);
  refuseMissingRoles(spec, ctx.admin, observed === undefined);
  if (!observed) {
    refuseUnsupported(spec, ctx.admin);
    const actAs = adminSteps(database, ctx.admin, [["owner", spec.owner], ...schemaOwners]);
    const fresh = freshAccess(
      access.access.map((a) => a.role),
      ctx.templatePublic,
    );
    const options = Object.fromEntries(CREATE_FIELDS.filter((f) => spec[f] !== undefined).map((f) => [f, spec[f]]));
    return [
      ...actAs,
      { kind: "createDatabase", database, ...options },
      // Right after the CREATE: a database we created is ours before anything else can fail.
      stamp,
      ...(spec.extensions ?? []).map((extension): DatabaseStep => ({ kind: "createExtension", database, extension })),
      ...(needsAccess(spec) ? planAccess({ ...access, owner: spec.owner, ungrantable: ungrantable(ctx.admin, fresh) }, fresh) : []),
    ];
  }

  const { takeOver } = ownership({ kind: "database", ...spec }, observed, ctx, "alter");
  const actAs = adminSteps(database, ctx.admin, [["owner", observed.owner], ["owner", spec.owner], ...schemaOwners]);
  const failures = OBSERVED_FIELDS.filter((f) => behaviourOf(f) === "immutable").flatMap((field) => {
    const want = spec[field];
    const have = observed[field];
    return want !== undefined && !sameSetting(field, want, have) ? [{ field, message: immutableChangeMessage(have, want) }] : [];
  });
  if (failures.length) throw new InvalidSpec(failures);

  const steps: DatabaseStep[] = [...actAs];
  for (const field of OBSERVED_FIELDS) {
    const want = spec[field];
    if (want === undefined || behaviourOf(field) !== "mutable" || sameSetting(field, want, observed[field])) continue;
    const step = alterStep(field, database, want);
    if (step) steps.push(step);
  }
  if (spec.extensions?.length) {
    // Callers observe extensions whenever the spec lists some; unobserved means none could be seen.
    const installed = new Set(observed.extensions ?? []);
    for (const extension of spec.extensions) {
      if (!installed.has(extension)) steps.push({ kind: "createExtension", database, extension });
    }
  }
  if (observed.access) {
    const missing = missingRoles(access, observed.access);
    if (missing.length) throw new RoleMissing(missing);
    steps.push(
      ...planAccess(
        { ...access, owner: spec.owner ?? observed.owner, ungrantable: ungrantable(ctx.admin, observed.access) },
        observed.access,
        previousAccess,
      ),
    );
  }
  // A takeover is stamped last, so a plan that fails half-way (a missing owner role) leaves the stamp as it was.
  if (takeOver) steps.push(stamp);
  return steps;
}

/**
 * Steps that carry out deleting the resource. Pure. With reclaimPolicy retain, or when the database is already
 * gone, there are none. With delete: refuses (NotOwned) a database another manager stamped, and refuses
 * (DatabaseInUse, listing who is connected) while sessions are connected unless forceDrop.
 */
export function planDatabaseDelete(
  spec: PgDatabaseSpec,
  observed: ObservedDatabase | undefined,
  sessions: readonly Session[],
  ctx: DatabasePlanContext,
): DatabaseStep[] {
  if (!observed || spec.reclaimPolicy !== "delete") return [];
  ownership({ kind: "database", ...spec }, observed, ctx, "drop");
  const actAs = adminSteps(spec.name, ctx.admin, [["owner", observed.owner]]);
  if (sessions.length > 0 && !spec.forceDrop) {
    const who = sessions.map((s) => `pid ${s.pid} user ${s.user || "?"} app ${s.application || "?"} from ${s.clientAddress}`);
    throw new DatabaseInUse(
      `database "${spec.name}" has ${sessions.length} connected session(s) and was not dropped: ${who.join("; ")}. ` +
        `Disconnect them, or set forceDrop: true to terminate them and drop the database.`,
    );
  }
  const steps: DatabaseStep[] = [...actAs];
  // Postgres refuses to drop a database marked as a template.
  if (observed.isTemplate) steps.push({ kind: "alterIsTemplate", database: spec.name, isTemplate: false });
  steps.push({ kind: "dropDatabase", database: spec.name, force: spec.forceDrop });
  return steps;
}

/** The schemas of an observation on which the admin holds no grant option (see AccessSpec.ungrantable). */
function ungrantable(admin: AdminView | undefined, observed: { schemas: readonly { name: string; owner: string }[] }): Set<string> {
  return new Set(observed.schemas.filter((s) => cannotGrantOnSchema(admin, s.owner)).map((s) => s.name));
}

/** Refuses (InvalidSpec, naming each) the fields the server's version does not have. */
function refuseUnsupported(spec: PgDatabaseSpec, admin: AdminView | undefined): void {
  if (!admin) return;
  const failures = Object.entries(FIELDS_SINCE)
    .filter(([field, since]) => spec[field as keyof PgDatabaseSpec] !== undefined && admin.facts.versionNum < since)
    .map(([field, since]) => ({
      field,
      message: `Postgres ${majorOf(admin.facts.versionNum)} does not have it (it came with ${majorOf(since)}); remove it, or use a server of ${majorOf(since)} or later`,
    }));
  if (failures.length) throw new InvalidSpec(failures);
}

/**
 * Refuses (RoleMissing, naming the field) a spec naming a role that does not exist, before anything runs: otherwise
 * CREATE DATABASE would run and a later GRANT fail, leaving a database half made. The roles are those the admin view
 * was observed for (databaseRoles); access roles of an existing database are checked against its observed access.
 */
function refuseMissingRoles(spec: PgDatabaseSpec, admin: AdminView | undefined, creating: boolean): void {
  if (!admin) return;
  const missing = (names: readonly (string | undefined)[]) => [
    ...new Set(names.filter((n): n is string => n !== undefined && !admin.holds.has(n))),
  ];
  const fields: [string, (string | undefined)[]][] = [
    ["owner", [spec.owner]],
    ["schemas", (spec.schemas ?? []).map((s) => s.owner)],
    ["access", creating ? (spec.access ?? []).map((a) => a.role) : []],
  ];
  for (const [field, names] of fields) {
    const roles = missing(names);
    if (roles.length > 0) throw new RoleMissing(roles, field);
  }
}

/**
 * The steps by which a non-superuser admin gives itself what it needs to act as the database's owner and its schemas'
 * owners (core/admin); throws AdminLacksPrivilege for a role it may not grant itself.
 */
function adminSteps(
  database: string,
  admin: AdminView | undefined,
  roles: readonly (readonly [string, string | undefined])[],
): DatabaseStep[] {
  return rolesToActAs(admin, roles).map((role): DatabaseStep => ({ ...grantToAdmin(admin!.facts, role), database }));
}

/** Whether the spec asks for anything inside the database beyond extensions: schemas, access, revokePublic. */
export function needsAccess(spec: PgDatabaseSpec, previousAccess: readonly AccessEntry[] = []): boolean {
  return (spec.schemas?.length ?? 0) > 0 || (spec.access?.length ?? 0) > 0 || spec.revokePublic === true || previousAccess.length > 0;
}
