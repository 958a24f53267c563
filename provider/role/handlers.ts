// What the PgRole provider does for each of Pulumi's methods, each a thin call into the core's roles. Loaded by name
// in the provider process (see ../provider), never serialized. The password is the user's secret input, or generated
// here at creation; it reaches Postgres only as a SCRAM verifier, and the state only as a secret. With
// credentialsSecret it is generated here and goes only to that Kubernetes Secret (./credentialsSecret): never to the
// state or the engine.
import type * as pulumi from "@pulumi/pulumi";
import * as core from "../../core";
import {
  checkFailures,
  fieldsOf,
  goneNotice,
  serverChange,
  serverConflictOf,
  serverKey,
  hasPlannedWork,
  managerOf as managerIn,
  NOTICE,
  ownershipOf,
  plannedStatements,
  type Props,
  providerConnection,
  recordedSettings,
  requireAdmin,
  removeOrLeave,
  rethrow,
  serverOf,
  unplanned,
  userInputs,
} from "../props";
import { durationMs, rotationDurationFailures } from "../../crd/pgrole";
import { declareRole } from "./declared";
import {
  applyTurns,
  plannedTurns,
  turnsChoice,
  turnsNotice,
  turnsOutputs,
  twoCredentialsFailures,
  twoCredentialsOf,
  usesTurns,
  waitFailure,
} from "./turns";
import {
  deleteCredentials,
  endpointOf,
  parseTarget,
  SECRET_INPUTS,
  type SecretTarget,
  readSecret,
  sameTarget,
  secretState,
  stateOf,
  staleKeys,
  secretVersion,
  storedPassword,
  targetOf,
  templateOf,
  writeCredentials,
} from "./credentialsSecret";

const { role } = core;

/** Outputs the resource declares beside its inputs: never part of the spec. */
const OUTPUT_KEYS = ["credentialsVersion", "passwordSetAt", "rotationDueAt", "username", "previousUsername", "previousUntil"];

/** The verifier planned at preview time: shown redacted, so any value plans the same statements as the real one. */
const PLANNED_VERIFIER = { verifier: "SCRAM-SHA-256$4096:planned$planned:planned" };

/** The admin connection, as for databases (one decision, provider/props). */
export const configure = providerConnection;

/** Spec fields of a property bag (engine keys, the password and outputs dropped). */
function specFields(props: Props): Record<string, unknown> {
  return fieldsOf(role.PgRoleSpecSchema, props);
}

function parseOrThrow(props: Props): core.role.PgRoleSpec {
  const r = role.parseRoleSpec(specFields(props));
  if (!r.ok) throw new core.InvalidSpec(r.failures);
  return r.spec;
}

function managerOf(props: Props): string {
  return managerIn(props, "PgRole");
}

/**
 * A new password is set when the resource is created, and on a rotation: the password input changes; or, with
 * credentialsSecret, the Secret moves, the rotate input changes, or the Secret is gone (`secretGone`: check looks;
 * diff and update know from the recorded version, which a refresh clears when the Secret changed).
 */
function rotates(olds: Props, news: Props, secretGone = (olds.credentialsVersion ?? "") === "", passwordSetAt?: string): boolean {
  const target = targetOf(news);
  // Kerberos: no password to rotate; its Secret (no password in it) is written again where it moved or went.
  if (!role.usesPassword(specFields(news) as core.role.PgRoleSpec))
    return target !== undefined && (!sameTarget(targetOf(olds), target) || secretGone);
  if (target)
    return !sameTarget(targetOf(olds), target) || olds.rotate !== news.rotate || secretGone || dueSince(news, passwordSetAt) !== undefined;
  return typeof news.password === "string" && news.password !== olds.password;
}

/**
 * When the password was set, for rotateEvery: as the state records it, else as the Secret does (what check reads,
 * as it sees only inputs), so check, diff and update agree on whether a rotation is due.
 */
async function passwordSetAtOf(olds: Props, news: Props): Promise<string | undefined> {
  const target = targetOf(news);
  if (news.rotateEvery === undefined || !target) return undefined;
  return recordedSetAt(olds) ?? (await secretState(target))?.passwordSetAt;
}

/** When the next rotation is due by rotateEvery, from when the password was set; undefined without a schedule or a time. */
function rotationDueAt(props: Props, passwordSetAt: unknown): string | undefined {
  const period = durationMs(typeof props.rotateEvery === "string" ? props.rotateEvery : undefined);
  if (period === undefined || typeof passwordSetAt !== "string") return undefined;
  return new Date(Date.parse(passwordSetAt) + period).toISOString();
}

/** The time a scheduled rotation has been due since, if it is due now (Pulumi has no clock: the next up rotates). */
function dueSince(props: Props, passwordSetAt: unknown): string | undefined {
  const due = rotationDueAt(props, passwordSetAt);
  return due !== undefined && Date.parse(due) <= Date.now() ? due : undefined;
}

/** What the credentials inputs cannot be for this role: a password for a Kerberos role, a template that is wrong. */
function credentialsFailures(spec: core.role.PgRoleSpec, news: Props): pulumi.dynamic.CheckFailure[] {
  if (spec.authentication === "kerberos" && news.password !== undefined)
    return [
      { property: "password", reason: "password: a Kerberos role has none (its principal logs in); remove password, or authentication" },
    ];
  if (news.rotateEvery !== undefined && targetOf(news) === undefined)
    return [
      {
        property: "rotateEvery",
        reason: "rotateEvery: the provider generates the new passwords, so it needs credentialsSecret; add it, or remove rotateEvery",
      },
    ];
  const two = twoCredentialsFailures(spec, news, targetOf(news));
  if (two.length) return two;
  return checkFailures([
    ...rotationDurationFailures("rotateEvery", news.rotateEvery),
    ...role.templateFailures(templateOf(news), {
      field: "secretTemplate",
      hasPassword: role.usesPassword(spec),
      reserved: [...role.STANDARD_KEYS, ...role.databaseKeys(targetOf(news)?.databases)],
      ...(targetOf(news)?.mountPath === undefined ? { noMountPath: "credentialsSecret.mountPath" } : {}),
    }),
  ]);
}

/**
 * Validates the inputs and plans the SQL as reviewers will read it (the password clause redacted). A role's name is
 * its identity: renaming is refused here, naming the field.
 */
export async function check(settings: core.ConnectionSettings, olds: Props, news: Props): Promise<pulumi.dynamic.CheckResult> {
  const r = role.parseRoleSpec(userInputs(news, ["password", "generatedPassword", ...OUTPUT_KEYS, ...SECRET_INPUTS]));
  if (!r.ok) return { failures: checkFailures(r.failures) };
  const { target, failures } = parseTarget(news);
  const refused = failures.length ? failures : credentialsFailures(r.spec, news);
  if (refused.length) return { failures: refused };
  declareRole(serverOf(news), r.spec.name);
  const hasOlds = olds && typeof olds.name === "string";
  const misplaced = serverConflictOf(news) ?? serverChange(olds, news);
  if (misplaced) return { failures: [misplaced] };
  if (hasOlds && olds.name !== r.spec.name) {
    return {
      failures: [
        {
          property: "name",
          reason: `name: cannot change from ${JSON.stringify(olds.name)} to ${JSON.stringify(r.spec.name)}: the role's grants, objects and logins belong to it. Declare a new PgRole and move to it.`,
        },
      ],
    };
  }
  let plannedSql: string[];
  try {
    const planned = await planChecked(settings, r.spec, olds, news, target, hasOlds);
    if ("failures" in planned) return planned;
    plannedSql = planned.plannedSql;
  } catch (err) {
    const failed = unplanned(err, news);
    if ("failures" in failed) return failed;
    plannedSql = failed.plannedSql;
  }
  return {
    inputs: {
      ...r.spec,
      ...serverKey(news),
      manager: news.manager,
      plannedSql,
      ...(typeof news.password === "string" ? { password: news.password } : {}),
      ...(target ? { credentialsSecret: target } : {}),
      ...(news.rotate !== undefined ? { rotate: news.rotate } : {}),
      ...(news.rotateEvery !== undefined ? { rotateEvery: news.rotateEvery } : {}),
      ...(twoCredentialsOf(news) ? { twoCredentials: twoCredentialsOf(news) } : {}),
      ...(templateOf(news) ? { secretTemplate: templateOf(news) } : {}),
    },
  };
}

/**
 * The statements up will run, as the preview shows them, with the notices of what it writes to credentialsSecret
 * first; with two credentials, the turns' statements of the owner and both members (./turns).
 */
async function planChecked(
  settings: core.ConnectionSettings,
  spec: core.role.PgRoleSpec,
  olds: Props,
  news: Props,
  target: SecretTarget | undefined,
  hasOlds: boolean,
): Promise<{ plannedSql: string[] } | { failures: pulumi.dynamic.CheckFailure[] }> {
  const kerberos = !role.usesPassword(spec);
  const owner = ownershipOf(news, "PgRole", hasOlds ? olds : undefined);
  const { observed, admin } = await role.observeRoleForPlan(settings, spec);
  requireAdmin(settings, admin, "roles");
  // (check is given the old inputs, which record no Secret version: it looks at the Secret itself.)
  const secretObject = target !== undefined && hasOlds ? await readSecret(target) : undefined;
  const secret = stateOf(secretObject);
  const secretGone = target !== undefined && hasOlds && secret === undefined;
  const wanted = !observed || rotates(olds ?? {}, news, secretGone, secret?.passwordSetAt);
  const previous = appliedOf(hasOlds ? olds : undefined);
  if (target && usesTurns(spec, news, secretObject)) {
    const choice = turnsChoice(spec, news, secretObject, wanted, undefined);
    // Asked for (a new rotate value, twoCredentials set or removed): it cannot wait; a schedule due waits by itself.
    const asked = olds?.rotate !== news.rotate || JSON.stringify(olds?.twoCredentials) !== JSON.stringify(news.twoCredentials);
    if (choice.waitsUntil && asked) return { failures: waitFailure(choice) };
    const plannedSql = await plannedTurns(settings, spec, { ...owner, previous }, choice, news, PLANNED_VERIFIER);
    const current = (choice.turns as core.role.Turns).current;
    const stale = !choice.rotating && hasOlds ? await staleKeys(target, settings, current, true, templateOf(news)) : [];
    const notices = choice.rotating
      ? [turnsNotice(target, choice)]
      : secretNotices(target, { secretWritten: false, kerberos, due: undefined, stale });
    return { plannedSql: [...notices, ...plannedSql] };
  }
  const password = wanted ? PLANNED_VERIFIER : undefined;
  const dueAt = secret ? dueSince(news, secret.passwordSetAt) : undefined;
  const due = dueAt ? { every: String(news.rotateEvery), since: dueAt } : undefined;
  const secretWritten = target !== undefined && password !== undefined;
  const plannedSql = role.planRole(spec, observed, { ...owner, admin, previous }, password).map(role.describeRoleStep);
  const gone = goneNotice(
    olds,
    observed,
    `role "${spec.name}"`,
    target ? "up creates it again, with the password its Secret has" : "up creates it again, with the password the state has",
  );
  if (gone) plannedSql.unshift(gone);
  const stale = target && hasOlds && !secretWritten ? await staleKeys(target, settings, spec.name, !kerberos, templateOf(news)) : [];
  if (target) plannedSql.unshift(...secretNotices(target, { secretWritten, kerberos, due, stale }));
  return { plannedSql };
}

/** Not SQL, but what up writes to credentialsSecret first: reviewers see where the password goes, and why it is new. */
function secretNotices(
  target: SecretTarget,
  what: {
    secretWritten: boolean;
    kerberos: boolean;
    /** A scheduled rotation due: rotateEvery, and since when. */
    due: { every: string; since: string } | undefined;
    stale: readonly string[];
  },
): string[] {
  const where = `Secret ${target.namespace}/${target.name}`;
  if (!what.secretWritten)
    return what.stale.length
      ? [
          `${NOTICE}rewrites ${what.stale.join(", ")} in ${where}, the password kept (the address, TLS, pooler, databases or secretTemplate changed)`,
        ]
      : [];
  if (what.kerberos) return [`${NOTICE}writes the connection details (no password: Kerberos) to ${where}`];
  const due = what.due ? ` (rotateEvery ${what.due.every}: due since ${what.due.since})` : "";
  return [`${NOTICE}writes a new generated password to ${where}, then sets it on the role${due}`];
}

/**
 * Whether the keys apps read were edited without the Secret moving: the template (its keys' order aside), or the
 * databases and pooler they point at. They are written again, the password kept.
 */
function keysEdited(olds: Props, news: Props): boolean {
  const canonical = (t: Record<string, string> | undefined) => JSON.stringify(Object.entries(t ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
  const pointsAt = (p: Props) => JSON.stringify([targetOf(p)?.database ?? null, targetOf(p)?.databases ?? [], targetOf(p)?.pooler ?? null]);
  return canonical(templateOf(olds)) !== canonical(templateOf(news)) || pointsAt(olds) !== pointsAt(news);
}

export async function diff(olds: Props, news: Props): Promise<pulumi.dynamic.DiffResult> {
  const setAt = await passwordSetAtOf(olds, news).catch(rethrow);
  const a = specFields(olds);
  const b = specFields(news);
  const changed = Object.keys({ ...a, ...b }).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return {
    changes:
      changed.length > 0 ||
      rotates(olds, news, undefined, setAt) ||
      hasPlannedWork(olds, news) ||
      olds.manager !== news.manager ||
      keysEdited(olds, news) ||
      // A schedule added, changed or removed: the outputs say when the next rotation is due.
      olds.rotateEvery !== news.rotateEvery ||
      JSON.stringify(olds.twoCredentials) !== JSON.stringify(news.twoCredentials) ||
      // A switch from credentialsSecret back to a password of the program's.
      (targetOf(olds) !== undefined && targetOf(news) === undefined),
    replaces: [],
  };
}

/**
 * `delivered`: the password (or a Kerberos role's details) went to credentialsSecret, of which only the version is
 * recorded; undefined: a Kerberos role without a Secret, which has no password anywhere.
 */
function outputs(
  settings: core.ConnectionSettings,
  spec: core.role.PgRoleSpec,
  manager: string,
  observed: core.role.ObservedRole,
  inputs: Props,
  password: string | { delivered: string; passwordSetAt?: string } | undefined,
  turns?: core.role.Turns,
): Props {
  const target = targetOf(inputs);
  const template = templateOf(inputs);
  const setAt = typeof password === "object" ? password.passwordSetAt : undefined;
  const due = rotationDueAt(inputs, setAt);
  return {
    ...spec,
    ...serverKey(inputs),
    manager,
    oid: observed.oid,
    ...(typeof password === "string"
      ? { password }
      : password
        ? { credentialsSecret: target, credentialsVersion: password.delivered, ...(setAt ? { passwordSetAt: setAt } : {}) }
        : {}),
    ...(due ? { rotationDueAt: due } : {}),
    ...(inputs.rotate !== undefined ? { rotate: inputs.rotate } : {}),
    ...(inputs.rotateEvery !== undefined ? { rotateEvery: inputs.rotateEvery } : {}),
    ...(twoCredentialsOf(inputs) ? { twoCredentials: twoCredentialsOf(inputs) } : {}),
    ...turnsOutputs(turns),
    ...(template ? { secretTemplate: template } : {}),
    // Without credentialsSecret, the template's keys are an output (secret: they may hold the password).
    ...(template && !target
      ? { credentials: credentialsOutput(settings, spec, typeof password === "string" ? password : undefined, template) }
      : {}),
    // Whether the provider made the password up: a refresh gives back only a password the program gave.
    generatedPassword: typeof inputs.password !== "string",
    ...(Array.isArray(inputs.plannedSql) ? { plannedSql: inputs.plannedSql } : {}),
  };
}

/** The template's keys, for the admin connection's address (core/role/secretTemplate). */
function credentialsOutput(
  settings: core.ConnectionSettings,
  spec: core.role.PgRoleSpec,
  password: string | undefined,
  template: Record<string, string>,
): Record<string, string> {
  const at = endpointOf(undefined, settings);
  return role.renderTemplate(template, {
    username: spec.name,
    ...(password === undefined ? {} : { password }),
    host: at.host,
    port: String(at.port),
    dbname: at.maintenanceDatabase,
    ...(at.sslmode ? { sslmode: at.sslmode } : {}),
  });
}

/**
 * A new password for credentialsSecret, written there before the role gets it (a Kerberos role: its details, no
 * password); returns it and the Secret's version.
 */
async function deliverNew(settings: core.ConnectionSettings, spec: core.role.PgRoleSpec, inputs: Props, manager: string) {
  const password = role.usesPassword(spec) ? core.generatePassword() : undefined;
  const passwordSetAt = password === undefined ? undefined : new Date().toISOString();
  const version = await writeCredentials(targetOf(inputs)!, settings, spec.name, password, manager, templateOf(inputs), passwordSetAt);
  return { password, delivered: { delivered: version, ...(passwordSetAt ? { passwordSetAt } : {}) } };
}

export async function create(settings: core.ConnectionSettings, inputs: Props): Promise<pulumi.dynamic.CreateResult> {
  const spec = parseOrThrow(inputs);
  const manager = managerOf(inputs);
  try {
    const target = targetOf(inputs);
    if (target && twoCredentialsOf(inputs)) {
      const secret = await readSecret(target);
      const choice = turnsChoice(spec, inputs, secret, false, undefined);
      const expected = plannedStatements(inputs);
      const what = { choice, template: templateOf(inputs), stale: true, ...(expected ? { expected } : {}) };
      const applied = await applyTurns(settings, spec, { manager }, inputs, target, secret, what);
      return { id: spec.name, outs: outputs(settings, spec, manager, applied.observed, inputs, applied.delivered, applied.turns) };
    }
    // With credentialsSecret: the Secret first, so no role exists whose password nobody was given.
    const fresh = targetOf(inputs) ? await deliverNew(settings, spec, inputs, manager) : undefined;
    const password = !role.usesPassword(spec)
      ? undefined
      : (fresh?.password ?? (typeof inputs.password === "string" ? inputs.password : core.generatePassword()));
    const { observed } = await role.convergeRole(
      settings,
      spec,
      { manager },
      { password: password === undefined ? undefined : { verifier: core.scramVerifier(password) }, expected: plannedStatements(inputs) },
    );
    return { id: spec.name, outs: outputs(settings, spec, manager, observed, inputs, fresh?.delivered ?? password) };
  } catch (err) {
    rethrow(err);
  }
}

/** When the recorded password was set (the state's passwordSetAt), if it was recorded. */
function recordedSetAt(olds: Props): string | undefined {
  return typeof olds.passwordSetAt === "string" ? olds.passwordSetAt : undefined;
}

/** What the state records as applied: the settings a key removed from config resets. Nothing recorded, nothing reset. */
function appliedOf(olds: Props | undefined): core.role.RoleMemory {
  const config = recordedSettings(olds?.config);
  const authentication = olds ? role.appliedAuthentication(specFields(olds) as core.role.PgRoleSpec) : {};
  return { ...(config ? { config } : {}), ...authentication };
}

export async function update(settings: core.ConnectionSettings, olds: Props, news: Props): Promise<pulumi.dynamic.UpdateResult> {
  const spec = parseOrThrow(news);
  const owner = ownershipOf(news, "PgRole", olds);
  const { manager } = owner;
  const target = targetOf(news);
  // (Into credentialsSecret from a password of the program's is a rotation too: the Secret moves, see rotates.)
  try {
    const setAt = await passwordSetAtOf(olds, news);
    const rotation = rotates(olds, news, undefined, setAt);
    const secret = target ? await readSecret(target) : undefined;
    if (target && usesTurns(spec, news, secret)) {
      const choice = turnsChoice(spec, news, secret, rotation, olds.username);
      const current = (choice.turns as core.role.Turns).current;
      const stale = keysEdited(olds, news) || (await staleKeys(target, settings, current, true, templateOf(news))).length > 0;
      const kept = recordedSetAt(olds) ?? setAt;
      const expected = plannedStatements(news);
      const what = {
        choice,
        template: templateOf(news),
        stale,
        ...(kept ? { passwordSetAt: kept } : {}),
        ...(expected ? { expected } : {}),
      };
      const applied = await applyTurns(settings, spec, { ...owner, previous: appliedOf(olds) }, news, target, secret, what);
      const delivered = applied.delivered ?? { delivered: String(olds.credentialsVersion ?? ""), ...(kept ? { passwordSetAt: kept } : {}) };
      return { outs: outputs(settings, spec, manager, applied.observed, news, delivered, applied.turns) };
    }
    const fresh = target && rotation ? await deliverNew(settings, spec, news, manager) : undefined;
    // Without a rotation: the password the apps already have, from the Secret or the state.
    const held = async () => (target ? ((await storedPassword(target)) ?? "") : String(olds.password ?? ""));
    const withPassword = role.usesPassword(spec);
    const password = withPassword ? (fresh?.password ?? (rotation ? (news.password as string) : await held())) : undefined;
    // An edited template: the Secret's keys written again, with the password it holds.
    const rewritten =
      target &&
      !fresh &&
      (keysEdited(olds, news) || (await staleKeys(target, settings, spec.name, withPassword, templateOf(news))).length > 0)
        ? await writeCredentials(target, settings, spec.name, password, manager, templateOf(news), recordedSetAt(olds) ?? setAt)
        : undefined;
    const verifier = password === undefined ? undefined : { verifier: core.scramVerifier(password) };
    const { observed } = await role.convergeRole(
      settings,
      spec,
      { ...owner, previous: appliedOf(olds) },
      {
        password: rotation ? verifier : undefined,
        // Dropped out of band: created again with the password the apps already have.
        passwordIfCreated: verifier ? () => verifier : undefined,
        expected: plannedStatements(news),
      },
    );
    const kept = recordedSetAt(olds) ?? setAt;
    const delivered =
      fresh?.delivered ??
      (target ? { delivered: rewritten ?? String(olds.credentialsVersion ?? ""), ...(kept ? { passwordSetAt: kept } : {}) } : undefined);
    return { outs: outputs(settings, spec, manager, observed, news, delivered ?? password) };
  } catch (err) {
    rethrow(err);
  }
}

export async function read(settings: core.ConnectionSettings, id: string, props: Props): Promise<pulumi.dynamic.ReadResult> {
  const name = typeof props.name === "string" ? props.name : id;
  let observed: core.role.ObservedRole | undefined;
  try {
    observed = await role.observeRole(settings, name);
  } catch (err) {
    rethrow(err);
  }
  if (!observed) return { id: undefined, props: {} };
  // Only what the spec sets is reflected, so a refresh shows drift in those and nothing else.
  // Field by field as each behaviour reflects it (core/role/behaviours).
  const refreshed: Props = { ...role.reflectRole(props, observed), name: observed.name, oid: observed.oid };
  // With members (the username output), the role itself logs in only while it is the current or previous one: that is
  // the turns' doing, not drift (a change by hand is in the next plan, which converges the turns).
  if (typeof props.username === "string") refreshed.login = props.login;
  const target = targetOf(props);
  // A Secret gone (or written by someone else) since: recorded as no version, so the next up delivers a new password.
  if (target && (await secretVersion(target).catch(rethrow)) !== props.credentialsVersion) refreshed.credentialsVersion = "";
  const inputs = {
    ...specFields(refreshed),
    ...serverKey(props),
    manager: refreshed.manager,
    ...(typeof props.password === "string" && props.generatedPassword === false ? { password: props.password } : {}),
    ...(target ? { credentialsSecret: target } : {}),
    ...(props.rotate !== undefined ? { rotate: props.rotate } : {}),
    ...(props.rotateEvery !== undefined ? { rotateEvery: props.rotateEvery } : {}),
    ...(twoCredentialsOf(props) ? { twoCredentials: twoCredentialsOf(props) } : {}),
    ...(templateOf(props) ? { secretTemplate: templateOf(props) } : {}),
    ...(Array.isArray(props.plannedSql) ? { plannedSql: props.plannedSql } : {}),
  };
  return { id: name, props: refreshed, inputs } as pulumi.dynamic.ReadResult;
}

export async function remove(settings: core.ConnectionSettings, props: Props): Promise<void> {
  const spec = parseOrThrow(props);
  // Its members too, when it had two credentials (only those stamped by this manager).
  await removeOrLeave(() => role.reclaimTurns(settings, spec, { manager: managerOf(props) }));
  // The Secret goes with a dropped role; a retained role keeps it, so the apps still log in.
  const target = targetOf(props);
  if (target && spec.reclaimPolicy === "delete") await deleteCredentials(target, managerOf(props));
}
