// Who a credentials Secret names and who it named before (two-credential rotation, core/role/members), as the Secret
// records them: its username key and two annotations, written with the password they go with, so a restart or a lost
// status never cuts short the previous credential's grace period. Pure.
import * as core from "../../core";
import type { SecretObject } from "./credentials";

/** On the Secret: the role it named before the last rotation that changed it, and until when that one logs in. */
export const PREVIOUS_USERNAME_ANNOTATION = "pgroles.my.local/previous-username";
export const PREVIOUS_UNTIL_ANNOTATION = "pgroles.my.local/previous-until";

/** On the Secret: the keepPrevious in effect when it was written, so that removing twoCredentials still keeps it. */
export const KEEP_PREVIOUS_ANNOTATION = "pgroles.my.local/keep-previous";

/** The keepPrevious a Secret recorded, or undefined. */
export function keepPreviousOf(secret: SecretObject | undefined): string | undefined {
  return secret?.metadata.annotations?.[KEEP_PREVIOUS_ANNOTATION];
}

/** The role a Secret names (its username key), or undefined. */
export function usernameOf(secret: SecretObject | undefined): string | undefined {
  const encoded = secret?.data?.username;
  return encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8") || undefined;
}

/** The previous credential a Secret records, or undefined. */
export function previousOf(secret: SecretObject | undefined): core.role.Turns["previous"] {
  const name = secret?.metadata.annotations?.[PREVIOUS_USERNAME_ANNOTATION];
  const until = secret?.metadata.annotations?.[PREVIOUS_UNTIL_ANNOTATION];
  return name && until ? { name, until } : undefined;
}

/** The annotations that record a previous credential, and the keepPrevious in effect (with two credentials). */
export function previousAnnotations(previous: core.role.Turns["previous"], keepPrevious: string | undefined): Record<string, string> {
  return {
    ...(previous ? { [PREVIOUS_USERNAME_ANNOTATION]: previous.name, [PREVIOUS_UNTIL_ANNOTATION]: previous.until } : {}),
    ...(keepPrevious ? { [KEEP_PREVIOUS_ANNOTATION]: keepPrevious } : {}),
  };
}

const isMember = (owner: string, name: string | undefined) => name !== undefined && core.role.loginMembers(owner).includes(name);

/**
 * Whether the members take part: two-credential rotation is asked, or the Secret names or named a member (switching
 * back, until that member is made NOLOGIN for good). A role that never had members converges as one role.
 */
export function withMembers(owner: string, twoCredentials: boolean, secret: SecretObject | undefined): boolean {
  return twoCredentials || isMember(owner, usernameOf(secret)) || isMember(owner, previousOf(secret)?.name);
}

/** Whether the role a Secret names is right for the mode: a member with two credentials, the role itself without. */
export function namesTheRightRole(owner: string, twoCredentials: boolean, username: string | undefined): boolean {
  return twoCredentials ? isMember(owner, username) : username === owner;
}

/** The role a rotation points the Secret at: the idle member with two credentials, the role itself without. */
export function rotationTarget(owner: string, twoCredentials: boolean, current: string | undefined): string {
  return twoCredentials ? core.role.nextMember(owner, isMember(owner, current) ? current : undefined) : owner;
}

/** What a reconcile does with the credentials: rotate or not, the turns when members take part, or wait for one. */
export interface TurnsChoice {
  readonly rotating: boolean;
  /** Undefined for a role without members: it converges as one role. */
  readonly turns?: core.role.Turns;
  /** A rotation asked while the previous credential is still in its grace period: it runs then. */
  readonly waitsUntil?: string;
}

export interface TurnsInput {
  readonly owner: string;
  readonly twoCredentials: boolean;
  /** How long the credential apps used before keeps logging in after a rotation. */
  readonly keepPreviousMs: number;
  readonly secret: SecretObject | undefined;
  /** The role the Secret named when the controller last delivered it (status), for a Secret that is gone. */
  readonly recordedUsername?: string;
  /** No Secret or no password: a new one now, whatever else. */
  readonly mustRotate: boolean;
  /** The annotation or the schedule asks for a new password. */
  readonly wantsRotation: boolean;
  readonly now: number;
}

/**
 * Whether to rotate and the turns that follow. A Secret naming the wrong role for the mode (two credentials turned
 * on or off) is a rotation onto the right one, the role apps used kept for keepPrevious; a rotation asked before the
 * previous credential's grace period ends waits for it, so no app using it is cut off. A Secret that is gone does not
 * wait: the role it named (as the status recorded) becomes the previous one.
 */
export function chooseTurns(input: TurnsInput): TurnsChoice {
  const { owner, twoCredentials, secret, now } = input;
  const members = withMembers(owner, twoCredentials, secret);
  const username = usernameOf(secret);
  const switching = members && !input.mustRotate && !namesTheRightRole(owner, twoCredentials, username);
  const rotating = input.mustRotate || input.wantsRotation || switching;
  if (!members) return { rotating };
  const recorded = previousOf(secret);
  const was = username ?? input.recordedUsername;
  if (!rotating) return { rotating, turns: { current: username ?? owner, ...(recorded ? { previous: recorded } : {}) } };
  // One previous credential at a time: a rotation during its grace period would cut off the apps still using it
  // (as the next target, or by replacing it as the previous one), so it waits.
  if (!input.mustRotate && recorded && Date.parse(recorded.until) > now)
    return { rotating: false, turns: { current: username ?? owner, previous: recorded }, waitsUntil: recorded.until };
  const current = rotationTarget(owner, twoCredentials, was);
  const previous =
    was !== undefined && was !== current ? { name: was, until: new Date(now + input.keepPreviousMs).toISOString() } : recorded;
  return { rotating: true, turns: { current, ...(previous ? { previous } : {}) } };
}
