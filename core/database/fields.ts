// Every PgDatabase spec field, described once: its schema, the CREATE DATABASE option that sets it, whether Postgres
// reports it back, whether it can change after creation and the ALTER that changes it. The spec schema, the plan,
// the provider's diff, the CRD's CEL rules and drift reporting are all derived from this table.
import { Type, type TSchema } from "@sinclair/typebox";
import { adoptionFields } from "../ownership";
import { escapeIdentifier as id, escapeLiteral as lit } from "pg";
import { MAX_NAME_BYTES, NAME_PATTERN, nameSchema, sqlInteger } from "../schema";
import { SETTINGS_FIX, settingsMapSchema, settingsSchema } from "../settings";

const LOCALE_PATTERN = "^[A-Za-z0-9_.@-]+$";

/**
 * How a field behaves once the database exists (what each does in every layer: ./behaviours):
 * - identity: the database's name; another value is another database.
 * - immutable: fixed by CREATE DATABASE and reported back by Postgres. Changing it from one value to another is a
 *   new database (refused, or a replacement when reclaimPolicy delete was recorded). Setting it where it was unset is
 *   checked against the live database; unsetting it means "whatever it is".
 * - creationOnly: used by CREATE DATABASE and never reported back (template); the same change rule as immutable.
 * - mutable: reported back and ALTERed in place.
 * - settings: the database's session settings (ALTER DATABASE ... SET / RESET), keys from core/settings.
 * - roleSettings: settings of a role in this database (ALTER ROLE ... IN DATABASE ... SET / RESET), by role.
 * - extensions: installed inside the database; removing one from the list leaves it installed.
 * - access: schemas and access levels inside the database (./access): granted, and revoked only as far as a level
 *   pg-kopf granted before asks; a schema removed from the list is left in place.
 * - policy: pg-kopf's own behaviour (what deleting does, taking over); no SQL of its own.
 */
export type Behaviour = Field["behaviour"];
/** The behaviours Postgres reports back: compared with the live database by the plan, reflected by a refresh. */
export type ObservedBehaviour = "immutable" | "mutable";

/** One mutable field's ALTER, as the step the plan records. */
export type AlterStep =
  | { kind: "alterOwner"; database: string; owner: string }
  | { kind: "alterTablespace"; database: string; tablespace: string }
  | { kind: "alterAllowConnections"; database: string; allowConnections: boolean }
  | { kind: "alterConnectionLimit"; database: string; connectionLimit: number }
  | { kind: "alterIsTemplate"; database: string; isTemplate: boolean };

interface FieldBase {
  readonly schema: TSchema;
  /** What to write instead, appended to a validation failure of this field. */
  readonly fix?: string;
}
/** The option of CREATE DATABASE ... WITH that sets it. */
type CreateOption = (value: never) => string;
/**
 * A field entry, by behaviour: what each behaviour needs is required, so an entry missing a piece does not compile
 * (a mutable field without its ALTER, an immutable one without its CREATE option).
 */
type Field =
  | (FieldBase & { readonly behaviour: "identity" })
  | (FieldBase & { readonly behaviour: "immutable"; readonly createOption: CreateOption; readonly spelling?: Spelling })
  | (FieldBase & { readonly behaviour: "creationOnly"; readonly createOption: CreateOption })
  | (FieldBase & {
      readonly behaviour: "mutable";
      readonly createOption: CreateOption;
      /** The ALTER step that changes it in place. */
      readonly alter: (database: string, value: never) => AlterStep;
      /** The SQL of that step. */
      readonly alterSql: (database: string, value: never) => string;
      readonly spelling?: Spelling;
    })
  | (FieldBase & { readonly behaviour: "settings" | "roleSettings" | "extensions" | "access" | "policy" });

const int = sqlInteger;
const bool = (b: boolean): string => (b ? "true" : "false");

const name = nameSchema;
const locale = (description: string) => Type.String({ minLength: 1, pattern: LOCALE_PATTERN, description });
/**
 * How a field's spellings that mean one setting are brought to one, in TypeScript (the plan, the provider's diff)
 * and as the same CEL expression (the CRD's transition rules), so that both engines accept the same rewrites.
 */
export interface Spelling {
  readonly canonical: (value: string) => string;
  readonly cel: (expr: string) => string;
}
/**
 * Postgres reports locale names as given, but users write "C.utf8" and "C.UTF-8" interchangeably.
 */
const LOCALE_SPELLING: Spelling = {
  canonical: (v) => v.toLowerCase().replaceAll("utf-8", "utf8"),
  cel: (e) => `${e}.lowerAscii().replace('utf-8', 'utf8')`,
};
/**
 * Postgres ignores case and punctuation in encoding names (utf-8, UTF_8 and UTF8 are one). The punctuation removed
 * is what CEL can remove too; core/database/spec refuses a name that is not a server encoding after this.
 */
const ENCODING_PUNCTUATION = ["-", "_", ".", " "];
export const ENCODING_SPELLING: Spelling = {
  canonical: (v) => ENCODING_PUNCTUATION.reduce((s, p) => s.replaceAll(p, ""), v.toUpperCase()),
  cel: (e) => ENCODING_PUNCTUATION.reduce((s, p) => `${s}.replace('${p}', '')`, `${e}.upperAscii()`),
};
const LOCALE_FIX = "use a locale the server has, e.g. C, C.UTF-8 or en_US.UTF-8";
const NAME_FIX = "use 1-63 bytes of any characters but NUL";

/** The fields, in the order CREATE DATABASE lists their options and the plan ALTERs them. */
export const FIELDS = {
  name: {
    schema: name("Name of the database: the identifier of CREATE DATABASE. 1-63 bytes (UTF-8), any characters but NUL. Immutable."),
    behaviour: "identity",
    fix: NAME_FIX,
  },
  owner: {
    schema: Type.Optional(name("Role that owns the database: OWNER of CREATE DATABASE, ALTER DATABASE ... OWNER TO. The role must exist.")),
    behaviour: "mutable",
    fix: "use an existing role name of 1-63 bytes",
    createOption: (v: string) => `OWNER ${id(v)}`,
    alter: (database: string, owner: string) => ({ kind: "alterOwner", database, owner }),
    alterSql: (db: string, v: string) => `ALTER DATABASE ${id(db)} OWNER TO ${id(v)}`,
  },
  template: {
    schema: Type.Optional(
      name(
        "Database to copy: TEMPLATE of CREATE DATABASE (template0 is needed for an encoding or locale other than template1's). Used only at creation; immutable.",
      ),
    ),
    behaviour: "creationOnly",
    fix: "name an existing database, e.g. template0",
    createOption: (v: string) => `TEMPLATE ${id(v)}`,
  },
  encoding: {
    schema: Type.Optional(Type.String({ minLength: 1, description: "Character set: ENCODING of CREATE DATABASE, e.g. UTF8. Immutable." })),
    behaviour: "immutable",
    createOption: (v: string) => `ENCODING ${lit(v)}`,
    spelling: ENCODING_SPELLING,
  },
  localeProvider: {
    schema: Type.Optional(
      Type.Union([Type.Literal("libc"), Type.Literal("icu")], {
        description: "Collation provider: LOCALE_PROVIDER of CREATE DATABASE (libc or icu). Immutable.",
      }),
    ),
    behaviour: "immutable",
    fix: 'use "libc" or "icu"',
    createOption: (v: string) => `LOCALE_PROVIDER ${lit(v)}`,
  },
  icuLocale: {
    schema: Type.Optional(locale("ICU locale when localeProvider is icu: ICU_LOCALE of CREATE DATABASE. Immutable.")),
    behaviour: "immutable",
    fix: "use an ICU locale, e.g. und or en-US",
    createOption: (v: string) => `ICU_LOCALE ${lit(v)}`,
  },
  lcCollate: {
    schema: Type.Optional(locale("String sort order: LC_COLLATE of CREATE DATABASE. Immutable.")),
    behaviour: "immutable",
    fix: LOCALE_FIX,
    createOption: (v: string) => `LC_COLLATE ${lit(v)}`,
    spelling: LOCALE_SPELLING,
  },
  lcCtype: {
    schema: Type.Optional(locale("Character classification: LC_CTYPE of CREATE DATABASE. Immutable.")),
    behaviour: "immutable",
    fix: LOCALE_FIX,
    createOption: (v: string) => `LC_CTYPE ${lit(v)}`,
    spelling: LOCALE_SPELLING,
  },
  tablespace: {
    schema: Type.Optional(
      name("Default tablespace: TABLESPACE of CREATE DATABASE, ALTER DATABASE ... SET TABLESPACE (moves the data; needs no sessions)."),
    ),
    behaviour: "mutable",
    fix: "name an existing tablespace",
    createOption: (v: string) => `TABLESPACE ${id(v)}`,
    alter: (database: string, tablespace: string) => ({ kind: "alterTablespace", database, tablespace }),
    alterSql: (db: string, v: string) => `ALTER DATABASE ${id(db)} SET TABLESPACE ${id(v)}`,
  },
  allowConnections: {
    schema: Type.Optional(Type.Boolean({ description: "Whether anyone can connect: ALLOW_CONNECTIONS of CREATE/ALTER DATABASE." })),
    behaviour: "mutable",
    createOption: (v: boolean) => `ALLOW_CONNECTIONS ${bool(v)}`,
    alter: (database: string, allowConnections: boolean) => ({ kind: "alterAllowConnections", database, allowConnections }),
    alterSql: (db: string, v: boolean) => `ALTER DATABASE ${id(db)} WITH ALLOW_CONNECTIONS ${bool(v)}`,
  },
  connectionLimit: {
    schema: Type.Optional(
      Type.Integer({
        minimum: -1,
        description: "Maximum concurrent connections, -1 for no limit: CONNECTION LIMIT of CREATE/ALTER DATABASE.",
      }),
    ),
    behaviour: "mutable",
    fix: "use -1 for no limit, or 0 or more",
    createOption: (v: number) => `CONNECTION LIMIT ${int(v)}`,
    alter: (database: string, connectionLimit: number) => ({ kind: "alterConnectionLimit", database, connectionLimit }),
    alterSql: (db: string, v: number) => `ALTER DATABASE ${id(db)} WITH CONNECTION LIMIT ${int(v)}`,
  },
  isTemplate: {
    schema: Type.Optional(
      Type.Boolean({ description: "Whether the database can be cloned as a template: IS_TEMPLATE of CREATE/ALTER DATABASE." }),
    ),
    behaviour: "mutable",
    createOption: (v: boolean) => `IS_TEMPLATE ${bool(v)}`,
    alter: (database: string, isTemplate: boolean) => ({ kind: "alterIsTemplate", database, isTemplate }),
    alterSql: (db: string, v: boolean) => `ALTER DATABASE ${id(db)} WITH IS_TEMPLATE ${bool(v)}`,
  },
  config: {
    schema: settingsSchema(
      "Session settings of every session in the database: ALTER DATABASE ... SET key TO value, and RESET for a key pg-kopf set that the map no longer has (unset: settings left alone; a key set by hand is left alone).",
    ),
    behaviour: "settings",
    fix: SETTINGS_FIX,
  },
  roleConfig: {
    schema: Type.Optional(
      Type.Record(
        name("The role the settings are for."),
        settingsMapSchema("The role's settings in this database: ALTER ROLE ... IN DATABASE ... SET key TO value."),
        {
          maxProperties: 32,
          description:
            "Settings of a role in this database, by role: ALTER ROLE <role> IN DATABASE <database> SET key TO value, and RESET for a key pg-kopf set that the map no longer has. They win over the role's and the database's own settings. The role must exist.",
        },
      ),
    ),
    behaviour: "roleSettings",
    fix: `map each existing role to its settings, e.g. {reporting: {work_mem: "256MB"}}; ${SETTINGS_FIX}`,
  },
  extensions: {
    schema: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: MAX_NAME_BYTES, pattern: NAME_PATTERN }), {
        uniqueItems: true,
        maxItems: 64,
        description:
          "Extensions to install: CREATE EXTENSION IF NOT EXISTS, run inside the database. " +
          "Removing one from the list leaves it installed (dropping an extension can drop data).",
      }),
    ),
    behaviour: "extensions",
    fix: "list distinct extension names, e.g. [pgcrypto, citext]",
  },
  schemas: {
    schema: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: name("Schema name: CREATE SCHEMA ... (not pg_*). A schema removed from the list is left in place, with its data."),
            owner: Type.Optional(name("Its owner: AUTHORIZATION / ALTER SCHEMA ... OWNER TO (default: the database's owner).")),
          },
          { additionalProperties: false },
        ),
        {
          maxItems: 32,
          description:
            "Schemas to create inside the database (CREATE SCHEMA ... AUTHORIZATION owner). Access levels cover them and public.",
        },
      ),
    ),
    behaviour: "access",
    fix: "list schemas as {name: app, owner: app_owner} with distinct names, not starting with pg_",
  },
  access: {
    schema: Type.Optional(
      Type.Array(
        Type.Object(
          {
            role: name(
              "The role granted the level. It must exist, or be made first by a PgRole (in Pulumi: pass the PgRole's name output, so that it is created first).",
            ),
            level: Type.Union([Type.Literal("connect"), Type.Literal("read"), Type.Literal("write")], {
              description:
                "connect: CONNECT on the database. read: connect, USAGE on public and the declared schemas, SELECT on their tables and sequences, now and later (default privileges of the database's and schemas' owners). write: read, INSERT/UPDATE/DELETE/TRUNCATE on tables, USAGE/UPDATE on sequences.",
            }),
          },
          { additionalProperties: false },
        ),
        {
          maxItems: 128,
          description:
            "Who may do what in the database: GRANT for each level; an entry removed or lowered revokes what its old level granted and nothing else.",
        },
      ),
    ),
    behaviour: "access",
    fix: "list {role, level} with distinct roles and level connect, read or write",
  },
  revokePublic: {
    schema: Type.Optional(
      Type.Boolean({
        description:
          "REVOKE CONNECT ON DATABASE ... FROM PUBLIC and REVOKE CREATE ON SCHEMA public FROM PUBLIC: only the owner and the roles in access may connect. false (default) changes nothing.",
      }),
    ),
    behaviour: "access",
  },
  reclaimPolicy: {
    schema: Type.Optional(
      Type.Union([Type.Literal("retain"), Type.Literal("delete")], {
        description: "What deleting the resource does to the database: retain (default) leaves it, delete runs DROP DATABASE.",
      }),
    ),
    behaviour: "policy",
    fix: 'use "retain" (keep the database) or "delete" (drop it)',
  },
  forceDrop: {
    schema: Type.Optional(
      Type.Boolean({
        description:
          "With reclaimPolicy delete: terminate connected sessions, DROP DATABASE ... WITH (FORCE). Without it a database in use is not dropped.",
      }),
    ),
    behaviour: "policy",
  },
  ...adoptionFields("database"),
} satisfies Record<string, Field>;

export type FieldName = keyof typeof FIELDS;
export const FIELD_NAMES = Object.keys(FIELDS) as FieldName[];

const entry = (f: FieldName): Field => FIELDS[f] as Field;
export const behaviourOf = (f: string): Behaviour | undefined => (f in FIELDS ? entry(f as FieldName).behaviour : undefined);

type Fields = typeof FIELDS;
/** The fields of one behaviour. */
export type FieldOf<B extends Behaviour> = { [K in FieldName]: Fields[K]["behaviour"] extends B ? K : never }[FieldName];
/** The fields of one behaviour, in the table's order. */
export const fieldsOf = <B extends Behaviour>(behaviour: B): FieldOf<B>[] =>
  FIELD_NAMES.filter((f) => entry(f).behaviour === behaviour) as FieldOf<B>[];
/** The fields Postgres reports back (the keys ObservedDatabase must have). */
export type ObservedField = FieldOf<ObservedBehaviour>;
/** The fields CREATE DATABASE sets. */
export type CreateField = { [K in FieldName]: Fields[K] extends { createOption: unknown } ? K : never }[FieldName];
/** Fields CREATE DATABASE sets, in the order of its options. */
export const CREATE_FIELDS = FIELD_NAMES.filter((f) => "createOption" in entry(f)) as CreateField[];

/** How a field's spellings are brought to one, if it has more than one. */
export function spellingOf(field: FieldName): Spelling | undefined {
  const e = entry(field);
  return "spelling" in e ? e.spelling : undefined;
}

/** Whether two values of a field mean the same setting: the same JSON, or two spellings of one. */
export function sameValue(field: FieldName, a: unknown, b: unknown): boolean {
  const spelling = spellingOf(field);
  if (spelling && typeof a === "string" && typeof b === "string") return spelling.canonical(a) === spelling.canonical(b);
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Whether a wanted value is what Postgres reports. */
export function sameSetting(field: ObservedField, want: unknown, have: unknown): boolean {
  return sameValue(field, want, have);
}

/** The CREATE DATABASE option clause of a field. */
export function createOptionSql(field: CreateField, value: unknown): string {
  return (FIELDS[field].createOption as (v: unknown) => string)(value);
}

/** The ALTER step that brings a mutable field to `value`. */
export function alterStep(field: FieldOf<"mutable">, database: string, value: unknown): AlterStep {
  return (FIELDS[field].alter as (d: string, v: unknown) => AlterStep)(database, value);
}

/** The SQL of an ALTER step, from the entry of the field it alters. */
export function alterSql(step: AlterStep): string {
  const field = ALTERED_BY[step.kind];
  return (FIELDS[field].alterSql as (d: string, v: unknown) => string)(step.database, (step as Record<string, unknown>)[field]);
}

const ALTERED_BY: Record<AlterStep["kind"], FieldOf<"mutable">> = {
  alterOwner: "owner",
  alterTablespace: "tablespace",
  alterAllowConnections: "allowConnections",
  alterConnectionLimit: "connectionLimit",
  alterIsTemplate: "isTemplate",
};

/** Whether a step is one field's ALTER DATABASE (the field table's mutable fields). */
export function isAlterStep(step: { kind: string }): step is AlterStep {
  return Object.hasOwn(ALTERED_BY, step.kind);
}

/** The field an ALTER step changes: what a failure of it names. */
export function alteredField(step: AlterStep): FieldOf<"mutable"> {
  return ALTERED_BY[step.kind];
}

/** The fix appended to a failure of this field, if it has one. */
export function fixOf(field: string): string | undefined {
  return field in FIELDS ? entry(field as FieldName).fix : undefined;
}
