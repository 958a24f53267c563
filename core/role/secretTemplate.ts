// A PgRole's secretTemplate: keys of its credentials Secret in the shape an app reads (DATABASE_URL,
// SPRING_DATASOURCE_URL…), built from the connection's parts with {{ placeholder }}. A few lines of substitution
// rather than a template library: the logic-less ones (mustache, handlebars' subset) still bring sections, partials
// and HTML escaping, none of which a connection string wants, and none encodes a value for where it sits in a URI,
// which is the one thing that must be right here. Nothing in a spec is ever run.
import { Type } from "@sinclair/typebox";
import type { FieldFailure } from "../errors";

/** The connection's parts a template may use. */
export const TEMPLATE_PARTS = [
  "username",
  "password",
  "host",
  "port",
  "dbname",
  "sslmode",
  "sslrootcert",
  "direct_host",
  "direct_port",
] as const;
export type TemplatePart = (typeof TEMPLATE_PARTS)[number];
export type ConnectionParts = Partial<Record<TemplatePart, string>> & { readonly username: string };

/** The keys pg-kopf writes itself: a template may not name them. */
export const STANDARD_KEYS = [
  "username",
  "password",
  "host",
  "port",
  "dbname",
  "uri",
  "jdbc-uri",
  "pgpass",
  "sslmode",
  "ca.crt",
  "gssencmode",
  "krbsrvname",
  "direct-host",
  "direct-port",
  "direct-uri",
  "direct-jdbc-uri",
  "direct-pgpass",
] as const;

/** Each part also as `<part>_urlencoded`: percent-encoded, for a URI inside a value that is not one itself. */
const ENCODED = "_urlencoded";
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
/** A value that is a URI (postgresql://…, jdbc:postgresql://…): its placeholders are percent-encoded. */
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:/;
/** A Secret's data key (Kubernetes' rule). */
const SECRET_KEY = "^[-._a-zA-Z0-9]+$";
const MAX_KEYS = 32;

export const SecretTemplateSchema = Type.Record(Type.String({ pattern: SECRET_KEY, maxLength: 253 }), Type.String({ maxLength: 4096 }), {
  maxProperties: MAX_KEYS,
  description: `More keys of the credentials Secret, each a text with placeholders: {{ ${TEMPLATE_PARTS.join(" }}, {{ ")} }}, and each as {{ <part>${ENCODED} }}. In a value that is a URI (it starts with a scheme, such as postgresql: or jdbc:postgresql:) every placeholder is percent-encoded where it sits; elsewhere only the ${ENCODED} ones are. E.g. DATABASE_URL: "postgresql://{{ username }}:{{ password }}@{{ host }}:{{ port }}/{{ dbname }}?sslmode={{ sslmode }}".`,
});

/**
 * What is wrong with a template, each failure naming its key: an unknown placeholder, a password in a role that has
 * none (Kerberos), a brace left over, a key pg-kopf writes itself.
 */
export function templateFailures(
  template: Record<string, string> | undefined,
  options: {
    readonly field: string;
    readonly hasPassword: boolean;
    readonly reserved: readonly string[];
    /** Where the Secret is mounted is not said: {{ sslrootcert }} would be empty; the field that says it. */
    readonly noMountPath?: string;
  },
): FieldFailure[] {
  const failures: FieldFailure[] = [];
  for (const [key, value] of Object.entries(template ?? {})) {
    const field = `${options.field}.${key}`;
    if (options.reserved.includes(key)) {
      failures.push({ field, message: `is a key pg-kopf writes itself (${options.reserved.join(", ")}); name it otherwise` });
      continue;
    }
    for (const [, name] of value.matchAll(PLACEHOLDER)) {
      const part = partOf(name);
      if (!part)
        failures.push({
          field,
          message: `{{ ${name} }} is not a placeholder; use ${TEMPLATE_PARTS.map((p) => `{{ ${p} }}`).join(", ")} (or <part>${ENCODED})`,
        });
      else if (part === "sslrootcert" && options.noMountPath)
        failures.push({
          field,
          message: `{{ ${name} }} is the path of ca.crt where apps mount this Secret: set ${options.noMountPath}, or remove it`,
        });
      else if (part === "password" && !options.hasPassword)
        failures.push({
          field,
          message: "{{ password }}: this role has no password (authentication kerberos); remove it from the template",
        });
    }
    if (/\{\{|\}\}/.test(value.replace(PLACEHOLDER, "")))
      failures.push({ field, message: "has a {{ or }} that is not a placeholder: write placeholders as {{ name }}" });
  }
  return failures;
}

/** The keys each further database of a Secret gets, under `<database>.`: where it is, not who. */
export const PER_DATABASE_KEYS = ["dbname", "uri", "jdbc-uri", "pgpass"] as const;
const MAX_DATABASES = 32;

export const DatabasesSchema = Type.Array(Type.String({ minLength: 1, maxLength: 63, pattern: SECRET_KEY }), {
  uniqueItems: true,
  maxItems: MAX_DATABASES,
  description: `More databases the credentials point at, each with its own keys ${PER_DATABASE_KEYS.map((k) => `<database>.${k}`).join(", ")} (the database named by database keeps the plain keys). A name of letters, digits, -, _ and . (it prefixes Secret keys), each once, not database again.`,
});

/** The Secret keys of the further databases, so that a template cannot take one of them. */
export function databaseKeys(databases: readonly string[] | undefined): string[] {
  return (databases ?? []).flatMap((db) => PER_DATABASE_KEYS.map((k) => `${db}.${k}`));
}

/**
 * What is wrong with the further databases a Secret points at (DatabasesSchema, for callers without the schema's
 * check): each becomes a key prefix (<database>.uri), so a Secret key's characters only, each once, and not the main
 * database again.
 */
export function databasesFailures(database: unknown, databases: unknown, field: string): FieldFailure[] {
  if (databases === undefined) return [];
  if (!Array.isArray(databases) || databases.length > MAX_DATABASES)
    return [{ field: `${field}.databases`, message: `expected a list of at most ${MAX_DATABASES} database names` }];
  return databases.flatMap((db, i): FieldFailure[] => {
    const at = `${field}.databases[${i}]`;
    if (typeof db !== "string" || !new RegExp(SECRET_KEY).test(db) || db.length > 63)
      return [
        { field: at, message: `${JSON.stringify(db)} cannot prefix Secret keys: use a database name of letters, digits, -, _ and .` },
      ];
    if (db === database || databases.indexOf(db) !== i)
      return [{ field: at, message: `"${db}" is named twice (database or databases): name each database once` }];
    return [];
  });
}

function partOf(name: string): TemplatePart | undefined {
  const base = name.endsWith(ENCODED) ? name.slice(0, -ENCODED.length) : name;
  return (TEMPLATE_PARTS as readonly string[]).includes(base) ? (base as TemplatePart) : undefined;
}

/** A value percent-encoded for a URI; a host keeps its dots and, an IPv6 address, gets its brackets. */
function encoded(part: TemplatePart, value: string): string {
  if (part === "host" || part === "direct_host") return value.includes(":") ? `[${value}]` : encodeURIComponent(value);
  return encodeURIComponent(value);
}

/** The template's keys with the parts put in (a part the connection lacks, such as dbname, is empty). Pure. */
export function renderTemplate(template: Record<string, string> | undefined, parts: ConnectionParts): Record<string, string> {
  return Object.fromEntries(
    Object.entries(template ?? {}).map(([key, value]) => {
      const inUri = URI.test(value);
      return [
        key,
        value.replace(PLACEHOLDER, (_, name: string) => {
          const part = partOf(name) as TemplatePart;
          const raw = parts[part] ?? "";
          return inUri || name.endsWith(ENCODED) ? encoded(part, raw) : raw;
        }),
      ];
    }),
  );
}
