// What the PgRole provider does for each of Pulumi's methods, each a thin call into the core's roles. Loaded by name
// in the provider process (see ./provider), never serialized. The password is either the user's secret input or
// generated here at creation; it reaches Postgres only as a SCRAM verifier, and the state only as a secret.
import type * as pulumi from "@pulumi/pulumi";
import * as core from "../core";
import {
  checkFailures,
  fieldsOf,
  goneNotice,
  serverChange,
  serverConflictOf,
  serverKey,
  hasPlannedWork,
  managerOf as managerIn,
  ownershipOf,
  plannedStatements,
  type Props,
  providerConnection,
  requireAdmin,
  removeOrLeave,
  rethrow,
  serverOf,
  unplanned,
  userInputs,
} from "./props";
import { declareRole } from "./declaredRoles";

const { role } = core;

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

/** A new password is set when the resource is created, and when the password input changes (a rotation). */
function rotates(olds: Props, news: Props): boolean {
  return typeof news.password === "string" && news.password !== olds.password;
}

/**
 * Validates the inputs and plans the SQL as reviewers will read it (the password clause redacted). A role's name is
 * its identity: renaming is refused here, naming the field.
 */
export async function check(settings: core.ConnectionSettings, olds: Props, news: Props): Promise<pulumi.dynamic.CheckResult> {
  const r = role.parseRoleSpec(userInputs(news, ["password", "generatedPassword"]));
  if (!r.ok) return { failures: checkFailures(r.failures) };
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
    const owner = ownershipOf(news, "PgRole", hasOlds ? olds : undefined);
    const { observed, admin } = await role.observeRoleForPlan(settings, r.spec);
    requireAdmin(settings, admin, "roles");
    const password = !observed || rotates(olds ?? {}, news) ? PLANNED_VERIFIER : undefined;
    plannedSql = role.planRole(r.spec, observed, { ...owner, admin }, password).map(role.describeRoleStep);
    const gone = goneNotice(olds, observed, `role "${r.spec.name}"`, "up creates it again, with the password the state has");
    if (gone) plannedSql.unshift(gone);
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
    },
  };
}

export async function diff(olds: Props, news: Props): Promise<pulumi.dynamic.DiffResult> {
  const a = specFields(olds);
  const b = specFields(news);
  const changed = Object.keys({ ...a, ...b }).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return {
    changes: changed.length > 0 || rotates(olds, news) || hasPlannedWork(olds, news) || olds.manager !== news.manager,
    replaces: [],
  };
}

function outputs(spec: core.role.PgRoleSpec, manager: string, observed: core.role.ObservedRole, inputs: Props, password: string): Props {
  return {
    ...spec,
    ...serverKey(inputs),
    manager,
    oid: observed.oid,
    password,
    // Whether the provider made the password up: a refresh gives back only a password the program gave.
    generatedPassword: typeof inputs.password !== "string",
    ...(Array.isArray(inputs.plannedSql) ? { plannedSql: inputs.plannedSql } : {}),
  };
}

export async function create(settings: core.ConnectionSettings, inputs: Props): Promise<pulumi.dynamic.CreateResult> {
  const spec = parseOrThrow(inputs);
  const manager = managerOf(inputs);
  const password = typeof inputs.password === "string" ? inputs.password : core.generatePassword();
  try {
    const { observed } = await role.convergeRole(
      settings,
      spec,
      { manager },
      { password: { verifier: core.scramVerifier(password) }, expected: plannedStatements(inputs) },
    );
    return { id: spec.name, outs: outputs(spec, manager, observed, inputs, password) };
  } catch (err) {
    rethrow(err);
  }
}

export async function update(settings: core.ConnectionSettings, olds: Props, news: Props): Promise<pulumi.dynamic.UpdateResult> {
  const spec = parseOrThrow(news);
  const owner = ownershipOf(news, "PgRole", olds);
  const { manager } = owner;
  const rotation = rotates(olds, news);
  const password = rotation ? (news.password as string) : String(olds.password ?? "");
  try {
    const { observed } = await role.convergeRole(settings, spec, owner, {
      password: rotation ? { verifier: core.scramVerifier(password) } : undefined,
      // Dropped out of band: created again with the password the state (and so the apps) already have.
      passwordIfCreated: () => ({ verifier: core.scramVerifier(password) }),
      expected: plannedStatements(news),
    });
    return { outs: outputs(spec, manager, observed, news, password) };
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
  const refreshed: Props = { ...props, name: observed.name, oid: observed.oid };
  for (const attribute of role.ROLE_ATTRIBUTES) {
    const have = observed[attribute];
    if (props[attribute] !== undefined && !role.sameAttribute(attribute, props[attribute], have)) refreshed[attribute] = have;
  }
  if (Array.isArray(props.memberOf)) refreshed.memberOf = [...observed.memberOf];
  if (props.config !== undefined && props.config !== null) {
    // Each setting as recorded when Postgres says the same (it may spell a list differently), else as it is now.
    const recorded = props.config as Record<string, string>;
    refreshed.config = Object.fromEntries(
      Object.entries(observed.config).map(([key, value]) => {
        const same =
          recorded[key] !== undefined &&
          JSON.stringify(role.settingItems(key, recorded[key])) === JSON.stringify(role.settingItems(key, value));
        return [key, same ? recorded[key] : value];
      }),
    );
  }
  const inputs = {
    ...specFields(refreshed),
    ...serverKey(props),
    manager: refreshed.manager,
    ...(typeof props.password === "string" && props.generatedPassword === false ? { password: props.password } : {}),
    ...(Array.isArray(props.plannedSql) ? { plannedSql: props.plannedSql } : {}),
  };
  return { id: name, props: refreshed, inputs } as pulumi.dynamic.ReadResult;
}

export async function remove(settings: core.ConnectionSettings, props: Props): Promise<void> {
  const spec = parseOrThrow(props);
  await removeOrLeave(() => role.reclaimRole(settings, spec, { manager: managerOf(props) }));
}
