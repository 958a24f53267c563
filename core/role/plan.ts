// planRole: the only place that decides which SQL runs for a role. Pure: (spec, observed, password) -> steps, or a
// typed refusal. Only what the spec sets is compared, so a plan right after applying its steps is empty.
import { type AdminView, cannotGrant, grantToAdmin, rolesToActAs } from "../admin";
import { InvalidSpec, NotOwned, RoleInUse } from "../errors";
import { ownership, ownershipStamp, type OwnershipContext } from "../ownership";
import { ROLE_ATTRIBUTES, sameAttribute, settingItems } from "./fields";
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
  const groups = spec.memberOf ?? [];
  refusePrivilegedGroups(groups, ctx.admin);
  const admin = ctx.admin && !ctx.admin.facts.superuser ? ctx.admin : undefined;
  const toAdmin: RoleStep[] = admin ? [grantToAdmin(admin.facts, role)] : [];
  const granted = (group: string): RoleStep => {
    const hold = admin?.holds.get(group);
    if (hold && !hold.grants) throw cannotGrant(group, admin!.facts, "memberOf");
    return { kind: "grantRole", role, group };
  };
  if (!observed) {
    const attributes = Object.fromEntries(ROLE_ATTRIBUTES.filter((a) => spec[a] !== undefined).map((a) => [a, spec[a]]));
    return [
      { kind: "createRole", role, attributes, ...(password ? { verifier: password.verifier } : {}) },
      ...toAdmin,
      stamp,
      ...groups.map(granted),
      ...planConfig(role, spec.config ?? {}, {}),
    ];
  }
  if (observed.superuser) {
    // Whatever its stamp says: pg-kopf never alters (or drops) a superuser.
    throw new NotOwned(`role "${role}" exists and is a superuser, so ${ctx.manager} will not alter it. Choose another name.`);
  }
  const { takeOver } = ownership({ kind: "role", ...spec }, observed, ctx, "alter");
  const steps: RoleStep[] = admin ? adminActsAs(admin, [["name", role]]) : [];
  for (const attribute of ROLE_ATTRIBUTES) {
    const want = spec[attribute];
    if (want !== undefined && !sameAttribute(attribute, want, observed[attribute]))
      steps.push({ kind: "alterRole", role, attribute, value: want });
  }
  if (password) steps.push({ kind: "setPassword", role, verifier: password.verifier });
  if (spec.memberOf !== undefined) {
    for (const group of groups) if (!observed.memberOf.includes(group)) steps.push(granted(group));
    for (const group of observed.memberOf) if (!groups.includes(group)) steps.push({ kind: "revokeRole", role, group });
  }
  if (spec.config !== undefined) steps.push(...planConfig(role, spec.config, observed.config));
  if (takeOver) steps.push(stamp);
  return steps;
}

/**
 * Refuses (InvalidSpec, naming the entry) a memberOf group through which the role would get superuser powers: one
 * that is a superuser, has REPLICATION or BYPASSRLS, or leads to one, as the live catalogs say now. Checked on every
 * plan, so a group made privileged out of band is refused too.
 */
function refusePrivilegedGroups(groups: readonly string[], admin: AdminView | undefined): void {
  const failures = groups.flatMap((group, i) => {
    const privileged = admin?.holds.get(group)?.privileged;
    return privileged
      ? [
          {
            field: `memberOf.${i}`,
            message: `membership in "${group}" gives superuser powers (${privileged}); grant the role the privileges it needs instead, or remove it from memberOf`,
          },
        ]
      : [];
  });
  if (failures.length) throw new InvalidSpec(failures);
}

/** The steps that let a non-superuser admin act as existing roles it cannot act as yet (refused when it may not). */
function adminActsAs(admin: AdminView, roles: readonly (readonly [string, string | undefined])[]): RoleStep[] {
  return rolesToActAs(admin, roles).map((role) => grantToAdmin(admin.facts, role));
}

/** SET for each wanted setting that differs, RESET for each setting the map no longer has. */
function planConfig(role: string, want: Readonly<Record<string, string>>, have: Readonly<Record<string, string>>): RoleStep[] {
  const same = (key: string, a: string, b: string) => JSON.stringify(settingItems(key, a)) === JSON.stringify(settingItems(key, b));
  return [
    ...Object.entries(want)
      .filter(([key, value]) => have[key] === undefined || !same(key, value, have[key]))
      .map(([key, value]): RoleStep => ({ kind: "setRoleConfig", role, key, value })),
    ...Object.keys(have)
      .filter((key) => !(key in want))
      .map((key): RoleStep => ({ kind: "resetRoleConfig", role, key })),
  ];
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
