// What each behaviour of a role field does in every layer (the one shape of core/behaviour): the spec's checks beyond
// its schema, the CRD's rules, how the plan creates and converges its fields, and what a refresh records. One entry
// per behaviour, keyed by the RoleBehaviour type of ./fields: a behaviour added there does not compile until it has
// an entry here, and a field then gets everything its behaviour's entry does (memberships and settings as attributes do).
import { type AdminView, cannotGrant } from "../admin";
import {
  AS_RECORDED,
  type BehaviourEntry,
  type BehaviourTable,
  type CelRule,
  failuresEach,
  KEEP_RECORDED,
  NO_FAILURES,
  NO_RULES,
  NO_STEPS,
  reflectEach,
  rulesEach,
} from "../behaviour";
import { type FieldFailure, InvalidSpec } from "../errors";
import { celList } from "../schema";
import { badRoleName, REFUSED_GROUPS, RESERVED_ROLES } from "./names";
import { reflectSettings, refuseServerSettings, type Settings, settingsChanges, settingsFailures, settingsRules } from "../settings";
import { type RoleBehaviour, type RoleFieldName, type RoleFieldOf, roleFieldsOf, sameAttribute } from "./fields";
import type { ObservedRole } from "./observe";
import type { PgRoleSpec } from "./spec";
import type { RoleStep } from "./steps";

/** What a behaviour's planner is given: the spec, the admin when it is not a superuser, and a new password. */
export interface RoleBehaviourInput {
  readonly spec: PgRoleSpec;
  /** Undefined for a superuser admin (or in pure tests): it needs no grants to act. */
  readonly admin?: AdminView;
  /** The SCRAM verifier to set, when the caller decided the password changes. */
  readonly verifier?: string;
  /** What pg-kopf last applied to the role. */
  readonly previous: RoleMemory;
}

/**
 * What pg-kopf last applied to a role, as its engine records it (the Pulumi state, the PgRole's status): what a key
 * removed from the spec resets. Nothing recorded, nothing reset.
 */
export interface RoleMemory {
  readonly config?: Settings;
  /** The role's password was removed (removePassword): not again. */
  readonly passwordRemoved?: boolean;
}

/**
 * Whether pg-kopf sets a password on the role and hands it out: a login role that does not authenticate by
 * Kerberos. The one place both engines ask.
 */
export function usesPassword(spec: Pick<PgRoleSpec, "login" | "authentication">): boolean {
  return spec.login !== false && spec.authentication !== "kerberos";
}

/** What a successful apply of `spec` leaves to remember of its authentication, for RoleMemory. */
export function appliedAuthentication(spec: Pick<PgRoleSpec, "authentication" | "removePassword">): Pick<RoleMemory, "passwordRemoved"> {
  return spec.authentication === "kerberos" && spec.removePassword === true ? { passwordRemoved: true } : {};
}

/** A Kerberos role logs in; removePassword only means something for one. */
function authenticationFailures(field: RoleFieldOf<"authentication">, raw: Readonly<Record<string, unknown>>): FieldFailure[] {
  if (field === "authentication" && raw.authentication === "kerberos" && raw.login === false)
    return [{ field: "login", message: "a Kerberos role logs in as its principal; remove login: false, or authentication" }];
  if (field === "removePassword" && raw.removePassword === true && raw.authentication !== "kerberos")
    return [{ field: "removePassword", message: "only applies with authentication: kerberos; set it, or remove removePassword" }];
  return [];
}

/** CEL for the same two checks, so the API server refuses them too. */
function authenticationRules(field: RoleFieldOf<"authentication">): CelRule[] {
  return field === "authentication"
    ? [
        {
          rule: "!has(self.authentication) || self.authentication != 'kerberos' || !has(self.login) || self.login",
          message: "spec.login: a Kerberos role logs in as its principal; remove login: false, or authentication",
        },
      ]
    : [
        {
          rule: "!has(self.removePassword) || !self.removePassword || (has(self.authentication) && self.authentication == 'kerberos')",
          message: "spec.removePassword: only applies with authentication: kerberos",
        },
      ];
}

interface RoleBehaviourEntry<F extends RoleFieldName> extends BehaviourEntry<F, RoleBehaviourInput, ObservedRole, RoleStep> {
  /** Refusals against what the catalogs say now (the admin view, superuser or not), checked before anything is planned. */
  readonly refuse: (fields: readonly F[], spec: PgRoleSpec, admin: AdminView | undefined) => void;
}

type RoleBehaviours = { readonly [B in RoleBehaviour]: RoleBehaviourEntry<RoleFieldOf<B>> };

const valid = NO_FAILURES;
const noRules = NO_RULES;
const noRefusal = (): void => {};
const none = NO_STEPS;
const asRecorded = KEEP_RECORDED;

/** Each group of a memberships list that is no role to be granted: reserved, refused, or the role itself. */
function membershipFailures(field: string, raw: Readonly<Record<string, unknown>>): FieldFailure[] {
  const groups = raw[field];
  if (!Array.isArray(groups)) return [];
  return groups.flatMap((group, i): FieldFailure[] => {
    const failures: FieldFailure[] = [];
    const why = typeof group === "string" ? badRoleName(group) : undefined;
    if (why && !group.startsWith("pg_")) failures.push({ field: `${field}.${i}`, message: why });
    if (REFUSED_GROUPS.includes(group as string))
      failures.push({
        field: `${field}.${i}`,
        message: `${group} reaches the server's files or programs, as a superuser would; grant it by hand if needed`,
      });
    if (group === raw.name) failures.push({ field: `${field}.${i}`, message: "a role cannot be a member of itself; remove it" });
    return failures;
  });
}

/**
 * Refuses (InvalidSpec, naming the entry) a group through which the role would get superuser powers: one that is a
 * superuser, has REPLICATION or BYPASSRLS, or leads to one, as the live catalogs say now. Checked on every plan, so a
 * group made privileged out of band is refused too.
 */
function refusePrivilegedGroups(fields: readonly RoleFieldOf<"memberships">[], spec: PgRoleSpec, admin: AdminView | undefined): void {
  const failures = fields.flatMap((field) =>
    (spec[field] ?? []).flatMap((group, i) => {
      const privileged = admin?.holds.get(group)?.privileged;
      return privileged
        ? [
            {
              field: `${field}.${i}`,
              message: `membership in "${group}" gives superuser powers (${privileged}); grant the role the privileges it needs instead, or remove it from ${field}`,
            },
          ]
        : [];
    }),
  );
  if (failures.length) throw new InvalidSpec(failures);
}

/** GRANT of a group, refused (AdminLacksPrivilege, naming the field) when a non-superuser admin may not grant it. */
function grant(field: RoleFieldName, role: string, group: string, admin: AdminView | undefined): RoleStep {
  const hold = admin?.holds.get(group);
  if (hold && !hold.grants) throw cannotGrant(group, admin!.facts, field);
  return { kind: "grantRole", role, group };
}

/** GRANT each group the role is not in yet, REVOKE each it is in and the list no longer has (only a list the spec sets). */
function planMemberships(fields: readonly RoleFieldOf<"memberships">[], input: RoleBehaviourInput, observed?: ObservedRole): RoleStep[] {
  const role = input.spec.name;
  return fields.flatMap((field) => {
    const want = input.spec[field];
    if (want === undefined) return [];
    const have = observed?.[field] ?? [];
    return [
      ...want.filter((g) => !have.includes(g)).map((g) => grant(field, role, g, input.admin)),
      ...have.filter((g) => !want.includes(g)).map((group): RoleStep => ({ kind: "revokeRole", role, group })),
    ];
  });
}

/**
 * SET for each wanted setting that differs, RESET for each pg-kopf set before and the map no longer has (only a map
 * the spec sets).
 */
function planSettings(fields: readonly RoleFieldOf<"settings">[], input: RoleBehaviourInput, observed?: ObservedRole): RoleStep[] {
  const { spec, previous } = input;
  const role = spec.name;
  return fields.flatMap((field) => {
    const want = spec[field];
    if (want === undefined) return [];
    const { set, reset } = settingsChanges(want, observed?.[field] ?? {}, previous[field] ?? {});
    return [
      ...set.map(([key, value]): RoleStep => ({ kind: "setRoleConfig", role, key, value })),
      ...reset.map((key): RoleStep => ({ kind: "resetRoleConfig", role, key })),
    ];
  });
}

/** ALTER ROLE for each attribute the spec sets to another value than the role has, then the new password. */
function planAttributes(fields: readonly RoleFieldOf<"attribute">[], input: RoleBehaviourInput, observed: ObservedRole): RoleStep[] {
  const { spec } = input;
  return [
    ...fields
      .filter((attribute) => spec[attribute] !== undefined && !sameAttribute(attribute, spec[attribute], observed[attribute]))
      .map((attribute): RoleStep => ({ kind: "alterRole", role: spec.name, attribute, value: spec[attribute] })),
    // PASSWORD is a role option like the attributes; it is set after them, as one ALTER each.
    ...(input.verifier ? [{ kind: "setPassword", role: spec.name, verifier: input.verifier } as const] : []),
  ];
}

/** In the order the plan runs them: attributes (and the password), memberships, settings. */
export const ROLE_BEHAVIOURS: RoleBehaviours = {
  identity: { validate: valid, rules: noRules, refuse: noRefusal, planCreate: none, planExisting: none, reflect: asRecorded },
  attribute: {
    validate: valid,
    rules: noRules,
    refuse: noRefusal,
    planCreate: none,
    planExisting: (fields, input) => planAttributes(fields, input, input.observed),
    // As recorded while Postgres says the same (a timestamp spelled another way), else as it is now.
    reflect: (field, recorded, observed) =>
      recorded === undefined || sameAttribute(field, recorded, observed[field]) ? AS_RECORDED : observed[field],
  },
  memberships: {
    validate: membershipFailures,
    rules: (field) => [
      {
        rule: `!has(self.${field}) || self.${field}.all(g, g != self.name && !(g in ${celList(REFUSED_GROUPS)}) && (g.startsWith('pg_') || !(g.lowerAscii() in ${celList(RESERVED_ROLES)})))`,
        message: `spec.${field}: a role cannot be a member of itself, of a reserved name, or of ${REFUSED_GROUPS.join(", ")} (they reach the server's files or programs)`,
      },
    ],
    refuse: refusePrivilegedGroups,
    planCreate: (fields, input) => planMemberships(fields, input),
    planExisting: (fields, input) => planMemberships(fields, input, input.observed),
    reflect: (field, recorded, observed) => (Array.isArray(recorded) ? [...observed[field]] : AS_RECORDED),
  },
  settings: {
    validate: (field, raw) => settingsFailures(field, raw[field]),
    rules: settingsRules,
    refuse: (fields, spec, admin) =>
      refuseServerSettings(
        fields.map((f) => [f, spec[f]]),
        admin,
      ),
    planCreate: (fields, input) => planSettings(fields, input),
    planExisting: (fields, input) => planSettings(fields, input, input.observed),
    reflect: (field, recorded, observed) =>
      recorded === null || recorded === undefined ? AS_RECORDED : reflectSettings(recorded as Settings, observed[field]),
  },
  // The password itself is the caller's (usesPassword decides whether there is one); removing one is planned here,
  // once: a non-superuser admin cannot see whether a role has a password, so what was removed is remembered.
  authentication: {
    validate: authenticationFailures,
    rules: authenticationRules,
    refuse: noRefusal,
    planCreate: none,
    planExisting: (_fields, { spec, previous }) =>
      spec.authentication === "kerberos" && spec.removePassword === true && !previous.passwordRemoved
        ? [{ kind: "removePassword", role: spec.name }]
        : [],
    reflect: asRecorded,
  },
  // pg-kopf's own behaviour: read where its decision is made (ownership for adopt and adoptFrom, planRoleDelete for
  // reclaimPolicy and reassignOwnedTo), never planned as SQL.
  policy: { validate: valid, rules: noRules, refuse: noRefusal, planCreate: none, planExisting: none, reflect: asRecorded },
};

/** The table as the walks of core/behaviour take it (each entry typed by its own fields above). */
export const ROLE_TABLE = { entries: ROLE_BEHAVIOURS, fieldsOf: roleFieldsOf } as unknown as BehaviourTable<
  RoleBehaviour,
  RoleFieldName,
  RoleBehaviourInput,
  ObservedRole,
  RoleStep
>;

/** Every behaviour's refusals against the catalogs (the admin view), before anything is planned. */
export function refuseRoleSpec(spec: PgRoleSpec, admin: AdminView | undefined): void {
  for (const b of Object.keys(ROLE_BEHAVIOURS) as RoleBehaviour[])
    (ROLE_BEHAVIOURS[b] as unknown as RoleBehaviourEntry<RoleFieldName>).refuse(roleFieldsOf(b), spec, admin);
}

/** Every behaviour's checks of a raw spec beyond its schema, field by field. */
export const roleBehaviourFailures = (raw: Readonly<Record<string, unknown>>): FieldFailure[] => failuresEach(ROLE_TABLE, raw);
/** Every behaviour's CEL rules, field by field, for the CRD. */
export const roleBehaviourRules = (): CelRule[] => rulesEach(ROLE_TABLE);
/** Recorded properties with what the catalog says, for each field the spec sets, as each behaviour reflects it. */
export const reflectRole = (recorded: Readonly<Record<string, unknown>>, observed: ObservedRole): Record<string, unknown> =>
  reflectEach(ROLE_TABLE, recorded, observed, false);

/** The roles a spec's memberships name: what the admin view is observed for. */
export function groupsOf(spec: PgRoleSpec): string[] {
  return roleFieldsOf("memberships").flatMap((f) => spec[f] ?? []);
}
