// What every generated CustomResourceDefinition shares: the conversion of the core's JSON Schemas to Kubernetes'
// structural subset, the status's common part, and the CRD object around a kind's spec and status.
import { celList } from "../core/schema";

export { celList };
export type Schema = Record<string, unknown>;

export const GROUP = "my.local";
export const VERSION = "v1";

/**
 * Converts a JSON Schema (as TypeBox writes it) to Kubernetes' structural OpenAPI subset: unions of constants
 * become enums, uniqueItems becomes a set list type, a record becomes a map (additionalProperties with the value's
 * schema), and keywords Kubernetes forbids are dropped. Pure.
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
      case "patternProperties": {
        // A record: its keys are checked by the core (and CEL where it matters), its values here.
        const values = Object.values(value as Record<string, Schema>);
        out.additionalProperties = toStructural(values[0]);
        break;
      }
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

export interface KindNames {
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: string[];
}

/**
 * The whole CustomResourceDefinition of a kind with a status subresource: namespaced unless `options.scope` says
 * Cluster; `options.rules`: CEL rules on the whole object (they may read metadata.name). Pure.
 */
export function customResourceDefinition(
  names: KindNames,
  description: string,
  printerColumns: Schema[],
  spec: Schema,
  status: Schema,
  options: { scope?: "Namespaced" | "Cluster"; rules?: Schema[] } = {},
): Schema {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${names.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: options.scope ?? "Namespaced",
      names: { ...names, listKind: `${names.kind}List` },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            ...printerColumns,
            { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: "Reason", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
          schema: {
            openAPIV3Schema: {
              type: "object",
              description,
              required: ["spec"],
              ...(options.rules ? { "x-kubernetes-validations": options.rules } : {}),
              properties: { apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" }, spec, status },
            },
          },
        },
      ],
    },
  };
}
