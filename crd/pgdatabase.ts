// The pgdatabases.my.local CustomResourceDefinition, generated from the core's spec schema so that the API server
// enforces the same shape as the provider, plus CEL rules for immutable fields and cross-field constraints.
import { type PgDatabaseSpec, parseDatabaseSpec, DATABASE_DEFAULTS, databaseSpecJsonSchema } from "../core/database/spec";
import type { FieldFailure } from "../core/errors";
import { databaseBehaviourRules } from "../core/database/behaviours";
import { NOT_ROLES } from "../core/schema";
import { SERVER_FIELD, SERVER_IMMUTABLE_RULE, splitServer } from "./server";
import { celList, customResourceDefinition, GROUP, type Schema, toStructural } from "./structural";
import { DatabaseStatusFields, statusSchema } from "./status";

export { GROUP, VERSION } from "./structural";
export const KIND = "PgDatabase";
export const PLURAL = "pgdatabases";
export const CRD_NAME = `${PLURAL}.${GROUP}`;

const crossFieldRules = [
  {
    rule: "!has(self.forceDrop) || !self.forceDrop || (has(self.reclaimPolicy) && self.reclaimPolicy == 'delete')",
    message: "spec.forceDrop only applies with reclaimPolicy: delete",
  },
  {
    rule: "!has(self.icuLocale) || (has(self.localeProvider) && self.localeProvider == 'icu')",
    message: "spec.icuLocale is only used with localeProvider: icu",
  },
  {
    rule: "!has(self.localeProvider) || self.localeProvider != 'icu' || has(self.icuLocale)",
    message: "spec.localeProvider icu needs spec.icuLocale (for example und)",
  },
  {
    rule: "!(self.name in ['postgres', 'template0', 'template1'])",
    message: "spec.name: postgres, template0 and template1 are system databases and cannot be managed",
  },
  {
    rule: "!has(self.schemas) || self.schemas.all(s, !s.name.startsWith('pg_') && s.name != 'public')",
    message: "spec.schemas: pg_* schemas are the system's, and public is always there (and covered by access); remove them",
  },
  {
    rule: `!has(self.access) || self.access.all(a, !(a.role.lowerAscii() in ${celList(NOT_ROLES)}))`,
    message: "spec.access: name a role; public and current_user are not roles (revokePublic takes access away from everyone)",
  },
  {
    rule: "!has(self.adopt) || !self.adopt || !has(self.adoptFrom)",
    message:
      "spec.adopt and spec.adoptFrom: set one of them (adopt for an unstamped database, adoptFrom to take over from a named manager)",
  },
];

/**
 * A PgDatabase's spec, validated: the core's spec and the server it lives on, each failure naming its field. What
 * the controller acts on.
 */
export function parsePgDatabaseSpec(
  input: Record<string, unknown> | undefined,
): { ok: true; spec: PgDatabaseSpec; server: string } | { ok: false; failures: FieldFailure[] } {
  const { server, rest, failures } = splitServer(input);
  const parsed = parseDatabaseSpec(rest);
  if (!parsed.ok || failures.length > 0) return { ok: false, failures: [...(parsed.ok ? [] : parsed.failures), ...failures] };
  return { ok: true, spec: parsed.spec, server };
}

/** The spec part of the CRD schema: the core's schema, structural, with defaults and CEL rules. */
export function specSchema(): Schema {
  const spec = toStructural(databaseSpecJsonSchema() as Schema);
  const props = spec.properties as Record<string, Schema>;
  for (const [key, value] of Object.entries(DATABASE_DEFAULTS)) props[key] = { ...props[key], default: value };
  // One entry per schema and per role: the API server refuses duplicates, and server-side apply merges by them.
  for (const [list, key] of [
    ["schemas", "name"],
    ["access", "role"],
  ]) {
    props[list] = { ...props[list], "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [key] };
  }
  props.server = toStructural(JSON.parse(JSON.stringify(SERVER_FIELD.server)) as Schema);
  // The behaviours' rules (transition rules of the fields whose change means a new database; core/database/behaviours):
  // on the spec, not on each field, so that a rule also sees its field being added or removed.
  spec["x-kubernetes-validations"] = [SERVER_IMMUTABLE_RULE, ...databaseBehaviourRules(), ...crossFieldRules];
  return spec;
}

/** The whole CustomResourceDefinition object. Pure. */
export function pgDatabaseCrd(): Schema {
  return customResourceDefinition(
    { kind: KIND, plural: PLURAL, singular: "pgdatabase", shortNames: ["pgdb"] },
    "A PostgreSQL database on an existing server, managed by pg-kopf.",
    [
      { name: "Database", type: "string", jsonPath: ".spec.name" },
      { name: "Owner", type: "string", jsonPath: ".spec.owner" },
      { name: "Server", type: "string", jsonPath: ".spec.server", priority: 1 },
    ],
    specSchema(),
    statusSchema(DatabaseStatusFields),
  );
}
