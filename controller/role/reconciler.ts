// One level-based reconcile of a PgRole, as a ladder of early returns: fetch, deleting, validate, credentials Secret,
// converge, status. The Secret is the password's one home: a new password is written to the Secret first and then
// set on the role, so a failure between the two is finished by the next reconcile (the role is set to whatever
// password the Secret holds) and never leaves a role with a password nobody can read.
import * as core from "../../core";
import { parsePgRoleSpec, rotationPeriodMs } from "../../crd/pgrole";
import {
  credentialKeys,
  credentialsSecret,
  holdsKeys,
  ownedBy,
  passwordOf,
  ROTATED_FOR_ANNOTATION,
  rotationAsked,
  type SecretObject,
  secretData,
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
    if (spec.login) {
      const step = await deliverCredentials(key, deps, latest, parsed, settings, endpoint);
      if ("outcome" in step) return step;
      delivered = step;
    }
    if (!hasFinalizer(deps.api.kind, latest.current)) latest.current = await addFinalizer(deps.api, latest.current);
    const { observed } = await core.role.convergeRole(
      settings,
      spec,
      { ...clusterOwner(obj), previous: keptMemory(obj) },
      {
        password: delivered?.password,
        passwordIfCreated: delivered?.passwordIfCreated,
        onStep: (_s, shown) => sql.push(shown),
      },
    );
    const credentials = delivered?.credentials;
    if (credentials) deps.applied.set(key, credentials);
    await finish(deps, latest.current, {
      ready: true,
      reason: "Reconciled",
      message: credentials ? `role matches the spec; credentials in Secret ${credentials.secretName}` : "role matches the spec",
      details: {
        role: { oid: observed.oid, login: observed.login, memberOf: [...observed.memberOf] },
        ...(credentials ? { credentials } : {}),
        ...(spec.config && Object.keys(spec.config).length ? { config: { ...spec.config } } : {}),
        ...core.role.appliedAuthentication(spec),
      },
      appliedSql: sql,
    });
    const again = untilRotation(credentials);
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

/**
 * The credentials Secret of a login role: refused (SecretsNotAllowed, SecretNotOwned) before any SQL; written with
 * a new password when there is none or a rotation was asked, or rewritten for its other keys; and the password the
 * role is to be set to, unless it was set from this very Secret already.
 */
async function deliverCredentials(
  key: string,
  deps: RoleReconcilerDeps,
  latest: Latest,
  parsed: ParsedRole,
  settings: core.ConnectionSettings,
  endpoint: Parameters<typeof credentialKeys>[2],
): Promise<Delivered | ReconcileResult> {
  const { spec } = parsed;
  const obj = latest.current;
  const recorded = deps.applied.get(key) ?? obj.status?.credentials;
  const secretName = secretNameOf(obj, parsed.credentials.secretName);
  if (!secretsAllowed(deps.secretNamespaces, obj.metadata.namespace)) return secretsNotAllowed(deps, obj);
  let secret = await deps.secrets.get(obj.metadata.namespace, secretName).catch((err: unknown) => forbidden(err));
  if (secret === "forbidden") return secretsNotAllowed(deps, obj);
  if (secret && !ownedBy(secret, obj)) return secretNotOwned(deps, obj, secretName);
  // A record from before the time was kept: the password is at most as old as its Secret.
  const previous =
    recorded && !recorded.passwordSetAt && secret?.metadata.creationTimestamp
      ? { ...recorded, passwordSetAt: secret.metadata.creationTimestamp }
      : recorded;

  const applied = (s: SecretObject) =>
    previous?.secretName === secretName && previous.uid === s.metadata.uid && previous.resourceVersion === s.metadata.resourceVersion;
  const asked = obj.metadata.annotations?.[ROTATE_ANNOTATION];
  // A Kerberos role has no password: its Secret holds where and as whom to connect, and nothing is rotated.
  const withPassword = core.role.usesPassword(spec);
  let plaintext = withPassword ? passwordOf(secret) : undefined;
  const period = rotationPeriodMs(parsed.credentials.rotateEvery);
  // Only a password that is on the role already ages: one still to be set (a failed step) is set first, not replaced.
  const scheduled = withPassword && secret !== undefined && applied(secret) && rotationDue(previous, period);
  const rotating = withPassword && (!secret || !plaintext || rotationAsked(obj, secret) || scheduled);
  if (rotating) plaintext = core.generatePassword();
  const { database, databases, secretTemplate: template } = parsed.credentials;
  const keys = credentialKeys(spec.name, plaintext, endpoint, database, { template, databases });
  // Set on the role already: the Secret is only rewritten for its other keys (a new database, another host).
  const setAlready = secret !== undefined && !rotating && applied(secret);
  if (!secret || !holdsKeys(secret, keys)) {
    // Before a password is handed out: the role must be ours to set it on (NotOwned otherwise, Secret untouched).
    const { observed, admin } = await core.role.observeRoleForPlan(settings, spec);
    core.role.planRole(spec, observed, { ...clusterOwner(obj), admin });
    // Our finalizer first: a role created after this must not escape a deletion.
    if (!hasFinalizer(deps.api.kind, latest.current)) latest.current = await addFinalizer(deps.api, latest.current);
    const current = latest.current;
    const rotatedFor = rotating ? asked : secret?.metadata.annotations?.[ROTATED_FOR_ANNOTATION];
    const wanted = credentialsSecret(current, secretName, keys, rotatedFor, secret?.metadata.resourceVersion);
    const had = secret;
    secret = had ? await deps.secrets.replace(wanted) : await deps.secrets.create(wanted);
    // Not a new password: the keys that follow the spec or the server (its address, TLS, a template), named.
    const followed = had && !rotating ? changedKeys(had, keys) : [];
    if (followed.length > 0)
      await recordEvent(
        deps,
        current,
        "Normal",
        "SecretUpdated",
        `Secret ${secretName} rewritten, the password kept: ${followed.join(", ")} changed (the server's address, TLS or pooler, the databases, or secretTemplate)`,
      );
    if (rotating && previous) await recordEvent(deps, current, "Normal", "Rotated", rotatedMessage(obj, had, secretName, parsed));
  }
  const record = { secretName, uid: secret.metadata.uid as string, resourceVersion: secret.metadata.resourceVersion as string };
  if (!withPassword) return { credentials: record };
  const verifier = () => ({ verifier: core.scramVerifier(plaintext as string) });
  // A role dropped out of band comes back with the password its Secret holds: the same credential, as old as it was.
  if (setAlready) return { credentials: { ...record, ...since(previous, period) }, passwordIfCreated: verifier };
  return { credentials: { ...record, ...since({ passwordSetAt: new Date().toISOString() }, period) }, password: verifier() };
}

/** Why the password is new: a Secret gone, the schedule, or the annotation. */
function rotatedMessage(obj: PgRoleObject, had: SecretObject | undefined, secretName: string, parsed: ParsedRole): string {
  if (!had) return `Secret ${secretName} was missing; new password in a new one`;
  if (rotationAsked(obj, had)) return `new password in Secret ${secretName} (asked by ${ROTATE_ANNOTATION})`;
  return `new password in Secret ${secretName} (spec.rotateEvery ${parsed.credentials.rotateEvery})`;
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

/** With a schedule, the reconcile comes back when the next rotation is due (the resync would, later; a timer holds 24 days at most). */
function untilRotation(credentials: Credentials | undefined): number | undefined {
  if (!credentials?.rotationDueAt) return undefined;
  return Math.min(Math.max(Date.parse(credentials.rotationDueAt) - Date.now(), 0) + 1000, 24 * 3600 * 1000);
}

/** The keys whose values differ between a Secret and the keys wanted, by name only (never a value). */
function changedKeys(secret: SecretObject, keys: Record<string, string>): string[] {
  const had = secret.data ?? {};
  const wanted = secretData(keys);
  return [...new Set([...Object.keys(had), ...Object.keys(wanted)])].filter((k) => had[k] !== wanted[k]).sort();
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
        await core.role.reclaimRole(
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
