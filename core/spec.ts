// PgDatabaseSpec: the one schema for a database, shared by the Pulumi provider and the CRD, and its validation
// into a normalized spec or a list of failures that name the field and the fix.
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { FieldFailure } from "./errors";

// Postgres names are at most 63 bytes (NAMEDATALEN - 1). We also keep them to a conservative character set:
// everything is quoted by the driver anyway, but names a human can type in psql avoid whole classes of mistakes.
const NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_$-]*$";
const ROLE_PATTERN = "^[A-Za-z_][A-Za-z0-9_$.@-]*$";
const LOCALE_PATTERN = "^[A-Za-z0-9_.@-]+$";
const EXTENSION_PATTERN = "^[a-z_][a-z0-9_-]*$";
export const MAX_NAME_BYTES = 63;

export const RESERVED_DATABASES: readonly string[] = ["postgres", "template0", "template1"];

/** The server encodings Postgres accepts for CREATE DATABASE ... ENCODING (client-only encodings are excluded). */
export const SERVER_ENCODINGS: readonly string[] = [
  "SQL_ASCII", "UTF8", "EUC_JP", "EUC_CN", "EUC_KR", "EUC_TW", "EUC_JIS_2004", "MULE_INTERNAL",
  "LATIN1", "LATIN2", "LATIN3", "LATIN4", "LATIN5", "LATIN6", "LATIN7", "LATIN8", "LATIN9", "LATIN10",
  "WIN866", "WIN874", "WIN1250", "WIN1251", "WIN1252", "WIN1253", "WIN1254", "WIN1255", "WIN1256", "WIN1257",
  "WIN1258", "KOI8R", "KOI8U", "ISO_8859_5", "ISO_8859_6", "ISO_8859_7", "ISO_8859_8",
];

const name = (description: string) =>
  Type.String({ minLength: 1, maxLength: MAX_NAME_BYTES, pattern: NAME_PATTERN, description });

/**
 * The schema. Every description names the SQL the field maps to; the CRD's OpenAPI schema is generated from it
 * (see crdSchema), so the API server and the provider enforce the same shape.
 */
export const PgDatabaseSpecSchema = Type.Object(
  {
    name: name(
      "Name of the database: the identifier of CREATE DATABASE. 1-63 bytes of letters, digits, _, $ or -, " +
        "starting with a letter or _. Immutable.",
    ),
    owner: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MAX_NAME_BYTES,
        pattern: ROLE_PATTERN,
        description: "Role that owns the database: OWNER of CREATE DATABASE, ALTER DATABASE ... OWNER TO. The role must exist.",
      }),
    ),
    encoding: Type.Optional(
      Type.String({ minLength: 1, description: "Character set: ENCODING of CREATE DATABASE, e.g. UTF8. Immutable." }),
    ),
    lcCollate: Type.Optional(
      Type.String({ minLength: 1, pattern: LOCALE_PATTERN, description: "String sort order: LC_COLLATE of CREATE DATABASE. Immutable." }),
    ),
    lcCtype: Type.Optional(
      Type.String({ minLength: 1, pattern: LOCALE_PATTERN, description: "Character classification: LC_CTYPE of CREATE DATABASE. Immutable." }),
    ),
    localeProvider: Type.Optional(
      Type.Union([Type.Literal("libc"), Type.Literal("icu")], {
        description: "Collation provider: LOCALE_PROVIDER of CREATE DATABASE (libc or icu). Immutable.",
      }),
    ),
    icuLocale: Type.Optional(
      Type.String({ minLength: 1, pattern: LOCALE_PATTERN, description: "ICU locale when localeProvider is icu: ICU_LOCALE of CREATE DATABASE. Immutable." }),
    ),
    template: Type.Optional(
      name("Database to copy: TEMPLATE of CREATE DATABASE (template0 is needed for an encoding or locale other than template1's). Used only at creation."),
    ),
    tablespace: Type.Optional(
      name("Default tablespace: TABLESPACE of CREATE DATABASE, ALTER DATABASE ... SET TABLESPACE (moves the data; needs no sessions)."),
    ),
    connectionLimit: Type.Optional(
      Type.Integer({ minimum: -1, description: "Maximum concurrent connections, -1 for no limit: CONNECTION LIMIT of CREATE/ALTER DATABASE." }),
    ),
    allowConnections: Type.Optional(
      Type.Boolean({ description: "Whether anyone can connect: ALLOW_CONNECTIONS of CREATE/ALTER DATABASE." }),
    ),
    isTemplate: Type.Optional(
      Type.Boolean({ description: "Whether the database can be cloned as a template: IS_TEMPLATE of CREATE/ALTER DATABASE." }),
    ),
    extensions: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: MAX_NAME_BYTES, pattern: EXTENSION_PATTERN }), {
        uniqueItems: true,
        maxItems: 64,
        description:
          "Extensions to install: CREATE EXTENSION IF NOT EXISTS, run inside the database. " +
          "Removing one from the list leaves it installed (dropping an extension can drop data).",
      }),
    ),
    reclaimPolicy: Type.Optional(
      Type.Union([Type.Literal("retain"), Type.Literal("delete")], {
        description: "What deleting the resource does to the database: retain (default) leaves it, delete runs DROP DATABASE.",
      }),
    ),
    forceDrop: Type.Optional(
      Type.Boolean({
        description: "With reclaimPolicy delete: terminate connected sessions, DROP DATABASE ... WITH (FORCE). Without it a database in use is not dropped.",
      }),
    ),
    adopt: Type.Optional(
      Type.Boolean({
        description: "Take over a database that exists but was not created by this manager (stamps it via COMMENT ON DATABASE).",
      }),
    ),
  },
  { additionalProperties: false },
);

export type PgDatabaseSpecInput = Static<typeof PgDatabaseSpecSchema>;

/**
 * Defaults of the optional policy fields. Kept out of the schema objects themselves: Pulumi's closure serializer
 * mistakes an object with a string `default` property for a module namespace and fails (see docs/adr).
 */
export const SPEC_DEFAULTS = { reclaimPolicy: "retain", forceDrop: false, adopt: false } as const;

/** A validated spec: defaults applied, encoding in its canonical spelling. */
export type PgDatabaseSpec = PgDatabaseSpecInput & {
  readonly reclaimPolicy: "retain" | "delete";
  readonly forceDrop: boolean;
  readonly adopt: boolean;
};

/** The fields CREATE DATABASE fixes forever; a change means a new database. */
export const IMMUTABLE_FIELDS = ["name", "encoding", "lcCollate", "lcCtype", "localeProvider", "icuLocale", "template"] as const;
export type ImmutableField = (typeof IMMUTABLE_FIELDS)[number];

export type ParseResult = { ok: true; spec: PgDatabaseSpec } | { ok: false; failures: FieldFailure[] };

const fixes: Record<string, string> = {
  name: "use 1-63 bytes of letters, digits, _, $ or -, starting with a letter or _",
  owner: "use an existing role name: letters, digits, _, $, ., @ or -, at most 63 bytes",
  template: "name an existing database, e.g. template0",
  tablespace: "name an existing tablespace",
  lcCollate: "use a locale the server has, e.g. C, C.UTF-8 or en_US.UTF-8",
  lcCtype: "use a locale the server has, e.g. C, C.UTF-8 or en_US.UTF-8",
  icuLocale: "use an ICU locale, e.g. und or en-US",
  connectionLimit: "use -1 for no limit, or 0 or more",
  extensions: "list distinct extension names in lower case, e.g. [pgcrypto, citext]",
  reclaimPolicy: 'use "retain" (keep the database) or "delete" (drop it)',
  localeProvider: 'use "libc" or "icu"',
};

/** Canonical spelling of an encoding as Postgres reports it, or undefined if Postgres has no such server encoding. */
export function canonicalEncoding(value: string): string | undefined {
  // Postgres itself ignores case and punctuation when matching encoding names (utf-8 == UTF8).
  const key = value.toUpperCase().replace(/[^A-Z0-9]/g, "");
  return SERVER_ENCODINGS.find((e) => e.replace(/[^A-Z0-9]/g, "") === key);
}

/**
 * Validates any value as a PgDatabaseSpec. Pure; never throws. Failures name the field (dotted path) and the fix.
 */
export function parseSpec(input: unknown): ParseResult {
  const failures: FieldFailure[] = [];
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, failures: [{ field: "spec", message: "expected an object with at least a name" }] };
  }
  for (const error of Value.Errors(PgDatabaseSpecSchema, input)) {
    const field = error.path.replace(/^\//, "").replace(/\//g, ".") || "spec";
    const top = field.split(".")[0];
    if (failures.some((f) => f.field === field)) continue; // one message per field is enough
    let message = error.message;
    if (field !== "spec" && !(top in PgDatabaseSpecSchema.properties)) {
      message = `unknown field; known fields are ${Object.keys(PgDatabaseSpecSchema.properties).join(", ")}`;
    } else if (fixes[top]) {
      message = `${error.message}: ${fixes[top]}`;
    }
    failures.push({ field, message });
  }
  const raw = input as Record<string, unknown>;
  for (const key of ["name", "owner", "template", "tablespace"] as const) {
    const v = raw[key];
    if (typeof v === "string" && Buffer.byteLength(v, "utf8") > MAX_NAME_BYTES && !failures.some((f) => f.field === key)) {
      failures.push({ field: key, message: `is ${Buffer.byteLength(v, "utf8")} bytes; Postgres names are at most 63 bytes` });
    }
  }
  if (typeof raw.name === "string" && RESERVED_DATABASES.includes(raw.name)) {
    failures.push({ field: "name", message: `"${raw.name}" is a system database and cannot be managed; choose another name` });
  }
  let encoding: string | undefined;
  if (typeof raw.encoding === "string") {
    encoding = canonicalEncoding(raw.encoding);
    if (!encoding) {
      failures.push({ field: "encoding", message: `unknown encoding "${raw.encoding}"; use a server encoding such as UTF8, LATIN1 or SQL_ASCII` });
    }
  }
  if (raw.icuLocale !== undefined && raw.localeProvider !== "icu") {
    failures.push({ field: "icuLocale", message: 'is only used with localeProvider "icu"; set localeProvider: icu or remove icuLocale' });
  }
  if (raw.localeProvider === "icu" && raw.icuLocale === undefined) {
    failures.push({ field: "localeProvider", message: 'icu needs icuLocale (for example "und"); set icuLocale or use "libc"' });
  }
  if (raw.forceDrop === true && raw.reclaimPolicy !== "delete") {
    failures.push({ field: "forceDrop", message: 'only applies with reclaimPolicy "delete"; set reclaimPolicy: delete or remove forceDrop' });
  }
  if (failures.length > 0) return { ok: false, failures };

  const spec = {
    ...(raw as PgDatabaseSpecInput),
    reclaimPolicy: (raw.reclaimPolicy as "retain" | "delete" | undefined) ?? SPEC_DEFAULTS.reclaimPolicy,
    forceDrop: (raw.forceDrop as boolean | undefined) ?? SPEC_DEFAULTS.forceDrop,
    adopt: (raw.adopt as boolean | undefined) ?? SPEC_DEFAULTS.adopt,
  } as PgDatabaseSpec;
  if (encoding) (spec as { encoding?: string }).encoding = encoding;
  return { ok: true, spec };
}

/**
 * The schema as plain JSON Schema, without TypeBox's symbols and defaults on optional fields that Kubernetes would
 * materialize into every stored object. Used to generate the CRD.
 */
export function specJsonSchema(): TSchema {
  return JSON.parse(JSON.stringify(PgDatabaseSpecSchema)) as TSchema;
}
