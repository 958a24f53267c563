// One level-based reconcile of a PgRole, as a ladder of early returns: fetch, deleting, validate, credentials Secret,
// converge, status. The Secret is the password's one home: a new password is written to the Secret first and then
// set on the role, so a failure between the two is finished by the next reconcile (the role is set to whatever
// password the Secret holds) and never leaves a role with a password nobody can read. With two credentials
// (docs/adr/0026) the idle member takes its new password first: nobody uses it until the Secret names it.
import * as core from "../../core";
import { caPathIn, DEFAULT_KEEP_PREVIOUS, durationMs, parsePgRoleSpec } from "../../crd/pgrole";
import { chooseTurns, keepPreviousOf, namesTheRightRole, previousAnnotations, usernameOf } from "./turns";
import {
  changedKeys,
  credentialKeys,
  credentialsSecret,
  holdsKeys,
  ownedBy,
  passwordOf,
  ROTATED_FOR_ANNOTATION,
  rotationAsked,
  type SecretObject,
  secretNameOf,
} from "./credentials";
import { addFinalizer, hasFinalizer } from "../runtime/finalizer";
import { apiError, KubeApiError } from "../kube/client";
import {
  afterFailure,
  clusterOwner,
  crossNamespaceTakeover,
  finish,
  finishDeletion,
  finishRefused,
  type ReconcileResult,
  type ReconcilerDeps,
} from "../runtime/reconcile";
import { keyOf, type PgRoleObject, type PgRoleStatus, ROTATE_ANNOTATION } from "../runtime/objects";
import { type SecretApi, type SecretNamespaces, secretsAllowed } from "./secrets";
import { type CredentialsReason, recordEvent } from "../runtime/status";

type Credentials = NonNullable<PgRoleStatus["credentials"]>;

export interface RoleReconcilerDeps extends ReconcilerDeps<PgRoleObject> {
  readonly secrets: SecretApi;
  /** Where the controller may write Secrets (ROLE_NAMESPACES). */
  readonly secretNamespaces: SecretNamespaces;
  /**
   * The Secret each role's password was set from by this process, by cache key: what status.credentials records,
   * known before the status write comes back through the watch.
   */
  readonly applied: Map<string, Credentials>;
}

type ParsedRole = Extract<ReturnType<typeof parsePgRoleSpec>, { ok: true }>;

/** The object as last written: the credentials step may add the finalizer, and a failure reports on the latest. */
interface Latest {
  current: PgRoleObject;
}

/** What the credentials step gives the converge: the Secret's record, and the password to set (or to set if created). */
interface Delivered {
  readonly credentials: Credentials;
  /** With members (two-credential rotation): who logs in. */
  readonly turns?: core.role.Turns;
  /** A rotation asked that waits for the previous credential's grace period to end. */
  readonly waitsUntil?: string;
  readonly password?: core.role.RolePasswordChange;
  readonly passwordIfCreated?: () => core.role.RolePasswordChange;
}

/**
 * Reconciles one PgRole. Idempotent: with nothing changed it runs no SQL and writes nothing. Throws only on
 * unexpected API errors; the queue then retries with backoff.
 */
export async function reconcileRole(key: string, deps: RoleReconcilerDeps): Promise<ReconcileResult> {
  const obj = deps.get(key);
  if (!obj) return { outcome: { kind: "done" }, reason: "Gone" };
  const manager = core.kubernetesManager(obj.metadata.namespace, obj.metadata.name);
  const parsed = parsePgRoleSpec(obj.spec, obj.metadata.name);
  if (obj.metadata.deletionTimestamp) return reconcileDeletion(obj, parsed.ok ? parsed : undefined, manager, deps);

  const failures = parsed.ok ? crossNamespaceTakeover("PgRole", parsed.spec.adoptFrom, obj.metadata.namespace) : parsed.failures;
  if (failures.length > 0 || !parsed.ok) {
    // What was applied stays recorded: the spec's next fix needs it.
    await finish(deps, obj, {
      ready: false,
      reason: "InvalidSpec",
      message: new core.InvalidSpec(failures).message,
      details: keptRecord(obj),
    });
    return { outcome: { kind: "done" }, reason: "InvalidSpec" };
  }
  const { spec } = parsed;
  const latest: Latest = { current: obj };
  const sql: string[] = [];
  try {
    // The server first: nothing is written, not even a Secret, for a role on a server this namespace may not use.
    const { settings, endpoint } = await deps.servers.resolve(parsed.server, obj.metadata.namespace);
    // The credentials: a role that cannot log in has none; one that can gets its password from its Secret.
    let delivered: Delivered | undefined;
    const onStep = (_s: core.role.RoleStep, shown: string) => void sql.push(shown);
    if (spec.login) {
      const step = await deliverCredentials(key, deps, latest, parsed, settings, endpoint, onStep);
      if ("outcome" in step) return step;
      delivered = step;
    }
    if (!hasFinalizer(deps.api.kind, latest.current)) latest.current = await addFinalizer(deps.api, latest.current);
    const observed = await convergeDelivered(settings, parsed, obj, delivered ?? {}, onStep);
    const credentials = delivered?.credentials;
    if (credentials) deps.applied.set(key, credentials);
    await finish(deps, latest.current, {
      ready: true,
      reason: "Reconciled",
      message: readyMessage(credentials, delivered?.waitsUntil),
      details: {
        role: { oid: observed.oid, login: observed.login, memberOf: [...observed.memberOf] },
        ...(credentials ? { credentials } : {}),
        ...(spec.config && Object.keys(spec.config).length ? { config: { ...spec.config } } : {}),
        ...core.role.appliedAuthentication(spec),
      },
      appliedSql: sql,
    });
    const again = untilNextTurn(credentials, delivered?.waitsUntil);
    return { outcome: again === undefined ? { kind: "done" } : { kind: "requeueAfter", ms: again }, reason: "Reconciled" };
  } catch (err) {
    const { current } = latest;
    if (err instanceof KubeApiError) return finishRefused(deps, current, err, keptRecord(current));
    const e = core.classifyError(err);
    // The role still has the password of the Secret it was last set from: that record stays until it changes.
    await finish(deps, current, { ready: false, reason: e.reason, message: e.message, details: keptRecord(current) });
    deps.log.warn({ kind: "PgRole", key, reason: e.reason, transient: e.transient, sqlstate: e.sqlstate }, e.message);
    return { ...afterFailure(e, deps.slowRetryMs), reason: e.reason };
  }
}

/** A login role's Secret as read: refused (SecretsNotAllowed, SecretNotOwned) before any SQL, or the Secret (if any). */
async function readSecret(
  deps: RoleReconcilerDeps,
  obj: PgRoleObject,
  secretName: string,
): Promise<{ secret: SecretObject | undefined } | ReconcileResult> {
  if (!secretsAllowed(deps.secretNamespaces, obj.metadata.namespace)) return secretsNotAllowed(deps, obj);
  const secret = await deps.secrets.get(obj.metadata.namespace, secretName).catch((err: unknown) => forbidden(err));
  if (secret === "forbidden") return secretsNotAllowed(deps, obj);
  if (secret && !ownedBy(secret, obj)) return secretNotOwned(deps, obj, secretName);
  return { secret };
}

/**
 * The credentials Secret of a login role: written with a new password when there is none or a rotation was asked,
 * or rewritten for its other keys; and the password the role is to be set to, unless it was set from this very
 * Secret already. With members (two-credential rotation), a new password is set on the member before the Secret
 * points at it: the member nobody uses yet loses nothing if the Secret write fails, and the next reconcile rotates again.
 */
async function deliverCredentials(
  key: string,
  deps: RoleReconcilerDeps,
  latest: Latest,
  parsed: ParsedRole,
  settings: core.ConnectionSettings,
  endpoint: Parameters<typeof credentialKeys>[2],
  onStep: (step: core.role.RoleStep, shown: string) => void,
): Promise<Delivered | ReconcileResult> {
  const { spec } = parsed;
  const obj = latest.current;
  const recorded = deps.applied.get(key) ?? obj.status?.credentials;
  const secretName = secretNameOf(obj, parsed.credentials.secretName);
  const read = await readSecret(deps, obj, secretName);
  if ("outcome" in read) return read;
  let { secret } = read;
  // A record from before the time was kept: the password is at most as old as its Secret.
  const previous =
    recorded && !recorded.passwordSetAt && secret?.metadata.creationTimestamp
      ? { ...recorded, passwordSetAt: secret.metadata.creationTimestamp }
      : recorded;

  const applied = (s: SecretObject) =>
    previous?.secretName === secretName && previous.uid === s.metadata.uid && previous.resourceVersion === s.metadata.resourceVersion;
  // A Kerberos role has no password: its Secret holds where and as whom to connect, and nothing is rotated.
  const withPassword = core.role.usesPassword(spec);
  let plaintext = withPassword ? passwordOf(secret) : undefined;
  const period = durationMs(parsed.credentials.rotateEvery);
  // Only a password that is on the role already ages: one still to be set (a failed step) is set first, not replaced.
  const scheduled = secret !== undefined && applied(secret) && rotationDue(previous, period);
  const choice = withPassword
    ? chooseTurns(turnsInput(parsed, secret, previous, scheduled || (secret !== undefined && rotationAsked(obj, secret))))
    : { rotating: false };
  const { rotating, turns } = choice;
  if (rotating) plaintext = core.generatePassword();
  const { database, databases, secretTemplate: template, secretMountPath } = parsed.credentials;
  const at = { ...endpoint, ...(secretMountPath ? { caPath: caPathIn(secretMountPath) } : {}) };
  const keys = credentialKeys(turns?.current ?? spec.name, plaintext, at, database, { template, databases });
  // Set on the role already: the Secret is only rewritten for its other keys (a new database, another host).
  const setAlready = secret !== undefined && !rotating && applied(secret);
  const verifier = () => ({ verifier: core.scramVerifier(plaintext as string) });
  if (!secret || !holdsKeys(secret, keys)) {
    const rotatedAgain = rotating && previous !== undefined;
    secret = await writeSecret(deps, latest, parsed, settings, onStep, {
      secretName,
      had: secret,
      keys,
      rotating,
      rotatedAgain,
      turns,
      verifier,
    });
  }
  const record = {
    secretName,
    uid: secret.metadata.uid as string,
    resourceVersion: secret.metadata.resourceVersion as string,
    ...turnsRecord(turns),
  };
  const waits = choice.waitsUntil === undefined ? {} : { waitsUntil: choice.waitsUntil };
  if (!withPassword) return { credentials: record };
  // A role dropped out of band comes back with the password its Secret holds: the same credential, as old as it was.
  if (setAlready) return { credentials: { ...record, ...since(previous, period) }, turns, passwordIfCreated: verifier, ...waits };
  const fresh = { credentials: { ...record, ...since({ passwordSetAt: new Date().toISOString() }, period) }, turns, ...waits };
  // With members a rotation's password is on the member already; a Secret not applied yet (edited by hand) is set now.
  return rotating && turns ? { ...fresh, passwordIfCreated: verifier } : { ...fresh, password: verifier() };
}

/** What writing the Secret carries: its keys, and with a rotation the turns and the new password. */
interface SecretWrite {
  readonly secretName: string;
  readonly had: SecretObject | undefined;
  readonly keys: Record<string, string>;
  readonly rotating: boolean;
  /** A password delivered before was replaced (not a first Secret): a Rotated event. */
  readonly rotatedAgain: boolean;
  readonly turns: core.role.Turns | undefined;
  readonly verifier: () => core.role.RolePasswordChange;
}

/**
 * Writes the Secret, the role checked to be ours first (NotOwned otherwise, Secret untouched) and the finalizer
 * added (a role created after this must not escape a deletion); with members a new password is set on its member
 * before the Secret names it. Returns the Secret as written.
 */
async function writeSecret(
  deps: RoleReconcilerDeps,
  latest: Latest,
  parsed: ParsedRole,
  settings: core.ConnectionSettings,
  onStep: (step: core.role.RoleStep, shown: string) => void,
  write: SecretWrite,
): Promise<SecretObject> {
  const { observed, admin } = await core.role.observeRoleForPlan(settings, parsed.spec);
  core.role.planRole(parsed.spec, observed, { ...clusterOwner(latest.current), admin });
  if (!hasFinalizer(deps.api.kind, latest.current)) latest.current = await addFinalizer(deps.api, latest.current);
  const current = latest.current;
  const { had, rotating, turns } = write;
  if (rotating && turns) await convergeDelivered(settings, parsed, current, { turns, password: write.verifier() }, onStep);
  const rotatedFor = rotating ? current.metadata.annotations?.[ROTATE_ANNOTATION] : had?.metadata.annotations?.[ROTATED_FOR_ANNOTATION];
  const two = parsed.credentials.twoCredentials;
  const marks = previousAnnotations(turns?.previous, two ? (two.keepPrevious ?? DEFAULT_KEEP_PREVIOUS) : undefined);
  const wanted = credentialsSecret(current, write.secretName, write.keys, rotatedFor, had?.metadata.resourceVersion, marks);
  const secret = had ? await deps.secrets.replace(wanted) : await deps.secrets.create(wanted);
  await recordSecretEvents(deps, current, { ...write, parsed });
  return secret;
}

/** What chooseTurns is given for this PgRole and Secret. */
function turnsInput(
  parsed: ParsedRole,
  secret: SecretObject | undefined,
  recorded: Credentials | undefined,
  wantsRotation: boolean,
): Parameters<typeof chooseTurns>[0] {
  const two = parsed.credentials.twoCredentials;
  return {
    owner: parsed.spec.name,
    twoCredentials: two !== undefined,
    // Switching back: the keepPrevious last in effect, as the Secret recorded it.
    keepPreviousMs: durationMs(two?.keepPrevious ?? keepPreviousOf(secret) ?? DEFAULT_KEEP_PREVIOUS) as number,
    secret,
    ...(recorded?.username ? { recordedUsername: recorded.username } : {}),
    mustRotate: !secret || !passwordOf(secret),
    wantsRotation,
    now: Date.now(),
  };
}

/** The turns as status.credentials shows them. */
function turnsRecord(turns: core.role.Turns | undefined): Pick<Credentials, "username" | "previousUsername" | "previousUntil"> {
  if (!turns) return {};
  const { current, previous } = turns;
  return { username: current, ...(previous ? { previousUsername: previous.name, previousUntil: previous.until } : {}) };
}

/** The events of a Secret written: the keys that followed the spec or the server, or a new password and why. */
async function recordSecretEvents(
  deps: RoleReconcilerDeps,
  obj: PgRoleObject,
  what: SecretWrite & { readonly parsed: ParsedRole },
): Promise<void> {
  const { had, secretName } = what;
  // Not a new password: the keys that follow the spec or the server (its address, TLS, a template), named.
  const followed = had && !what.rotating ? changedKeys(had, what.keys) : [];
  if (followed.length > 0)
    await recordEvent(
      deps,
      obj,
      "Normal",
      "SecretUpdated",
      `Secret ${secretName} rewritten, the password kept: ${followed.join(", ")} changed (the server's address, TLS or pooler, the databases, or secretTemplate)`,
    );
  if (what.rotating && what.rotatedAgain) {
    const previous = what.turns?.previous;
    const kept = previous && Date.parse(previous.until) > Date.now() ? `; ${previous.name} logs in until ${previous.until}` : "";
    const as = what.turns ? ` for ${what.turns.current}` : "";
    await recordEvent(deps, obj, "Normal", "Rotated", `${rotatedMessage(obj, had, secretName, what.parsed, as)}${kept}`);
  }
}

/**
 * Converges the role to the spec with what the credentials step delivered: with members, the owner and its members
 * to the turns (core/role/members); without, the role itself. Returns the role (the owner) as observed.
 */
async function convergeDelivered(
  settings: core.ConnectionSettings,
  parsed: ParsedRole,
  obj: PgRoleObject,
  delivered: Partial<Pick<Delivered, "turns" | "password" | "passwordIfCreated">>,
  onStep: (step: core.role.RoleStep, shown: string) => void,
): Promise<core.role.ObservedRole> {
  const ctx = { ...clusterOwner(obj), previous: keptMemory(obj) };
  const { password, passwordIfCreated, turns } = delivered;
  if (!turns) return (await core.role.convergeRole(settings, parsed.spec, ctx, { password, passwordIfCreated, onStep })).observed;
  const createMembers = parsed.credentials.twoCredentials !== undefined;
  return core.role.convergeTurns(settings, parsed.spec, ctx, turns, { password, passwordIfCreated, createMembers, onStep });
}

/** Why the password is new: a Secret gone, the annotation, the schedule, or two credentials turned on or off. */
function rotatedMessage(obj: PgRoleObject, had: SecretObject | undefined, secretName: string, parsed: ParsedRole, as: string): string {
  if (!had) return `Secret ${secretName} was missing; new password${as} in a new one`;
  if (rotationAsked(obj, had)) return `new password${as} in Secret ${secretName} (asked by ${ROTATE_ANNOTATION})`;
  const { rotateEvery, twoCredentials } = parsed.credentials;
  if (!namesTheRightRole(parsed.spec.name, twoCredentials !== undefined, usernameOf(had)))
    return `new password${as} in Secret ${secretName} (spec.twoCredentials ${twoCredentials ? "set" : "removed"})`;
  return `new password${as} in Secret ${secretName} (spec.rotateEvery ${rotateEvery})`;
}

/**
 * The time the role's password was set, as recorded, and with a schedule when the next rotation is due.
 */
function since(
  previous: Pick<Credentials, "passwordSetAt"> | undefined,
  period: number | undefined,
): Pick<Credentials, "passwordSetAt" | "rotationDueAt"> {
  if (!previous?.passwordSetAt) return {};
  const due = period === undefined ? {} : { rotationDueAt: new Date(Date.parse(previous.passwordSetAt) + period).toISOString() };
  return { passwordSetAt: previous.passwordSetAt, ...due };
}

/** Whether the schedule asks for a new password: the one set is as old as the period (a record without a time: no). */
function rotationDue(previous: Credentials | undefined, period: number | undefined): boolean {
  const due = since(previous, period).rotationDueAt;
  return due !== undefined && Date.parse(due) <= Date.now();
}

/**
 * The reconcile comes back when something is due: the next scheduled rotation, the previous credential's end, or a
 * rotation that waits for it (the resync would, later; a timer holds 24 days at most).
 */
function untilNextTurn(credentials: Credentials | undefined, waitsUntil: string | undefined): number | undefined {
  const now = Date.now();
  const previousEnds = credentials?.previousUntil && Date.parse(credentials.previousUntil) > now ? credentials.previousUntil : undefined;
  const times = [credentials?.rotationDueAt, previousEnds, waitsUntil].filter((t): t is string => t !== undefined).map(Date.parse);
  if (times.length === 0) return undefined;
  return Math.min(Math.max(Math.min(...times) - now, 0) + 1000, 24 * 3600 * 1000);
}

/** The Ready message: where the credentials are and as whom, and a rotation that waits. */
function readyMessage(credentials: Credentials | undefined, waitsUntil: string | undefined): string {
  if (!credentials) return "role matches the spec";
  const as = credentials.username ? ` as ${credentials.username}` : "";
  const waits = waitsUntil ? `; the rotation asked waits until ${credentials.previousUsername} stops logging in at ${waitsUntil}` : "";
  return `role matches the spec; credentials in Secret ${credentials.secretName}${as}${waits}`;
}

/** A 403 on the Secret: the controller may not manage Secrets there (RBAC and ROLE_NAMESPACES disagree). */
function forbidden(err: unknown): "forbidden" {
  if (apiError(err, "forbidden")) return "forbidden";
  throw err;
}

/** Refuses, before any SQL, a PgRole whose credentials cannot be delivered: a role nobody can log in as helps no one. */
async function refuse(deps: RoleReconcilerDeps, obj: PgRoleObject, reason: CredentialsReason, message: string): Promise<ReconcileResult> {
  await finish(deps, obj, { ready: false, reason, message, details: keptRecord(obj) });
  return { outcome: { kind: "requeueAfter", ms: deps.slowRetryMs }, reason };
}

function secretsNotAllowed(deps: RoleReconcilerDeps, obj: PgRoleObject): Promise<ReconcileResult> {
  const ns = obj.metadata.namespace;
  return refuse(
    deps,
    obj,
    "SecretsNotAllowed",
    `pg-kopf may not write credentials Secrets in namespace ${ns}, so the role was not created or changed. ` +
      `Add ${ns} to the program's pg-kopf:roleNamespaces (pulumi config set --path 'pg-kopf:roleNamespaces[0]' ${ns}) and run pulumi up, or set login: false.`,
  );
}

function secretNotOwned(deps: RoleReconcilerDeps, obj: PgRoleObject, secretName: string): Promise<ReconcileResult> {
  return refuse(
    deps,
    obj,
    "SecretNotOwned",
    `Secret ${secretName} exists and is not this PgRole's, so it was left alone and the role was not created or changed. ` +
      "Set spec.secretName to a name no Secret has, or delete that Secret if it is really unused.",
  );
}

/** The credentials record and the settings of the last success, carried over by a reconcile that changed neither. */
function keptRecord(obj: PgRoleObject): Pick<PgRoleStatus, "credentials" | "config" | "passwordRemoved"> {
  const { credentials, config, passwordRemoved } = obj.status ?? {};
  return { ...(credentials ? { credentials } : {}), ...(config ? { config } : {}), ...(passwordRemoved ? { passwordRemoved } : {}) };
}

/** What the plan is given as last applied: the settings a key removed from spec.config resets. */
function keptMemory(obj: PgRoleObject): core.role.RoleMemory {
  return {
    ...(obj.status?.config ? { config: obj.status.config } : {}),
    ...(obj.status?.passwordRemoved ? { passwordRemoved: true } : {}),
  };
}

async function reconcileDeletion(
  obj: PgRoleObject,
  parsed: { spec: core.role.PgRoleSpec; server: string } | undefined,
  manager: string,
  deps: RoleReconcilerDeps,
): Promise<ReconcileResult> {
  if (!hasFinalizer(deps.api.kind, obj)) return { outcome: { kind: "done" }, reason: "Gone" };
  deps.applied.delete(keyOf(obj));
  const dropping = parsed?.spec.reclaimPolicy === "delete" ? parsed : undefined;
  const reclaim = dropping
    ? async () => {
        const { settings } = await deps.servers.resolve(dropping.server, obj.metadata.namespace);
        // Each step as it completes: a failure later leaves these done, and says so.
        await core.role.reclaimTurns(
          settings,
          dropping.spec,
          { manager },
          (_step, shown) => void recordEvent(deps, obj, "Normal", "Dropped", shown),
        );
      }
    : undefined;
  // The credentials Secret goes with the object (its owner reference): the garbage collector deletes it.
  return finishDeletion(deps, obj, `role "${parsed?.spec.name ?? String(obj.spec?.name)}"`, reclaim, keptRecord(obj));
}
