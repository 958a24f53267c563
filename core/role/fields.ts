// Every PgRole spec field, described once: its schema, the CREATE/ALTER ROLE option that sets it (the same clause
// serves both), and how it behaves. The role schema, the plan and the CRD are derived from this table, as for
// databases (core/database/fields).
import { Type, type TSchema } from "@sinclair/typebox";
import { adoptionFields } from "../ownership";
import { escapeLiteral as lit } from "pg";
import { nameSchema, sqlInteger } from "../schema";
import { SETTINGS_FIX, settingsSchema } from "../settings";

/**
 * How a field behaves (what each does in every layer: ./behaviours):
 * - identity: the role's name.
 * - attribute: a role attribute Postgres reports in pg_roles, set by an option of CREATE ROLE and ALTER ROLE.
 * - memberships: roles granted to this one (GRANT / REVOKE).
 * - settings: per-role session settings (ALTER ROLE ... SET / RESET), keys from core/settings.
 * - authentication: how the role proves who it is (a password pg-kopf sets, or Kerberos with none), and the one-off
 *   removal of a password it had.
 * - policy: pg-kopf's own behaviour; no SQL of its own.
 */
export type RoleBehaviour = RoleField["behaviour"];

interface RoleFieldBase {
  readonly schema: TSchema;
  readonly fix?: string;
}
/**
 * A field entry, by behaviour: what each behaviour needs is required, so an entry missing a piece does not compile
 * (an attribute without its option clause).
 */
type RoleField =
  | (RoleFieldBase & {
      readonly behaviour: "attribute";
      /** The option clause of CREATE ROLE ... WITH and ALTER ROLE ... WITH. */
      readonly option: (value: never) => string;
      /** Whether two spellings mean the same setting (default: ===). */
      readonly same?: (want: never, have: never) => boolean;
    })
  | (RoleFieldBase & { readonly behaviour: "identity" | "memberships" | "settings" | "authentication" | "policy" });

const int = sqlInteger;
const flag = (on: string, off: string) => (v: boolean) => (v ? on : off);
const roleName = nameSchema;
/** Timestamps are compared as instants ("2030-01-01" and "2030-01-01T00:00:00Z" agree); infinity as itself. */
const sameInstant = (want: string, have: string) =>
  want === "infinity" || have === "infinity" ? want === have : Date.parse(want) === Date.parse(have);

export const ROLE_FIELDS = {
  name: {
    schema: roleName(
      "Name of the role: the identifier of CREATE ROLE. 1-63 bytes, any characters but NUL; not pg_* and not a reserved name. Immutable.",
    ),
    behaviour: "identity",
    fix: "use 1-63 bytes of any characters but NUL, not starting with pg_",
  },
  login: {
    schema: Type.Optional(
      Type.Boolean({ description: "Whether the role can log in: LOGIN / NOLOGIN of CREATE/ALTER ROLE. Default true." }),
    ),
    behaviour: "attribute",
    option: flag("LOGIN", "NOLOGIN"),
  },
  inherit: {
    schema: Type.Optional(
      Type.Boolean({ description: "Whether it uses the privileges of roles it is a member of: INHERIT / NOINHERIT of CREATE/ALTER ROLE." }),
    ),
    behaviour: "attribute",
    option: flag("INHERIT", "NOINHERIT"),
  },
  createdb: {
    schema: Type.Optional(Type.Boolean({ description: "Whether it can create databases: CREATEDB / NOCREATEDB of CREATE/ALTER ROLE." })),
    behaviour: "attribute",
    option: flag("CREATEDB", "NOCREATEDB"),
  },
  createrole: {
    schema: Type.Optional(
      Type.Boolean({ description: "Whether it can create and alter roles: CREATEROLE / NOCREATEROLE of CREATE/ALTER ROLE." }),
    ),
    behaviour: "attribute",
    option: flag("CREATEROLE", "NOCREATEROLE"),
  },
  connectionLimit: {
    schema: Type.Optional(
      Type.Integer({ minimum: -1, description: "Maximum concurrent connections, -1 for no limit: CONNECTION LIMIT of CREATE/ALTER ROLE." }),
    ),
    behaviour: "attribute",
    fix: "use -1 for no limit, or 0 or more",
    option: (v: number) => `CONNECTION LIMIT ${int(v)}`,
  },
  validUntil: {
    schema: Type.Optional(
      Type.String({
        minLength: 1,
        description: "When the password stops working: VALID UNTIL of CREATE/ALTER ROLE, an ISO 8601 timestamp or infinity.",
      }),
    ),
    behaviour: "attribute",
    fix: 'use an ISO 8601 timestamp such as "2030-01-01T00:00:00Z", or "infinity"',
    option: (v: string) => `VALID UNTIL ${lit(v)}`,
    same: sameInstant,
  },
  memberOf: {
    schema: Type.Optional(
      Type.Array(roleName("A role granted to this one."), {
        uniqueItems: true,
        maxItems: 64,
        description: "Every role this role is a member of: GRANT <role> TO this one; a role removed from the list is revoked.",
      }),
    ),
    behaviour: "memberships",
    fix: "list distinct existing role names",
  },
  authentication: {
    schema: Type.Optional(
      Type.Union([Type.Literal("password"), Type.Literal("kerberos")], {
        description:
          "How the role logs in: password (default; pg-kopf generates or is given one and sets it) or kerberos (a principal mapped to the role by pg_hba.conf and pg_ident.conf: no password is generated, set or handed out).",
      }),
    ),
    behaviour: "authentication",
    fix: 'use "password" or "kerberos"',
  },
  removePassword: {
    schema: Type.Optional(
      Type.Boolean({
        description:
          "With authentication kerberos: remove a password the role already has (ALTER ROLE ... WITH PASSWORD NULL), once. Without it an existing password is left as it is.",
      }),
    ),
    behaviour: "authentication",
    fix: "set authentication: kerberos, or remove removePassword",
  },
  config: {
    schema: settingsSchema(
      "Session settings of the role: ALTER ROLE ... SET key TO value, and RESET for a key pg-kopf set that the map no longer has (unset: settings left alone; a key set by hand is left alone).",
    ),
    behaviour: "settings",
    fix: SETTINGS_FIX,
  },
  reclaimPolicy: {
    schema: Type.Optional(
      Type.Union([Type.Literal("retain"), Type.Literal("delete")], {
        description: "What deleting the resource does to the role: retain (default) leaves it, delete runs DROP ROLE.",
      }),
    ),
    behaviour: "policy",
    fix: 'use "retain" (keep the role) or "delete" (drop it)',
  },
  reassignOwnedTo: {
    schema: Type.Optional(
      roleName(
        "With reclaimPolicy delete: the role that receives what this one owns. Deleting runs REASSIGN OWNED BY ... TO it and DROP OWNED BY (revoking this role's privileges) in every database where it owns or is granted something, then DROP ROLE. Without it, a role that owns or is granted anything is not dropped.",
      ),
    ),
    behaviour: "policy",
    fix: "name an existing role that should own this role's objects",
  },
  ...adoptionFields("role"),
} satisfies Record<string, RoleField>;

export type RoleFieldName = keyof typeof ROLE_FIELDS;
export const ROLE_FIELD_NAMES = Object.keys(ROLE_FIELDS) as RoleFieldName[];
type Fields = typeof ROLE_FIELDS;
/** The attributes: reported by pg_roles, set by an option clause. */
export type RoleAttribute = { [K in RoleFieldName]: Fields[K]["behaviour"] extends "attribute" ? K : never }[RoleFieldName];
export const ROLE_ATTRIBUTES = ROLE_FIELD_NAMES.filter((f) => ROLE_FIELDS[f].behaviour === "attribute") as RoleAttribute[];

const entry = (f: RoleFieldName): RoleField => ROLE_FIELDS[f] as RoleField;
export const roleBehaviourOf = (f: RoleFieldName): RoleBehaviour => entry(f).behaviour;
/** The fields of one behaviour. */
export type RoleFieldOf<B extends RoleBehaviour> = { [K in RoleFieldName]: Fields[K]["behaviour"] extends B ? K : never }[RoleFieldName];
/** The fields of one behaviour, in the table's order. */
export const roleFieldsOf = <B extends RoleBehaviour>(behaviour: B): RoleFieldOf<B>[] =>
  ROLE_FIELD_NAMES.filter((f) => entry(f).behaviour === behaviour) as RoleFieldOf<B>[];

/** The option clause that sets an attribute. */
export function roleOptionSql(field: RoleAttribute, value: unknown): string {
  return (ROLE_FIELDS[field].option as (v: unknown) => string)(value);
}

/** Whether a wanted attribute value is what Postgres reports. */
export function sameAttribute(field: RoleAttribute, want: unknown, have: unknown): boolean {
  const e = ROLE_FIELDS[field];
  const same = "same" in e ? (e.same as (w: unknown, h: unknown) => boolean) : undefined;
  return same ? typeof want === "string" && typeof have === "string" && same(want, have) : want === have;
}

export function roleFixOf(field: string): string | undefined {
  return field in ROLE_FIELDS ? entry(field as RoleFieldName).fix : undefined;
}
