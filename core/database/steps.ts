// Step: one planned SQL statement, as data (printable, testable, shown in previews), and its SQL text.
// Every identifier and literal goes through the driver's escaping helpers; nothing is concatenated raw.
import { escapeIdentifier as id, escapeLiteral as lit } from "pg";
import { alteredField, alterSql, createOptionSql, CREATE_FIELDS, isAlterStep, type AlterStep, type CreateField } from "./fields";
import type { PgDatabaseSpec } from "./spec";
import { type AccessStep, accessStepSql, isAccessStep } from "./access";
import { adminMembershipSql } from "../admin";
import { settingValueSql } from "../settings";

/** The options of CREATE DATABASE, one per field that has one (see core/database/fields). */
export type CreateDatabaseOptions = { readonly [K in CreateField]?: PgDatabaseSpec[K] };

export type DatabaseStep =
  | ({ kind: "createDatabase"; database: string } & CreateDatabaseOptions)
  | { kind: "stampOwnership"; database: string; manager: string; comment: string }
  /** A non-superuser admin gives itself what it needs to act as a role (core/admin): run before the steps that need it. */
  | { kind: "grantToAdmin"; database: string; role: string; admin: string; versionNum: number }
  | AlterStep
  | { kind: "setDatabaseConfig"; database: string; key: string; value: string }
  | { kind: "resetDatabaseConfig"; database: string; key: string }
  | { kind: "setRoleConfigIn"; database: string; role: string; key: string; value: string }
  | { kind: "resetRoleConfigIn"; database: string; role: string; key: string }
  | { kind: "createExtension"; database: string; extension: string }
  | AccessStep
  | { kind: "dropDatabase"; database: string; force: boolean };

/** The single SQL statement a step runs. Pure. */
export function databaseStepSql(step: DatabaseStep): string {
  const db = id(step.database);
  if (isAlterStep(step)) return alterSql(step);
  if (isAccessStep(step)) return accessStepSql(step, id);
  switch (step.kind) {
    case "createDatabase": {
      const opts = CREATE_FIELDS.filter((f) => step[f] !== undefined).map((f) => createOptionSql(f, step[f]));
      return opts.length ? `CREATE DATABASE ${db} WITH ${opts.join(" ")}` : `CREATE DATABASE ${db}`;
    }
    case "stampOwnership":
      return `COMMENT ON DATABASE ${db} IS ${lit(step.comment)}`;
    case "grantToAdmin":
      return adminMembershipSql(step.role, { user: step.admin, versionNum: step.versionNum });
    case "setDatabaseConfig":
      return `ALTER DATABASE ${db} SET ${id(step.key)} TO ${settingValueSql(step.key, step.value, lit)}`;
    case "resetDatabaseConfig":
      return `ALTER DATABASE ${db} RESET ${id(step.key)}`;
    case "setRoleConfigIn":
      return `ALTER ROLE ${id(step.role)} IN DATABASE ${db} SET ${id(step.key)} TO ${settingValueSql(step.key, step.value, lit)}`;
    case "resetRoleConfigIn":
      return `ALTER ROLE ${id(step.role)} IN DATABASE ${db} RESET ${id(step.key)}`;
    case "createExtension":
      // The install schema and the names the extension's script resolves follow search_path: pinned to public for the
      // step's transaction (pg_catalog is searched first anyway), not what the database or the admin role sets.
      return `SET LOCAL search_path TO public; CREATE EXTENSION IF NOT EXISTS ${id(step.extension)}`;
    case "dropDatabase":
      return step.force ? `DROP DATABASE IF EXISTS ${db} WITH (FORCE)` : `DROP DATABASE IF EXISTS ${db}`;
  }
}

/**
 * The database a step must be run from: extensions, schemas and privileges live inside the database (and run there in
 * one transaction); everything else is run from the maintenance database.
 */
export function databaseStepTarget(step: DatabaseStep): string | undefined {
  // Every ALTER DATABASE of the field table runs on the maintenance connection; access runs inside the database.
  if (isAlterStep(step)) return undefined;
  if (isAccessStep(step)) return step.database;
  switch (step.kind) {
    case "createDatabase":
    case "stampOwnership":
    case "grantToAdmin":
    case "setDatabaseConfig":
    case "resetDatabaseConfig":
    case "setRoleConfigIn":
    case "resetRoleConfigIn":
    case "dropDatabase":
      return undefined;
    case "createExtension":
      return step.database;
    default:
      // A new kind of step does not compile until it says where it runs.
      return unhandled(step);
  }
}

/** The spec field a failure of the step names, where a SQLSTATE alone cannot say (core/errors). */
export function databaseStepField(step: DatabaseStep): string | undefined {
  if (isAlterStep(step)) return alteredField(step);
  if (isAccessStep(step)) return step.kind === "createSchema" || step.kind === "alterSchemaOwner" ? "schemas" : "access";
  switch (step.kind) {
    case "createExtension":
      return "extensions";
    // A value Postgres refuses (22023: a time zone it does not know) names its key.
    case "setDatabaseConfig":
    case "resetDatabaseConfig":
      return `config.${step.key}`;
    case "setRoleConfigIn":
    case "resetRoleConfigIn":
      return `roleConfig.${step.role}.${step.key}`;
    // CREATE DATABASE's failures say their field by SQLSTATE (owner, template, name); the others name none.
    case "createDatabase":
    case "stampOwnership":
    case "grantToAdmin":
    case "dropDatabase":
      return undefined;
    default:
      return unhandled(step);
  }
}

function unhandled(step: never): never {
  throw new Error(`no rule for step ${JSON.stringify(step)}`);
}

/** Whether a step destroys data. Previews mark these. */
export function isDestructive(step: DatabaseStep): boolean {
  return step.kind === "dropDatabase";
}

/** A step as a reviewer reads it: its SQL, marked when it destroys data. */
export function describeDatabaseStep(step: DatabaseStep): string {
  return (isDestructive(step) ? "[destructive] " : "") + databaseStepSql(step);
}
