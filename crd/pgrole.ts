// The pgroles.my.local CustomResourceDefinition: the core's role schema plus the fields only the controller has (where
// the credentials Secret goes), converted to Kubernetes' structural schema, with CEL rules that refuse what the core
// refuses, so kubectl says so at once.
import { type Static, Type } from "@sinclair/typebox";
import { nameSchema, schemaFailures } from "../core/schema";
import type { FieldFailure } from "../core/errors";
import {
  type PgRoleSpec,
  PgRoleSpecSchema,
  parseRoleSpec,
  REFUSED_ATTRIBUTES,
  RESERVED_ROLES,
  ROLE_DEFAULTS,
  roleBehaviourRules,
  DatabasesSchema,
  databaseKeys,
  SecretTemplateSchema,
  STANDARD_KEYS,
  templateFailures,
  usesPassword,
  MAX_OWNER_NAME_BYTES,
  memberNameFailures,
} from "../core/role";
import { SERVER_FIELD, SERVER_IMMUTABLE_RULE, splitServer } from "./server";
import { celList, customResourceDefinition, GROUP, type Schema, toStructural } from "./structural";
import { RoleStatusFields, statusSchema } from "./status";

export { GROUP, VERSION } from "./structural";
export const KIND = "PgRole";
export const PLURAL = "pgroles";
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** A Kubernetes object name (DNS subdomain). */
const SECRET_NAME_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/** Kubernetes object names (DNS subdomains) are at most this long. */
const MAX_OBJECT_NAME = 253;
const DEFAULT_SECRET_SUFFIX = "-credentials";

/** Where an app mounting the Secret at `mountPath` finds its ca.crt (undefined without a mount path). */
export function caPathIn(mountPath: string | undefined): string | undefined {
  return mountPath === undefined ? undefined : `${mountPath.replace(/\/+$/, "")}/ca.crt`;
}

/** The credentials Secret's name: spec.secretName, or <metadata.name>-credentials. */
export function secretNameFor(objectName: string, secretName: string | undefined): string {
  return secretName ?? `${objectName}${DEFAULT_SECRET_SUFFIX}`;
}

/** A duration as Kubernetes and Go write them, whole units only: 720h, 1h30m, 90s. */
const DURATION_PATTERN = "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$";
/** Shorter would rotate faster than the role's Secret reaches the pods that read it. */
const MIN_ROTATION_SECONDS = 10;

/** What a previous credential is kept for when spec.twoCredentials.keepPrevious says nothing (or it was removed). */
export const DEFAULT_KEEP_PREVIOUS = "1h";

/** A duration of the spec (rotateEvery, keepPrevious) in milliseconds (undefined when unset). The pattern is checked by the schema. */
export function durationMs(duration: string | undefined): number | undefined {
  if (!duration) return undefined;
  const [, h = "0", m = "0", s = "0"] = /^(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$/.exec(duration) ?? [];
  return ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000;
}

/** The fields a PgRole has beside the core's role spec: where and how its credentials reach apps. */
export const CREDENTIALS_FIELDS = {
  secretName: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: SECRET_NAME_PATTERN,
      description:
        "Name of the Secret (type kubernetes.io/basic-auth, in this namespace) that receives the role's credentials: username, password, host, port, uri, jdbc-uri, pgpass, sslmode, ca.crt, and the keys of secretTemplate. Default <metadata.name>-credentials. Immutable.",
    }),
  ),
  database: Type.Optional(
    nameSchema(
      "The database the credentials point at: the dbname key, the path of uri and jdbc-uri, and the database of the pgpass line (default: none, * in pgpass).",
    ),
  ),
  databases: Type.Optional(DatabasesSchema),
  secretMountPath: Type.Optional(
    Type.String({
      pattern: "^/",
      maxLength: 1024,
      description:
        "Where the apps mount the credentials Secret as a volume (an absolute path): with a server CA, uri and jdbc-uri then carry sslrootcert=<path>/ca.crt, and {{ sslrootcert }} is that path, so a client verifies the server with what the Secret gives it.",
    }),
  ),
  rotateEvery: Type.Optional(
    Type.String({
      pattern: DURATION_PATTERN,
      maxLength: 32,
      description: `Rotate the password on a schedule: a duration such as 720h or 1h30m (h, m, s; at least ${MIN_ROTATION_SECONDS}s), counted from status.credentials.passwordSetAt. Apps that read the password once (environment variables) need a restart after each rotation; a mounted Secret volume follows by itself.`,
    }),
  ),
  secretTemplate: Type.Optional(SecretTemplateSchema),
  twoCredentials: Type.Optional(
    Type.Object(
      {
        keepPrevious: Type.Optional(
          Type.String({
            pattern: DURATION_PATTERN,
            maxLength: 32,
            description: `How long the member apps were pointed at before a rotation keeps logging in (default ${DEFAULT_KEEP_PREVIOUS}, at least ${MIN_ROTATION_SECONDS}s): longer than apps take to read the Secret again (a mounted Secret volume follows within a minute or two; an app that reads it at start needs a restart) and than their connections live. Then it is made NOLOGIN; its open sessions are not ended. A rotation asked before then waits until then.`,
          }),
        ),
      },
      {
        additionalProperties: false,
        description:
          "Two-credential rotation: the role becomes the NOLOGIN owner of everything it owns and is granted, and two login members, <name>_a and <name>_b (INHERIT, with role set to it, so what they create is its own), take turns: a rotation sets a new password on the idle one and points the Secret at it, while the other keeps working for keepPrevious. Removing it switches back to the role logging in itself, the same way. The members are dropped with the role (reclaimPolicy delete).",
      },
    ),
  ),
};
export const CredentialsSchema = Type.Object(CREDENTIALS_FIELDS, { additionalProperties: false });
export type CredentialsSpec = Static<typeof CredentialsSchema>;

/**
 * A PgRole's spec, validated: the core's role spec and the credentials fields, each failure naming its field. What
 * the controller acts on; the CRD's schema and rules refuse the same inputs earlier.
 */
export function parsePgRoleSpec(
  input: Record<string, unknown> | undefined,
  objectName?: string,
): { ok: true; spec: PgRoleSpec; credentials: CredentialsSpec; server: string } | { ok: false; failures: FieldFailure[] } {
  const { server, rest, failures: serverFailures } = splitServer(input);
  const { secretName, database, databases, secretMountPath, secretTemplate, rotateEvery, twoCredentials, ...fields } = rest;
  const credentials = Object.fromEntries(
    Object.entries({ secretName, database, databases, secretMountPath, secretTemplate, rotateEvery, twoCredentials }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  const parsed = parseRoleSpec(fields);
  const failures = [
    ...(parsed.ok ? [] : parsed.failures),
    ...schemaFailures(CredentialsSchema, credentials, () => undefined),
    ...serverFailures,
    ...derivedNameFailures(objectName, parsed.ok && parsed.spec.login, credentials.secretName),
    ...shortDurationFailures("rotateEvery", rotateEvery),
    ...(parsed.ok && twoCredentials !== undefined ? twoCredentialsFailures(parsed.spec, twoCredentials) : []),
    // The schema checks each name and that none is twice; not that the list leaves out spec.database.
    ...(Array.isArray(databases) && databases.includes(database)
      ? [{ field: "databases", message: `"${database}" is spec.database already (it has the plain keys): name each database once` }]
      : []),
    ...(parsed.ok && typeof secretTemplate === "object" && secretTemplate !== null
      ? templateFailures(secretTemplate as Record<string, string>, {
          field: "secretTemplate",
          hasPassword: usesPassword(parsed.spec),
          reserved: [...STANDARD_KEYS, ...(Array.isArray(databases) ? databaseKeys(databases as string[]) : [])],
          ...(secretMountPath === undefined ? { noMountPath: "secretMountPath" } : {}),
        })
      : []),
  ];
  if (!parsed.ok || failures.length > 0) return { ok: false, failures };
  return { ok: true, spec: parsed.spec, credentials: credentials as CredentialsSpec, server };
}

/** A rotation's duration (rotateEvery, keepPrevious) checked where no schema does (the Pulumi inputs): its form and its least. */
export function rotationDurationFailures(field: string, duration: unknown): FieldFailure[] {
  if (duration === undefined) return [];
  if (typeof duration !== "string" || !new RegExp(DURATION_PATTERN).test(duration))
    return [{ field, message: `${JSON.stringify(duration)} is not a duration: use whole h, m and s, such as 720h or 1h30m` }];
  return shortDurationFailures(field, duration);
}

/** A duration the schema's pattern accepts that is shorter than the least a rotation's timing allows. */
function shortDurationFailures(field: string, duration: unknown): FieldFailure[] {
  if (typeof duration !== "string" || !new RegExp(DURATION_PATTERN).test(duration)) return [];
  if ((durationMs(duration) ?? 0) >= MIN_ROTATION_SECONDS * 1000) return [];
  return [{ field, message: `"${duration}" is shorter than ${MIN_ROTATION_SECONDS}s (or empty); use a duration such as 720h` }];
}

/** Two-credential rotation needs a password role that logs in, with a name that leaves room for its members'. */
function twoCredentialsFailures(spec: PgRoleSpec, twoCredentials: unknown): FieldFailure[] {
  const keep = (twoCredentials as { keepPrevious?: unknown } | null)?.keepPrevious;
  const refusal = !spec.login
    ? "a role that does not log in has no credentials to rotate; remove twoCredentials, or login: false"
    : !usesPassword(spec)
      ? "a Kerberos role has no password to rotate; remove twoCredentials, or authentication: kerberos"
      : undefined;
  return [
    ...(refusal ? [{ field: "twoCredentials", message: refusal }] : []),
    ...memberNameFailures("name", spec.name),
    ...shortDurationFailures("twoCredentials.keepPrevious", keep),
  ];
}

/**
 * The names the controller derives from the object, checked with the spec (the CRD's DEFAULT_SECRET_NAME_RULE
 * refuses the same on admission): a default Secret name the API server would refuse fails here, naming the fix.
 */
function derivedNameFailures(objectName: string | undefined, login: boolean, secretName: unknown): FieldFailure[] {
  if (objectName === undefined || !login || secretName !== undefined) return [];
  const derived = secretNameFor(objectName, undefined);
  if (derived.length <= MAX_OBJECT_NAME) return [];
  return [
    {
      field: "secretName",
      message: `the default Secret name (metadata.name + "${DEFAULT_SECRET_SUFFIX}") is ${derived.length} characters and Kubernetes names are at most ${MAX_OBJECT_NAME}: set spec.secretName, or use a metadata.name of at most ${MAX_OBJECT_NAME - DEFAULT_SECRET_SUFFIX.length} characters`,
    },
  ];
}

/**
 * spec.secretName is fixed once credentials were delivered there (apps read the Secret by name), and free until then:
 * a name refused as SecretNotOwned can be changed, as that message advises. On the whole object, as it reads the
 * status.
 */
const SECRET_NAME_IMMUTABLE_RULE = {
  rule:
    "!has(oldSelf.status) || !has(oldSelf.status.credentials) || " +
    "(has(self.spec.secretName) ? self.spec.secretName : '') == (has(oldSelf.spec.secretName) ? oldSelf.spec.secretName : '')",
  message:
    "spec.secretName is immutable once credentials were delivered (status.credentials): apps read the Secret by name. Delete the Secret to rotate the password; create a new PgRole to move it.",
};

/** A rule on the whole object (it reads metadata.name): derivedNameFailures, on admission. */
const DEFAULT_SECRET_NAME_RULE = {
  rule: `!self.spec.login || has(self.spec.secretName) || size(self.metadata.name) <= ${MAX_OBJECT_NAME - DEFAULT_SECRET_SUFFIX.length}`,
  message: `spec.secretName: the default Secret name (metadata.name + "${DEFAULT_SECRET_SUFFIX}") would pass ${MAX_OBJECT_NAME} characters: set spec.secretName, or use a metadata.name of at most ${MAX_OBJECT_NAME - DEFAULT_SECRET_SUFFIX.length} characters`,
};

const rules = [
  SERVER_IMMUTABLE_RULE,
  {
    rule: "self.name == oldSelf.name",
    message: "spec.name is immutable: the role's grants, objects and logins belong to it. Create a new PgRole and move to it.",
  },
  ...Object.entries(REFUSED_ATTRIBUTES).map(([field, why]) => ({
    rule: `!has(self.${field})`,
    message: `spec.${field} is not supported: ${why}`,
  })),
  {
    rule: `!self.name.startsWith('pg_') && !(self.name.lowerAscii() in ${celList(RESERVED_ROLES)})`,
    message: `spec.name: names starting with pg_ and ${RESERVED_ROLES.join(", ")} are reserved; choose another name`,
  },
  // Memberships and settings: their behaviours' rules (core/role/behaviours).
  ...roleBehaviourRules(),
  {
    rule: `!has(self.rotateEvery) || (self.rotateEvery != '' && duration(self.rotateEvery) >= duration('${MIN_ROTATION_SECONDS}s'))`,
    message: `spec.rotateEvery: use a duration of at least ${MIN_ROTATION_SECONDS}s, such as 720h`,
  },
  {
    rule: `!has(self.twoCredentials) || !has(self.twoCredentials.keepPrevious) || (self.twoCredentials.keepPrevious != '' && duration(self.twoCredentials.keepPrevious) >= duration('${MIN_ROTATION_SECONDS}s'))`,
    message: `spec.twoCredentials.keepPrevious: use a duration of at least ${MIN_ROTATION_SECONDS}s, such as 1h`,
  },
  {
    rule: "!has(self.twoCredentials) || (self.login && (!has(self.authentication) || self.authentication == 'password'))",
    message:
      "spec.twoCredentials: only a role that logs in with a password has credentials to rotate; remove twoCredentials, login: false or authentication: kerberos",
  },
  {
    rule: `!has(self.twoCredentials) || size(self.name) <= ${MAX_OWNER_NAME_BYTES}`,
    message: `spec.name: with twoCredentials the role's members are <name>_a and <name>_b, so the name may have at most ${MAX_OWNER_NAME_BYTES} characters`,
  },
  {
    rule: "!has(self.databases) || !has(self.database) || !(self.database in self.databases)",
    message: "spec.databases names spec.database again: name each database once (spec.database has the plain keys)",
  },
  {
    rule: "!has(self.reassignOwnedTo) || (self.reclaimPolicy == 'delete' && self.reassignOwnedTo != self.name)",
    message: "spec.reassignOwnedTo only applies with reclaimPolicy: delete, and names the role that receives the objects (not this one)",
  },
  {
    rule: "!has(self.adopt) || !self.adopt || !has(self.adoptFrom)",
    message: "spec.adopt and spec.adoptFrom: set one of them (adopt for an unstamped role, adoptFrom to take over from a named manager)",
  },
];

/** The spec part of the CRD schema: the core's schema and the credentials fields, structural, with defaults and rules. */
export function roleSpecSchema(): Schema {
  const spec = toStructural(
    JSON.parse(JSON.stringify(Type.Composite([PgRoleSpecSchema, CredentialsSchema, Type.Object(SERVER_FIELD)]))) as Schema,
  );
  const props = spec.properties as Record<string, Schema>;
  for (const [key, value] of Object.entries(ROLE_DEFAULTS)) props[key] = { ...props[key], default: value };
  // Declared so that the rules above can refuse them with the reason; unknown fields would be pruned silently.
  for (const field of Object.keys(REFUSED_ATTRIBUTES))
    props[field] = { type: "boolean", description: `Not supported: ${REFUSED_ATTRIBUTES[field]}.` };
  spec["x-kubernetes-validations"] = rules;
  return spec;
}

/** The whole CustomResourceDefinition object. Pure. */
export function pgRoleCrd(): Schema {
  return customResourceDefinition(
    { kind: KIND, plural: PLURAL, singular: "pgrole", shortNames: ["pgr"] },
    "A PostgreSQL role on an existing server, managed by pg-kopf, with its credentials in a Secret.",
    [
      { name: "Role", type: "string", jsonPath: ".spec.name" },
      { name: "Server", type: "string", jsonPath: ".spec.server", priority: 1 },
      { name: "Secret", type: "string", jsonPath: ".status.credentials.secretName" },
    ],
    roleSpecSchema(),
    statusSchema(RoleStatusFields),
    { rules: [DEFAULT_SECRET_NAME_RULE, SECRET_NAME_IMMUTABLE_RULE] },
  );
}
