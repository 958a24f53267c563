// The pgdatabases.my.local CustomResourceDefinition, generated from the core's spec schema so that the API server
// enforces the same shape as the provider, plus CEL rules for immutable fields and cross-field constraints.
import { SPEC_DEFAULTS, specJsonSchema } from "../core/spec";
import { REPLACING_FIELDS, replacingChangeCel } from "../core/fields";

export const GROUP = "my.local";
export const VERSION = "v1";
export const KIND = "PgDatabase";
export const PLURAL = "pgdatabases";
export const CRD_NAME = `${PLURAL}.${GROUP}`;

type Schema = Record<string, unknown>;

/**
 * Converts a JSON Schema (as TypeBox writes it) to Kubernetes' structural OpenAPI subset: unions of constants
 * become enums, uniqueItems becomes a set list type, and keywords Kubernetes forbids are dropped. Pure.
 */
export function toStructural(schema: Schema): Schema {
  const out: Schema = {};
  const anyOf = schema.anyOf as Schema[] | undefined;
  if (anyOf?.every((s) => "const" in s)) {
    out.type = typeof anyOf[0].const === "number" ? "number" : "string";
    out.enum = anyOf.map((s) => s.const);
  }
  for (const [key, value] of Object.entries(schema)) {
    switch (key) {
      case "anyOf":
      case "additionalProperties": // Kubernetes prunes unknown fields itself and forbids additionalProperties: false
      case "$id":
        break;
      case "uniqueItems":
        if (value === true) out["x-kubernetes-list-type"] = "set";
        break;
      case "properties":
        out.properties = Object.fromEntries(Object.entries(value as Record<string, Schema>).map(([k, v]) => [k, toStructural(v)]));
        break;
      case "items":
        out.items = toStructural(value as Schema);
        break;
      default:
        out[key] = value;
    }
  }
  return out;
}

const immutableRules = REPLACING_FIELDS.map((field) => ({
  // A transition rule on the spec (not on the field) also sees the field being added or removed: the core's rule
  // (core/fields replacingChange) lets that through, and the controller's plan checks a new value against the database.
  rule: replacingChangeCel(field),
  message:
    field === "name"
      ? "spec.name is immutable: renaming would create a new, empty database. Create a new PgDatabase instead."
      : `spec.${field} is immutable: Postgres fixes it when the database is created. Keep the old value (or remove the field), or create a new PgDatabase under another name.`,
}));
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
    rule: "!has(self.adopt) || !self.adopt || !has(self.adoptFrom)",
    message:
      "spec.adopt and spec.adoptFrom: set one of them (adopt for an unstamped database, adoptFrom to take over from a named manager)",
  },
];

/** The spec part of the CRD schema: the core's schema, structural, with defaults and CEL rules. */
export function specSchema(): Schema {
  const spec = toStructural(specJsonSchema() as Schema);
  const props = spec.properties as Record<string, Schema>;
  for (const [key, value] of Object.entries(SPEC_DEFAULTS)) props[key] = { ...props[key], default: value };
  spec["x-kubernetes-validations"] = [...immutableRules, ...crossFieldRules];
  return spec;
}

const conditionSchema: Schema = {
  type: "object",
  required: ["type", "status"],
  properties: {
    type: { type: "string" },
    status: { type: "string", enum: ["True", "False", "Unknown"] },
    reason: { type: "string" },
    message: { type: "string" },
    observedGeneration: { type: "integer", format: "int64" },
    lastTransitionTime: { type: "string", format: "date-time" },
  },
};

const statusSchema: Schema = {
  type: "object",
  properties: {
    observedGeneration: { type: "integer", format: "int64", description: "The generation of the spec the status describes." },
    conditions: { type: "array", items: conditionSchema, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] },
    database: {
      type: "object",
      description: "The database as last observed in Postgres.",
      properties: {
        oid: { type: "integer" },
        owner: { type: "string" },
        encoding: { type: "string" },
        tablespace: { type: "string" },
        connectionLimit: { type: "integer" },
      },
    },
    lastAppliedSql: {
      type: "array",
      items: { type: "string" },
      description: "The statements the last reconcile that changed anything ran.",
    },
  },
};

/** The whole CustomResourceDefinition object. Pure. */
export function pgDatabaseCrd(): Schema {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: CRD_NAME },
    spec: {
      group: GROUP,
      scope: "Namespaced",
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: "pgdatabase", shortNames: ["pgdb"] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: "Database", type: "string", jsonPath: ".spec.name" },
            { name: "Owner", type: "string", jsonPath: ".spec.owner" },
            { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: "Reason", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: "A PostgreSQL database on an existing server, managed by pg-kopf.",
              required: ["spec"],
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: specSchema(),
                status: statusSchema,
              },
            },
          },
        },
      ],
    },
  };
}
