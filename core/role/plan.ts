// planRole: the only place that decides which SQL runs for a role. Pure: (spec, observed, password) -> steps, or a
// typed refusal. Only what the spec sets is compared, so a plan right after applying its steps is empty.
import { NotOwned, RoleInUse } from "../errors";
import { ownership, ownershipStamp, type OwnershipContext } from "../ownership";
import { ROLE_ATTRIBUTES, sameAttribute, settingItems } from "./fields";
import type { ObservedRole } from "./observe";
import type { PgRoleSpec } from "./spec";
import type { RoleStep } from "./steps";

export interface RolePasswordChange {
  /** The SCRAM verifier to set (core/scram); set only when the caller decided the password changes. */
  readonly verifier: string;
}

/**
 * Steps that bring `observed` (undefined: absent) to `spec`, setting the password when `password` is given. Throws
 * NotOwned for a role stamped by another manager (or none) unless the spec takes it over, and for a superuser.
 */
export function planRole(
  spec: PgRoleSpec,
  observed: ObservedRole | undefined,
  ctx: OwnershipContext,
  password?: RolePasswordChange,
): RoleStep[] {
  const role = spec.name;
  const stamp: RoleStep = { kind: "stampRole", role, manager: ctx.manager, comment: ownershipStamp(ctx.manager) };
  const groups = spec.memberOf ?? [];
  if (!observed) {
    const attributes = Object.fromEntries(ROLE_ATTRIBUTES.filter((a) => spec[a] !== undefined).map((a) => [a, spec[a]]));
    return [
      { kind: "createRole", role, attributes, ...(password ? { verifier: password.verifier } : {}) },
      stamp,
      ...groups.map((group): RoleStep => ({ kind: "grantRole", role, group })),
      ...planConfig(role, spec.config ?? {}, {}),
    ];
  }
  if (observed.superuser) {
    // Whatever its stamp says: pg-kopf never alters (or drops) a superuser.
    throw new NotOwned(`role "${role}" exists and is a superuser, so ${ctx.manager} will not alter it. Choose another name.`);
  }
  const { takeOver } = ownership({ kind: "role", ...spec }, observed.comment, ctx, "alter");
  const steps: RoleStep[] = [];
  for (const attribute of ROLE_ATTRIBUTES) {
    const want = spec[attribute];
    if (want !== undefined && !sameAttribute(attribute, want, observed[attribute]))
      steps.push({ kind: "alterRole", role, attribute, value: want });
  }
  if (password) steps.push({ kind: "setPassword", role, verifier: password.verifier });
  if (spec.memberOf !== undefined) {
    for (const group of groups) if (!observed.memberOf.includes(group)) steps.push({ kind: "grantRole", role, group });
    for (const group of observed.memberOf) if (!groups.includes(group)) steps.push({ kind: "revokeRole", role, group });
  }
  if (spec.config !== undefined) steps.push(...planConfig(role, spec.config, observed.config));
  if (takeOver) steps.push(stamp);
  return steps;
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
  ctx: OwnershipContext,
): RoleStep[] {
  if (!observed || spec.reclaimPolicy !== "delete") return [];
  if (observed.superuser) throw new NotOwned(`role "${spec.name}" is a superuser, so ${ctx.manager} will not drop it. Left in place.`);
  ownership({ kind: "role", ...spec }, observed.comment, ctx, "drop");
  const role = spec.name;
  const drop: RoleStep = { kind: "dropRole", role };
  if (dependencies.length === 0) return [drop];
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
    ...databases.flatMap((database): RoleStep[] => [
      { kind: "reassignOwned", role, database, to },
      { kind: "dropOwned", role, database },
    ]),
    drop,
  ];
}
