// PgRoleSpec: the one schema for a role, shared by the Pulumi provider and the CRD, and its validation into a
// normalized spec or failures that name the field and the fix.
import { Type, type Static } from "@sinclair/typebox";
import type { FieldFailure } from "../errors";
import { schemaFailures } from "../schema";
import { roleBehaviourFailures } from "./behaviours";
import { badRoleName } from "./names";
import { ROLE_FIELDS, ROLE_FIELD_NAMES, type RoleFieldName, roleFixOf } from "./fields";

/** Attributes a declarative tool must never grant: each is a way to superuser or around every row policy. */
export const REFUSED_ATTRIBUTES: Record<string, string> = {
  superuser: "a superuser bypasses every check; a declarative tool must not be a path to it. Grant the privileges the role needs instead",
  replication: "replication connections can read every database; set up replication roles by hand, outside pg-kopf",
  bypassrls: "it bypasses every row-level security policy; grant that by hand if it is really needed",
};

type SchemaProperties = { [K in RoleFieldName]: (typeof ROLE_FIELDS)[K]["schema"] };

export const PgRoleSpecSchema = Type.Object(
  Object.fromEntries(ROLE_FIELD_NAMES.map((f) => [f, ROLE_FIELDS[f].schema])) as SchemaProperties,
  { additionalProperties: false },
);

export type PgRoleSpecInput = Static<typeof PgRoleSpecSchema>;
export const ROLE_DEFAULTS = { login: true, reclaimPolicy: "retain", adopt: false } as const;
export type PgRoleSpec = PgRoleSpecInput & {
  readonly login: boolean;
  readonly reclaimPolicy: "retain" | "delete";
  readonly adopt: boolean;
};
export type RoleParseResult = { ok: true; spec: PgRoleSpec } | { ok: false; failures: FieldFailure[] };

/** Validates any value as a PgRoleSpec. Pure; never throws. */
export function parseRoleSpec(input: unknown): RoleParseResult {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, failures: [{ field: "spec", message: "expected an object with at least a name" }] };
  }
  const raw = input as Record<string, unknown>;
  const failures: FieldFailure[] = [];
  for (const [field, why] of Object.entries(REFUSED_ATTRIBUTES)) {
    if (field in raw) failures.push({ field, message: `is not supported: ${why}` });
  }
  // The refused attributes are unknown to the schema too; they are reported once, with the reason.
  failures.push(...schemaFailures(PgRoleSpecSchema, input, roleFixOf, failures));
  if (typeof raw.name === "string" && !failures.some((f) => f.field === "name")) {
    const why = badRoleName(raw.name);
    if (why) failures.push({ field: "name", message: why });
  }
  // Memberships and settings: their behaviours' checks (./behaviours).
  failures.push(...roleBehaviourFailures(raw));
  if (typeof raw.validUntil === "string" && raw.validUntil !== "infinity" && Number.isNaN(Date.parse(raw.validUntil))) {
    failures.push({ field: "validUntil", message: `"${raw.validUntil}" is not a timestamp: ${roleFixOf("validUntil")}` });
  }
  if (raw.reassignOwnedTo !== undefined && raw.reclaimPolicy !== "delete") {
    failures.push({
      field: "reassignOwnedTo",
      message: 'only applies with reclaimPolicy "delete"; set reclaimPolicy: delete or remove reassignOwnedTo',
    });
  }
  if (raw.reassignOwnedTo !== undefined && raw.reassignOwnedTo === raw.name) {
    failures.push({ field: "reassignOwnedTo", message: "names the role being dropped; name the role that should own its objects" });
  }
  if (raw.adopt === true && raw.adoptFrom !== undefined) {
    failures.push({ field: "adoptFrom", message: "takes over from a named manager; adopt takes over an unstamped role: set one of them" });
  }
  if (failures.length > 0) return { ok: false, failures };
  return {
    ok: true,
    spec: {
      ...(raw as PgRoleSpecInput),
      login: (raw.login as boolean | undefined) ?? ROLE_DEFAULTS.login,
      reclaimPolicy: (raw.reclaimPolicy as "retain" | "delete" | undefined) ?? ROLE_DEFAULTS.reclaimPolicy,
      adopt: (raw.adopt as boolean | undefined) ?? ROLE_DEFAULTS.adopt,
    },
  };
}
