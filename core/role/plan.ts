// planRole: the only place that decides which SQL runs for a role. Pure: (spec, observed, password) -> steps, or a
// typed refusal. Only what the spec sets is compared, so a plan right after applying its steps is empty.
import { NotOwned } from "../errors";
import { ownership, ownershipStamp, type OwnershipContext } from "../ownership";
import { ROLE_ATTRIBUTES, sameAttribute } from "./fields";
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
  if (takeOver) steps.push(stamp);
  return steps;
}
