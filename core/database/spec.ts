// PgDatabaseSpec: the one schema for a database, shared by the Pulumi provider and the CRD, and its validation
// into a normalized spec or a list of failures that name the field and the fix.
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { ENCODING_SPELLING, FIELDS, FIELD_NAMES, fixOf, type FieldName } from "./fields";
import { MAX_NAME_BYTES, NOT_ROLES, schemaFailures } from "../schema";
import { databaseBehaviourFailures } from "./behaviours";
import type { FieldFailure } from "../errors";

export const RESERVED_DATABASES: readonly string[] = ["postgres", "template0", "template1"];

/** The server encodings Postgres accepts for CREATE DATABASE ... ENCODING (client-only encodings are excluded). */
export const SERVER_ENCODINGS: readonly string[] = [
  "SQL_ASCII",
  "UTF8",
  "EUC_JP",
  "EUC_CN",
  "EUC_KR",
  "EUC_TW",
  "EUC_JIS_2004",
  "MULE_INTERNAL",
  "LATIN1",
  "LATIN2",
  "LATIN3",
  "LATIN4",
  "LATIN5",
  "LATIN6",
  "LATIN7",
  "LATIN8",
  "LATIN9",
  "LATIN10",
  "WIN866",
  "WIN874",
  "WIN1250",
  "WIN1251",
  "WIN1252",
  "WIN1253",
  "WIN1254",
  "WIN1255",
  "WIN1256",
  "WIN1257",
  "WIN1258",
  "KOI8R",
  "KOI8U",
  "ISO_8859_5",
  "ISO_8859_6",
  "ISO_8859_7",
  "ISO_8859_8",
];

type SchemaProperties = { [K in FieldName]: (typeof FIELDS)[K]["schema"] };

/**
 * The schema, built from the field table (core/database/fields). Every description names the SQL the field maps to; the
 * CRD's OpenAPI schema is generated from it (see crdSchema), so the API server and the provider enforce the same shape.
 */
export const PgDatabaseSpecSchema = Type.Object(Object.fromEntries(FIELD_NAMES.map((f) => [f, FIELDS[f].schema])) as SchemaProperties, {
  additionalProperties: false,
});

export type PgDatabaseSpecInput = Static<typeof PgDatabaseSpecSchema>;

/**
 * Defaults of the optional policy fields. Kept out of the schema objects themselves: Pulumi's closure serializer
 * mistakes an object with a string `default` property for a module namespace and fails (see docs/adr).
 */
export const DATABASE_DEFAULTS = { reclaimPolicy: "retain", forceDrop: false, adopt: false } as const;

/** A validated spec: defaults applied, encoding in its canonical spelling. */
export type PgDatabaseSpec = PgDatabaseSpecInput & {
  readonly reclaimPolicy: "retain" | "delete";
  readonly forceDrop: boolean;
  readonly adopt: boolean;
};

export type DatabaseParseResult = { ok: true; spec: PgDatabaseSpec } | { ok: false; failures: FieldFailure[] };

/** Canonical spelling of an encoding as Postgres reports it, or undefined if Postgres has no such server encoding. */
export function canonicalEncoding(value: string): string | undefined {
  const key = ENCODING_SPELLING.canonical(value);
  return SERVER_ENCODINGS.find((e) => ENCODING_SPELLING.canonical(e) === key);
}

/** Duplicate or reserved names in schemas and access: each would make two entries fight over one object. */
function accessFailures(schemas: unknown[], roles: unknown[]): FieldFailure[] {
  const failures: FieldFailure[] = [];
  for (const [i, name] of schemas.entries()) {
    if (typeof name !== "string") continue;
    if (name.startsWith("pg_"))
      failures.push({ field: `schemas.${i}.name`, message: `"${name}": pg_* schemas are the system's; choose another name` });
    if (name === "public")
      failures.push({ field: `schemas.${i}.name`, message: "public exists in every database and is always covered by access; remove it" });
    if (schemas.indexOf(name) !== i)
      failures.push({ field: `schemas.${i}.name`, message: `"${name}" is listed twice; list each schema once` });
  }
  for (const [i, role] of roles.entries()) {
    if (typeof role !== "string") continue;
    if (NOT_ROLES.includes(role.toLowerCase()))
      failures.push({
        field: `access.${i}.role`,
        message: `"${role}" is not a role; name the role (revokePublic takes access away from everyone)`,
      });
    if (roles.indexOf(role) !== i)
      failures.push({ field: `access.${i}.role`, message: `"${role}" is listed twice; give each role one level` });
  }
  return failures;
}

/**
 * Validates any value as a PgDatabaseSpec. Pure; never throws. Failures name the field (dotted path) and the fix.
 */
export function parseDatabaseSpec(input: unknown): DatabaseParseResult {
  const failures: FieldFailure[] = [];
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, failures: [{ field: "spec", message: "expected an object with at least a name" }] };
  }
  failures.push(...schemaFailures(PgDatabaseSpecSchema, input, fixOf));
  const raw = input as Record<string, unknown>;
  // Each behaviour's own checks (./behaviours); the ones below span fields.
  failures.push(...databaseBehaviourFailures(raw));
  // The schema counts characters; Postgres counts bytes (and would silently truncate a longer name).
  const names: [string, unknown][] = [
    ["name", raw.name],
    ["owner", raw.owner],
    ["template", raw.template],
    ["tablespace", raw.tablespace],
  ];
  if (Array.isArray(raw.extensions)) for (const [i, e] of raw.extensions.entries()) names.push([`extensions.${i}`, e]);
  const listed = (field: string, key: string): unknown[] =>
    Array.isArray(raw[field])
      ? (raw[field] as unknown[]).map((e) => (typeof e === "object" && e !== null ? (e as Record<string, unknown>)[key] : undefined))
      : [];
  for (const [i, v] of listed("schemas", "name").entries()) names.push([`schemas.${i}.name`, v]);
  for (const [i, v] of listed("schemas", "owner").entries()) names.push([`schemas.${i}.owner`, v]);
  for (const [i, v] of listed("access", "role").entries()) names.push([`access.${i}.role`, v]);
  failures.push(...accessFailures(listed("schemas", "name"), listed("access", "role")));
  for (const [key, v] of names) {
    if (typeof v === "string" && Buffer.byteLength(v, "utf8") > MAX_NAME_BYTES && !failures.some((f) => f.field === key)) {
      failures.push({ field: key, message: `is ${Buffer.byteLength(v, "utf8")} bytes; Postgres names are at most 63 bytes: shorten it` });
    }
  }
  if (typeof raw.name === "string" && RESERVED_DATABASES.includes(raw.name)) {
    failures.push({ field: "name", message: `"${raw.name}" is a system database and cannot be managed; choose another name` });
  }
  let encoding: string | undefined;
  if (typeof raw.encoding === "string") {
    encoding = canonicalEncoding(raw.encoding);
    if (!encoding) {
      failures.push({
        field: "encoding",
        message: `unknown encoding "${raw.encoding}"; use a server encoding such as UTF8, LATIN1 or SQL_ASCII`,
      });
    }
  }
  if (raw.icuLocale !== undefined && raw.localeProvider !== "icu") {
    failures.push({ field: "icuLocale", message: 'is only used with localeProvider "icu"; set localeProvider: icu or remove icuLocale' });
  }
  if (raw.localeProvider === "icu" && raw.icuLocale === undefined) {
    failures.push({ field: "localeProvider", message: 'icu needs icuLocale (for example "und"); set icuLocale or use "libc"' });
  }
  if (raw.adopt === true && raw.adoptFrom !== undefined) {
    failures.push({
      field: "adoptFrom",
      message: "takes over from a named manager; adopt takes over an unstamped database: set one of them",
    });
  }
  if (raw.forceDrop === true && raw.reclaimPolicy !== "delete") {
    failures.push({
      field: "forceDrop",
      message: 'only applies with reclaimPolicy "delete"; set reclaimPolicy: delete or remove forceDrop',
    });
  }
  if (failures.length > 0) return { ok: false, failures };

  const spec = {
    ...(raw as PgDatabaseSpecInput),
    reclaimPolicy: (raw.reclaimPolicy as "retain" | "delete" | undefined) ?? DATABASE_DEFAULTS.reclaimPolicy,
    forceDrop: (raw.forceDrop as boolean | undefined) ?? DATABASE_DEFAULTS.forceDrop,
    adopt: (raw.adopt as boolean | undefined) ?? DATABASE_DEFAULTS.adopt,
  } as PgDatabaseSpec;
  if (encoding) (spec as { encoding?: string }).encoding = encoding;
  return { ok: true, spec };
}

/**
 * The schema as plain JSON Schema, without TypeBox's symbols and defaults on optional fields that Kubernetes would
 * materialize into every stored object. Used to generate the CRD.
 */
export function databaseSpecJsonSchema(): TSchema {
  return JSON.parse(JSON.stringify(PgDatabaseSpecSchema)) as TSchema;
}
