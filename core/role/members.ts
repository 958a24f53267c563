// Two-credential rotation (docs/adr/0026): the declared role is the NOLOGIN owner of everything it has, and two login
// members take turns holding the credentials apps use. A rotation gives the idle member a new password and points the
// credentials at it; the member apps used before keeps logging in until its grace period ends. The same turns describe
// one credential (the owner logs in itself), so switching to two members and back is a rotation like any other.
import { Buffer } from "node:buffer";
import type { ConnectionSettings } from "../connect";
import { type FieldFailure, PlanChanged } from "../errors";
import { type OwnershipContext, stampedManager } from "../ownership";
import { type ConvergeRoleOptions, convergeRole, observeRole, observeRolesForPlan, type RoleObservation, reclaimRole } from "./apply";
import type { RoleMemory } from "./behaviours";
import type { ObservedRole } from "./observe";
import { planRole, type RolePasswordChange } from "./plan";
import type { PgRoleSpec } from "./spec";
import { describeRoleStep, type RoleStep } from "./steps";

const SUFFIXES = ["_a", "_b"] as const;
/** Role names are at most 63 bytes; a member's adds its suffix. */
export const MAX_OWNER_NAME_BYTES = 63 - SUFFIXES[0].length;

/** The two login members of `owner`, in turn order. */
export function loginMembers(owner: string): readonly [string, string] {
  return [`${owner}${SUFFIXES[0]}`, `${owner}${SUFFIXES[1]}`];
}

/** The member a rotation moves to: the one apps are not pointed at (the first when they are pointed at neither). */
export function nextMember(owner: string, current: string | undefined): string {
  const [first, second] = loginMembers(owner);
  return current === first ? second : first;
}

/** A role name too long to have members (`field` names it). */
export function memberNameFailures(field: string, owner: string): FieldFailure[] {
  if (Buffer.byteLength(owner, "utf8") <= MAX_OWNER_NAME_BYTES) return [];
  return [
    {
      field,
      message: `with two-credential rotation the role's members are named <name>_a and <name>_b, so the name may have at most ${MAX_OWNER_NAME_BYTES} bytes: shorten it, or remove twoCredentials`,
    },
  ];
}

/** Who logs in: the role the credentials name, and the one they named before, which keeps working until `until`. */
export interface Turns {
  /** A member, or the owner itself (one credential). */
  readonly current: string;
  readonly previous?: { readonly name: string; readonly until: string };
}

/** Whether the previous credential still logs in at `now` (ms). */
export function previousValid(turns: Turns, now: number): boolean {
  return turns.previous !== undefined && Date.parse(turns.previous.until) > now;
}

/** Whether `name` logs in under these turns: the current one, and the previous one within its grace period. */
function logsIn(turns: Turns, name: string, now: number): boolean {
  return name === turns.current || (turns.previous?.name === name && previousValid(turns, now));
}

/**
 * The owner's spec under these turns: the declared one, logging in only while its own credential is current or in
 * its grace period (everything it owns or is granted stays on it).
 */
export function ownerSpec(spec: PgRoleSpec, turns: Turns, now: number): PgRoleSpec {
  return { ...spec, login: spec.login && logsIn(turns, spec.name, now) };
}

/**
 * A member's spec: a login role in the owner, INHERIT, with `role` set to the owner so every session acts as it and
 * what it creates is the owner's; the owner's session settings, connection limit and expiry. Deleting the owner
 * drops it, its objects (if a session made any after RESET ROLE) given to the owner first.
 */
export function memberSpec(spec: PgRoleSpec, member: string, turns: Turns, now: number): PgRoleSpec {
  return {
    name: member,
    login: logsIn(turns, member, now),
    inherit: true,
    memberOf: [spec.name],
    config: { ...(spec.config ?? {}), role: spec.name },
    ...(spec.connectionLimit === undefined ? {} : { connectionLimit: spec.connectionLimit }),
    ...(spec.validUntil === undefined ? {} : { validUntil: spec.validUntil }),
    reclaimPolicy: spec.reclaimPolicy,
    ...(spec.reclaimPolicy === "delete" ? { reassignOwnedTo: spec.name } : {}),
    adopt: false,
  };
}

/** What converging the turns is given beside the spec. */
export interface TurnsOptions extends Pick<ConvergeRoleOptions, "onStep"> {
  /** The current role's new password (a rotation): set before anyone is pointed at it. */
  readonly password?: RolePasswordChange;
  /** The current role's password if it has to be created (dropped out of band): what its credentials hold. */
  readonly passwordIfCreated?: () => RolePasswordChange;
  /** Create the members that do not exist (two-credential rotation); without it only existing ones are converged. */
  readonly createMembers: boolean;
  /**
   * The statements a reviewer was shown (planTurns, described): nothing runs unless the turns plan exactly that, and
   * each role's transaction runs exactly its part.
   */
  readonly expected?: readonly string[];
  readonly now?: number;
}

/** One role of the turns, with what converging it is given: the owner, the current one, then the other member. */
interface TurnRole {
  readonly spec: PgRoleSpec;
  readonly ctx: OwnershipContext & { readonly previous?: RoleMemory };
  readonly current: boolean;
}

/**
 * The roles the turns converge, in order: the owner first (the members are granted it), then the current role,
 * then the other member, unless `include` leaves it out (without members to create: one that does not exist or is
 * not this manager's). The members' memory: the owner's settings, and `role`, which they always have.
 */
function turnRoles(
  spec: PgRoleSpec,
  ctx: OwnershipContext & { readonly previous?: RoleMemory },
  turns: Turns,
  now: number,
  include: (member: string) => boolean,
): TurnRole[] {
  const members = [...loginMembers(spec.name)].sort((a, b) => Number(b === turns.current) - Number(a === turns.current));
  const previous = { ...ctx.previous, config: { ...(ctx.previous?.config ?? {}), role: spec.name } };
  return [
    { spec: ownerSpec(spec, turns, now), ctx, current: turns.current === spec.name },
    ...members
      .filter((m) => m === turns.current || include(m))
      .map((m) => ({ spec: memberSpec(spec, m, turns, now), ctx: { ...ctx, previous }, current: m === turns.current })),
  ];
}

/**
 * The statements converging the turns runs, per role in turnRoles' order, as describeRoleStep shows them: what a
 * preview shows. Pure over the observations (observeTurnsForPlan). Throws what planRole throws.
 */
export function planTurns(
  spec: PgRoleSpec,
  observed: TurnsObservation,
  ctx: OwnershipContext & { readonly previous?: RoleMemory },
  turns: Turns,
  options: Pick<TurnsOptions, "password" | "createMembers" | "now">,
): string[][] {
  const now = options.now ?? Date.now();
  const ours = (m: string) => options.createMembers || stampedManager(observed.get(m)?.observed?.comment) === ctx.manager;
  return turnRoles(spec, ctx, turns, now, ours).map((r) => {
    const seen = observed.get(r.spec.name);
    if (!seen) throw new Error(`planTurns: role "${r.spec.name}" was not observed`);
    const password = r.current ? options.password : undefined;
    return planRole(r.spec, seen.observed, { ...r.ctx, admin: seen.admin }, password).map(describeRoleStep);
  });
}

/** The owner and both members, as planRole reads them: by role name. */
export type TurnsObservation = ReadonlyMap<string, RoleObservation>;

/** Observes the owner and its members for planTurns, over one connection. */
export async function observeTurnsForPlan(settings: ConnectionSettings, spec: PgRoleSpec): Promise<TurnsObservation> {
  const none: Turns = { current: spec.name };
  const specs = [spec, ...loginMembers(spec.name).map((m) => memberSpec(spec, m, none, 0))];
  const observed = await observeRolesForPlan(settings, specs);
  return new Map(specs.map((s, i) => [s.name, observed[i]]));
}

/**
 * Converges the owner and its members to the turns, each in its own transaction, in turnRoles' order. Idempotent; a
 * failure leaves what converged before it converged, which the next call finishes. With `expected`, the whole plan
 * is compared first (PlanChanged when it differs) and each transaction runs exactly its part. Throws what
 * convergeRole throws (NotOwned for a member that is not ours). Returns the owner as observed.
 */
export async function convergeTurns(
  settings: ConnectionSettings,
  spec: PgRoleSpec,
  ctx: OwnershipContext & { readonly previous?: RoleMemory },
  turns: Turns,
  options: TurnsOptions,
): Promise<ObservedRole> {
  const now = options.now ?? Date.now();
  let parts: string[][] | undefined;
  if (options.expected) {
    parts = planTurns(spec, await observeTurnsForPlan(settings, spec), ctx, turns, { ...options, now });
    if (JSON.stringify(parts.flat()) !== JSON.stringify(options.expected)) throw new PlanChanged("role", options.expected, parts.flat());
  }
  const existing = new Set<string>();
  if (!options.createMembers)
    for (const m of loginMembers(spec.name)) if (m !== turns.current && (await ours(settings, m, ctx.manager))) existing.add(m);
  const roles = turnRoles(spec, ctx, turns, now, (m) => options.createMembers || existing.has(m));
  let owner: ObservedRole | undefined;
  for (const [i, r] of roles.entries()) {
    const own = r.current ? { password: options.password, passwordIfCreated: options.passwordIfCreated } : {};
    const { observed } = await convergeRole(settings, r.spec, r.ctx, { ...own, onStep: options.onStep, expected: parts?.[i] });
    owner ??= observed;
  }
  return owner as ObservedRole;
}

/** Whether a role of a member's name exists and is this manager's: a role of that name that is not is never touched. */
async function ours(settings: ConnectionSettings, name: string, manager: string): Promise<boolean> {
  return stampedManager((await observeRole(settings, name))?.comment) === manager;
}

/**
 * Carries out deleting the owner with reclaimPolicy delete: its members first (what they own goes to the owner),
 * then the owner as reclaimRole does. Nothing with retain. Idempotent; throws what reclaimRole throws.
 */
export async function reclaimTurns(
  settings: ConnectionSettings,
  spec: PgRoleSpec,
  ctx: OwnershipContext,
  onStep?: (step: RoleStep, shown: string) => void,
): Promise<void> {
  if (spec.reclaimPolicy !== "delete") return;
  const none: Turns = { current: spec.name };
  for (const member of loginMembers(spec.name))
    if (await ours(settings, member, ctx.manager)) await reclaimRole(settings, memberSpec(spec, member, none, 0), ctx, onStep);
  await reclaimRole(settings, spec, ctx, onStep);
}
