// planDatabase: the only place that decides which SQL runs for a database. Pure: (spec, observed) -> steps, or a
// typed refusal. What each field's behaviour plans is in ./behaviours; this is the order around it: refusals, the
// admin's grants, CREATE and the stamp, the behaviours' steps, a takeover's stamp last.
import type { PgDatabaseSpec } from "./spec";
import { CREATE_FIELDS } from "./fields";
import type { ObservedDatabase, Session } from "./observe";
import type { DatabaseStep } from "./steps";
import { DatabaseInUse, InvalidSpec, RoleMissing } from "../errors";
import type { TemplatePublicSchema } from "./access";
import { planCreateEach, planExistingEach } from "../behaviour";
import { DATABASE_TABLE, type DatabaseMemory } from "./behaviours";
import { ownership, ownershipStamp, type OwnershipContext } from "../ownership";
import { type AdminView, FIELDS_SINCE, grantToAdmin, majorOf, rolesToActAs } from "../admin";

/**
 * Who is planning: the manager, whether it recorded creating this database (see OwnershipContext), and what the admin
 * can do with the roles involved (undefined in pure tests: the admin is then taken to be a superuser).
 */
export interface DatabasePlanContext extends OwnershipContext {
  readonly admin?: AdminView;
  /** For a database to be created: its template's public schema (default: a stock template of Postgres 15 or later). */
  readonly templatePublic?: TemplatePublicSchema;
  /** What pg-kopf last applied (the engine's record); nothing recorded, nothing revoked or reset. */
  readonly previous?: DatabaseMemory;
}

/**
 * Steps that bring `observed` (undefined: absent) to `spec`. Pure. Only fields the spec sets are compared, so a
 * plan right after applying its steps is empty. Throws NotOwned for a database stamped by another manager (or
 * none) unless spec.adopt, and InvalidSpec when an immutable field differs from the database.
 */
export function planDatabase(spec: PgDatabaseSpec, observed: ObservedDatabase | undefined, ctx: DatabasePlanContext): DatabaseStep[] {
  const database = spec.name;
  const stamp: DatabaseStep = { kind: "stampOwnership", database, manager: ctx.manager, comment: ownershipStamp(ctx.manager) };
  const schemaOwners = (spec.schemas ?? []).map((s, i) => [`schemas.${i}.owner`, s.owner] as const);
  const input = { spec, admin: ctx.admin, templatePublic: ctx.templatePublic, previous: ctx.previous ?? {} };
  refuseMissingRoles(spec, ctx.admin, observed === undefined);
  if (!observed) {
    refuseUnsupported(spec, ctx.admin);
    const actAs = adminSteps(database, ctx.admin, [["owner", spec.owner], ...schemaOwners]);
    const options = Object.fromEntries(CREATE_FIELDS.filter((f) => spec[f] !== undefined).map((f) => [f, spec[f]]));
    return [
      ...actAs,
      { kind: "createDatabase", database, ...options },
      // Right after the CREATE: a database we created is ours before anything else can fail.
      stamp,
      ...planCreateEach(DATABASE_TABLE, input),
    ];
  }

  const { takeOver } = ownership({ kind: "database", ...spec }, observed, ctx, "alter");
  const actAs = adminSteps(database, ctx.admin, [["owner", observed.owner], ["owner", spec.owner], ...schemaOwners]);
  const steps: DatabaseStep[] = [...actAs, ...planExistingEach(DATABASE_TABLE, { ...input, observed })];
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
    ["roleConfig", Object.keys(spec.roleConfig ?? {})],
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
