// planRole: the only place that decides which SQL runs for a role. Pure: (spec, observed, password) -> steps, or a
// typed refusal. Only what the spec sets is compared, so a plan right after applying its steps is empty. What each
// field's behaviour plans is in ./behaviours; this is the order around it: refusals, CREATE ROLE, the admin's
// grant and the stamp, the behaviours' steps, a takeover's stamp last.
import { type AdminView, grantToAdmin, rolesToActAs } from "../admin";
import { NotOwned, RoleInUse } from "../errors";
import { ownership, ownershipStamp, type OwnershipContext } from "../ownership";
import { planCreateEach, planExistingEach } from "../behaviour";
import { refuseRoleSpec, type RoleMemory, ROLE_TABLE, usesPassword } from "./behaviours";
import { ROLE_ATTRIBUTES } from "./fields";
import type { ObservedRole } from "./observe";
import type { PgRoleSpec } from "./spec";
import type { RoleStep } from "./steps";

export interface RolePasswordChange {
  /** The SCRAM verifier to set (core/scram); set only when the caller decided the password changes. */
  readonly verifier: string;
}

/** Who plans a role: the manager, and (from the catalogs) what the admin can do with the roles involved. */
export interface RolePlanContext extends OwnershipContext {
  /** Undefined in pure tests: the admin is then taken to be a superuser. */
  readonly admin?: AdminView;
  /** What pg-kopf last applied to the role (the engine's record); nothing recorded, nothing reset. */
  readonly previous?: RoleMemory;
}

/**
 * Steps that bring `observed` (undefined: absent) to `spec`, setting the password when `password` is given. Throws
 * NotOwned for a role stamped by another manager (or none) unless the spec takes it over, and for a superuser;
 * InvalidSpec for a memberOf group that gives superuser powers; AdminLacksPrivilege when a non-superuser admin
 * cannot act as the role or grant a group (docs/adr/0016).
 */
export function planRole(
  spec: PgRoleSpec,
  observed: ObservedRole | undefined,
  ctx: RolePlanContext,
  password?: RolePasswordChange,
): RoleStep[] {
  const role = spec.name;
  const stamp: RoleStep = { kind: "stampRole", role, manager: ctx.manager, comment: ownershipStamp(ctx.manager) };
  refuseRoleSpec(spec, ctx.admin);
  const admin = ctx.admin && !ctx.admin.facts.superuser ? ctx.admin : undefined;
  // A role without a password of pg-kopf's (Kerberos, NOLOGIN) is never given one, whatever the caller passes.
  const verifier = usesPassword(spec) ? password?.verifier : undefined;
  const input = { spec, admin, verifier, previous: ctx.previous ?? {} };
  if (!observed) {
    const attributes = Object.fromEntries(ROLE_ATTRIBUTES.filter((a) => spec[a] !== undefined).map((a) => [a, spec[a]]));
    return [
      { kind: "createRole", role, attributes, ...(verifier ? { verifier } : {}) },
      ...(admin ? [grantToAdmin(admin.facts, role)] : []),
      stamp,
      ...planCreateEach(ROLE_TABLE, input),
    ];
  }
  if (observed.superuser) {
    // Whatever its stamp says: pg-kopf never alters (or drops) a superuser.
    throw new NotOwned(`role "${role}" exists and is a superuser, so ${ctx.manager} will not alter it. Choose another name.`);
  }
  const { takeOver } = ownership({ kind: "role", ...spec }, observed, ctx, "alter");
  const steps: RoleStep[] = admin ? adminActsAs(admin, [["name", role]]) : [];
  steps.push(...planExistingEach(ROLE_TABLE, { ...input, observed }));
  if (takeOver) steps.push(stamp);
  return steps;
}

/** The steps that let a non-superuser admin act as existing roles it cannot act as yet (refused when it may not). */
function adminActsAs(admin: AdminView, roles: readonly (readonly [string, string | undefined])[]): RoleStep[] {
  return rolesToActAs(admin, roles).map((role) => grantToAdmin(admin.facts, role));
}

/** Where a role still owns objects or holds privileges: a database, or "" for shared objects (databases, tablespaces). */
export interface RoleDependency {
  readonly database: string;
  readonly objects: number;
  readonly owns: boolean;
}

/**
 * Steps that carry out deleting the resource. Pure. None with reclaimPolicy retain or when the role is gone. With
 * delete: refuses (NotOwned) a role that is not ours or is a superuser; refuses (RoleInUse, listing where) a role that
 * owns or is granted anything unless reassignOwnedTo says who takes it; then REASSIGN OWNED and DROP OWNED in each
 * such database (shared objects from `maintenanceDatabase`) and DROP ROLE.
 */
export function planRoleDelete(
  spec: PgRoleSpec,
  observed: ObservedRole | undefined,
  dependencies: readonly RoleDependency[],
  maintenanceDatabase: string,
  ctx: RolePlanContext,
): RoleStep[] {
  if (!observed || spec.reclaimPolicy !== "delete") return [];
  if (observed.superuser) throw new NotOwned(`role "${spec.name}" is a superuser, so ${ctx.manager} will not drop it. Left in place.`);
  ownership({ kind: "role", ...spec }, observed, ctx, "drop");
  const role = spec.name;
  const drop: RoleStep = { kind: "dropRole", role };
  if (dependencies.length === 0) return [drop];
  const admin = ctx.admin && !ctx.admin.facts.superuser ? ctx.admin : undefined;
  const to = spec.reassignOwnedTo;
  if (to === undefined) {
    const where = dependencies.map(
      (d) =>
        `${d.objects} ${d.owns ? "owned objects or privileges" : "privileges"} in ${d.database ? `database "${d.database}"` : "the cluster (databases, tablespaces)"}`,
    );
    throw new RoleInUse(
      `role "${role}" was not dropped: it still has ${where.join("; ")}. Set reassignOwnedTo to the role that should take them ` +
        "(REASSIGN OWNED and DROP OWNED run in each of those databases), or move them yourself, then delete again.",
    );
  }
  const databases = [...new Set(dependencies.map((d) => d.database || maintenanceDatabase))];
  return [
    // REASSIGN OWNED and DROP OWNED need the privileges of the role and of the one that takes its objects.
    ...(admin
      ? adminActsAs(admin, [
          ["name", role],
          ["reassignOwnedTo", to],
        ])
      : []),
    ...databases.flatMap((database): RoleStep[] => [
      { kind: "reassignOwned", role, database, to },
      { kind: "dropOwned", role, database },
    ]),
    drop,
  ];
}
