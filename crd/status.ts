// Every kind's status, written once as TypeBox schemas: the common part (conditions, the generation it describes, the
// SQL last applied) and each kind's own fields. The controller's status types derive from them
// (controller/runtime/objects.ts), and so do the CRDs' status schemas (statusSchema). What is observation and what is
// memory: docs/adr/0020-status-observation-and-memory.md.
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { LEVELS } from "../core/database/access";
import { type Schema, toStructural } from "./structural";

/** A condition, as Kubernetes' API conventions have it (metav1.Condition). */
export const ConditionSchema = Type.Object({
  type: Type.String(),
  status: Type.Union([Type.Literal("True"), Type.Literal("False"), Type.Literal("Unknown")]),
  reason: Type.String(),
  message: Type.String(),
  observedGeneration: Type.Optional(Type.Integer({ format: "int64" })),
  lastTransitionTime: Type.String({ format: "date-time" }),
});

/** What every kind's status has (controller/runtime/status buildStatus writes it). */
export const CommonStatusFields = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ format: "int64", description: "The generation of the spec the status describes." })),
  conditions: Type.Optional(Type.Array(ConditionSchema, { "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })),
  lastAppliedSql: Type.Optional(Type.Array(Type.String(), { description: "The statements the last reconcile that changed anything ran." })),
});
export type Condition = Static<typeof ConditionSchema>;
export type CommonStatus = Static<typeof CommonStatusFields>;

/** PgDatabase: the database as last observed (observation), and the access last applied (memory). */
export const DatabaseStatusFields = Type.Object({
  database: Type.Optional(
    Type.Object(
      {
        oid: Type.Integer(),
        owner: Type.String(),
        encoding: Type.String(),
        tablespace: Type.String(),
        connectionLimit: Type.Integer(),
        config: Type.Optional(
          Type.Record(Type.String(), Type.String(), {
            description: "The database's own settings (pg_db_role_setting), as Postgres stores them.",
          }),
        ),
      },
      { description: "The database as last observed in Postgres." },
    ),
  ),
  config: Type.Optional(
    Type.Record(Type.String(), Type.String(), {
      description: "The settings last applied (spec.config): a key removed from spec.config is reset only if it is here.",
    }),
  ),
  roleConfig: Type.Optional(
    Type.Record(Type.String(), Type.Record(Type.String(), Type.String()), {
      description: "The role settings last applied (spec.roleConfig): a key removed from spec.roleConfig is reset only if it is here.",
    }),
  ),
  creationClaim: Type.Optional(
    Type.String({
      description:
        "The creation intent this object saw through (its pgdatabases.my.local/creating-at annotation): a claim named here is done and claims nothing.",
    }),
  ),
  access: Type.Optional(
    Type.Array(Type.Object({ role: Type.String(), level: Type.Union(LEVELS.map((l) => Type.Literal(l))) }), {
      description: "The access last applied: an entry removed from spec.access, or lowered, revokes what this one granted.",
    }),
  ),
});

/** PgRole: the role as last observed (observation), and the Secret its password was last set from (memory). */
export const RoleStatusFields = Type.Object({
  role: Type.Optional(
    Type.Object(
      { oid: Type.Integer(), login: Type.Boolean(), memberOf: Type.Array(Type.String()) },
      { description: "The role as last observed in Postgres." },
    ),
  ),
  config: Type.Optional(
    Type.Record(Type.String(), Type.String(), {
      description: "The settings last applied (spec.config): a key removed from spec.config is reset only if it is here.",
    }),
  ),
  credentials: Type.Optional(
    Type.Object(
      {
        secretName: Type.String(),
        uid: Type.String(),
        resourceVersion: Type.String(),
        passwordSetAt: Type.Optional(
          Type.String({
            description:
              "When the controller last set the Secret's password on the role (RFC 3339): the credential's age, for rotation policies and alerts (metric pgkopf_role_password_set_timestamp_seconds).",
          }),
        ),
        rotationDueAt: Type.Optional(
          Type.String({ description: "With spec.rotateEvery: when the next scheduled rotation is due (RFC 3339)." }),
        ),
        username: Type.Optional(
          Type.String({
            description:
              "The role the Secret names: with spec.twoCredentials the member apps are pointed at (<name>_a or <name>_b), else the role itself.",
          }),
        ),
        previousUsername: Type.Optional(
          Type.String({
            description: "The role the Secret named before the last rotation that changed it, which logs in until previousUntil.",
          }),
        ),
        previousUntil: Type.Optional(
          Type.String({
            description: "When previousUsername stops logging in (RFC 3339): it is made NOLOGIN then; in the past once it has.",
          }),
        ),
      },
      {
        description:
          "The Secret whose password the role was last set to, by uid and resourceVersion (never the password): another uid or resourceVersion sets the role's password again.",
      },
    ),
  ),
  passwordRemoved: Type.Optional(
    Type.Boolean({
      description: "The role's password was removed (spec.removePassword, Kerberos): it is not removed again.",
    }),
  ),
});

/** PgServer: what the last check found (observation only). */
export const ServerStatusFields = Type.Object({
  version: Type.Optional(Type.String({ description: "The server's version (server_version), as last checked." })),
  lastCheckTime: Type.Optional(
    Type.String({ format: "date-time", description: "When the controller last connected to check the server." }),
  ),
});

export type DatabaseStatusFields = Static<typeof DatabaseStatusFields>;
export type RoleStatusFields = Static<typeof RoleStatusFields>;
export type ServerStatusFields = Static<typeof ServerStatusFields>;

/**
 * A kind's status fields as the CRD declares them: the structural subset, without `required` (a status describes what
 * the controller saw; the API server need not insist on its shape, and an older controller may write less).
 */
export function statusProperties(fields: TSchema): Record<string, Schema> {
  const strip = (s: Schema): Schema =>
    Object.fromEntries(
      Object.entries(s)
        .filter(([k]) => k !== "required")
        .map(([k, v]) => [
          k,
          k === "properties"
            ? Object.fromEntries(Object.entries(v as Record<string, Schema>).map(([p, ps]) => [p, strip(ps)]))
            : k === "items"
              ? strip(v as Schema)
              : v,
        ]),
    );
  return (strip(toStructural(fields as unknown as Schema)).properties ?? {}) as Record<string, Schema>;
}

/**
 * A kind's whole status schema: the common part, then its own fields. A condition insists on its type and status
 * only, as the convention asks; nothing else is required.
 */
export function statusSchema(own: TSchema): Schema {
  const { conditions, observedGeneration, lastAppliedSql } = statusProperties(CommonStatusFields);
  const items = conditions.items as Schema;
  return {
    type: "object",
    properties: {
      observedGeneration,
      conditions: { ...conditions, items: { ...items, required: ["type", "status"] } },
      ...statusProperties(own),
      lastAppliedSql,
    },
  };
}
