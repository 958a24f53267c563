// Two-credential rotation for the Pulumi PgRole (docs/adr/0026): the same turns as the controller's, read from and
// recorded on the credentialsSecret (its username key and annotations, controller/role/turns), planned in check as
// the exact statements of the owner and both members, and applied with the member's password set before the Secret
// names it. Only for a role with credentialsSecret: the provider generates every password.
import type * as pulumi from "@pulumi/pulumi";
import * as core from "../../core";
import { passwordOf, type SecretObject } from "../../controller/role/credentials";
import { chooseTurns, keepPreviousOf, previousAnnotations, type TurnsChoice, usernameOf, withMembers } from "../../controller/role/turns";
import { DEFAULT_KEEP_PREVIOUS, durationMs, rotationDurationFailures } from "../../crd/pgrole";
import { NOTICE, type Props } from "../props";
import { refuseForeign, type SecretTarget, targetOf, writeCredentials } from "./credentialsSecret";

const { role } = core;

/** The twoCredentials input, or undefined. */
export function twoCredentialsOf(props: Props): { keepPrevious?: string } | undefined {
  const t = props.twoCredentials;
  return t && typeof t === "object" && !Array.isArray(t) ? (t as { keepPrevious?: string }) : undefined;
}

/** What twoCredentials cannot be for this role: it needs credentialsSecret, a password role, room for the suffixes. */
export function twoCredentialsFailures(
  spec: core.role.PgRoleSpec,
  news: Props,
  target: SecretTarget | undefined,
): pulumi.dynamic.CheckFailure[] {
  const two = news.twoCredentials;
  if (two === undefined) return [];
  const fail = (property: string, reason: string) => [{ property, reason: `${property}: ${reason}` }];
  if (typeof two !== "object" || two === null || Array.isArray(two) || Object.keys(two).some((k) => k !== "keepPrevious"))
    return fail("twoCredentials", 'expected {keepPrevious?: "1h"}');
  if (!target) return fail("twoCredentials", "the provider generates both members' passwords, so it needs credentialsSecret; add it");
  if (!role.usesPassword(spec)) return fail("twoCredentials", "a Kerberos role has no password to rotate; remove twoCredentials");
  return [
    ...role.memberNameFailures("name", spec.name),
    ...rotationDurationFailures("twoCredentials.keepPrevious", (two as { keepPrevious?: unknown }).keepPrevious),
  ].map((f) => ({ property: f.field, reason: `${f.field}: ${f.message}` }));
}

/** Whether the members take part for this role and Secret (asked, or the Secret names or named one). */
export function usesTurns(spec: core.role.PgRoleSpec, news: Props, secret: SecretObject | undefined): boolean {
  return targetOf(news) !== undefined && withMembers(spec.name, twoCredentialsOf(news) !== undefined, secret);
}

/** The turns now: chooseTurns over the Secret, as the controller decides them. */
export function turnsChoice(
  spec: core.role.PgRoleSpec,
  news: Props,
  secret: SecretObject | undefined,
  wantsRotation: boolean,
  recordedUsername: unknown,
): TurnsChoice & { readonly keepPrevious: string } {
  const two = twoCredentialsOf(news);
  const keepPrevious = two?.keepPrevious ?? keepPreviousOf(secret) ?? DEFAULT_KEEP_PREVIOUS;
  const choice = chooseTurns({
    owner: spec.name,
    twoCredentials: two !== undefined,
    keepPreviousMs: durationMs(keepPrevious) as number,
    secret,
    ...(typeof recordedUsername === "string" ? { recordedUsername } : {}),
    mustRotate: !secret || !passwordOf(secret),
    wantsRotation,
    now: Date.now(),
  });
  return { ...choice, keepPrevious };
}

/**
 * A rotation that would have to wait for the previous credential's grace period: Pulumi cannot come back later, so
 * the preview fails, naming when up can rotate.
 */
export function waitFailure(choice: TurnsChoice): pulumi.dynamic.CheckFailure[] {
  if (!choice.waitsUntil) return [];
  const previous = choice.turns?.previous?.name;
  return [
    {
      property: "rotate",
      reason: `rotate: ${previous} logs in until ${choice.waitsUntil} (twoCredentials.keepPrevious), and apps may still use it; a rotation now would cut them off. Run up again after that time, or keep the inputs as they were until then.`,
    },
  ];
}

/** The statements up runs for the turns, as the preview shows them (core/role/members planTurns). */
export async function plannedTurns(
  settings: core.ConnectionSettings,
  spec: core.role.PgRoleSpec,
  ctx: core.OwnershipContext & { readonly previous?: core.role.RoleMemory },
  choice: TurnsChoice,
  news: Props,
  verifier: core.role.RolePasswordChange,
): Promise<string[]> {
  const turns = choice.turns as core.role.Turns;
  const observed = await role.observeTurnsForPlan(settings, spec);
  const password = choice.rotating ? verifier : undefined;
  return role.planTurns(spec, observed, ctx, turns, { password, createMembers: twoCredentialsOf(news) !== undefined }).flat();
}

/** The notice of a rotation onto a member (or back onto the role): where the password goes, and who keeps working. */
export function turnsNotice(target: SecretTarget, choice: TurnsChoice): string {
  const turns = choice.turns as core.role.Turns;
  const kept =
    turns.previous && Date.parse(turns.previous.until) > Date.now()
      ? `; ${turns.previous.name} keeps logging in until about ${turns.previous.until}`
      : "";
  return `${NOTICE}sets a new generated password on ${turns.current}, then writes it to Secret ${target.namespace}/${target.name}${kept}`;
}

/** What applying the turns gives the outputs: who the Secret names now, and the Secret's version and time. */
export interface AppliedTurns {
  readonly observed: core.role.ObservedRole;
  readonly delivered?: { delivered: string; passwordSetAt?: string };
  readonly turns: core.role.Turns;
}

/**
 * Applies the turns: with a rotation, the member's (or role's) new password first, then the Secret naming it; else
 * the roles converged, and the Secret rewritten when its keys are stale, the password kept. Exactly the previewed
 * statements run (`expected`). Throws what convergeTurns and writeCredentials throw; the Secret is checked to be
 * this manager's before any role changes.
 */
export async function applyTurns(
  settings: core.ConnectionSettings,
  spec: core.role.PgRoleSpec,
  ctx: core.OwnershipContext & { readonly previous?: core.role.RoleMemory },
  news: Props,
  target: SecretTarget,
  secret: SecretObject | undefined,
  what: {
    choice: TurnsChoice & { keepPrevious: string };
    expected?: string[];
    template?: Record<string, string>;
    stale: boolean;
    passwordSetAt?: string;
  },
): Promise<AppliedTurns> {
  refuseForeign(secret, target, ctx.manager);
  const { choice } = what;
  const turns = choice.turns as core.role.Turns;
  const password = choice.rotating ? core.generatePassword() : (passwordOf(secret) ?? "");
  const verifier = { verifier: core.scramVerifier(password) };
  const observed = await role.convergeTurns(settings, spec, ctx, turns, {
    ...(choice.rotating ? { password: verifier } : { passwordIfCreated: () => verifier }),
    createMembers: twoCredentialsOf(news) !== undefined,
    ...(what.expected ? { expected: what.expected } : {}),
  });
  const marks = previousAnnotations(turns.previous, twoCredentialsOf(news) ? what.choice.keepPrevious : undefined);
  if (!choice.rotating && !what.stale && usernameOf(secret) === turns.current) return { observed, turns };
  const setAt = choice.rotating ? new Date().toISOString() : what.passwordSetAt;
  const version = await writeCredentials(target, settings, turns.current, password, ctx.manager, what.template, setAt, marks);
  return { observed, turns, delivered: { delivered: version, ...(setAt ? { passwordSetAt: setAt } : {}) } };
}

/** The outputs of the turns: who the Secret names, and who logs in until when. */
export function turnsOutputs(turns: core.role.Turns | undefined): Props {
  if (!turns) return {};
  const { current, previous } = turns;
  return { username: current, ...(previous ? { previousUsername: previous.name, previousUntil: previous.until } : {}) };
}
