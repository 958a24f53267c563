// RoleStep: one planned statement on a role, as data, and its SQL. Identifiers and literals go through the driver's
// escaping helpers. A password travels only as a SCRAM verifier (core/scram), and is shown as <redacted>.
import { escapeIdentifier as id, escapeLiteral as lit } from "pg";
import { adminMembershipSql } from "../admin";
import { settingValueSql } from "../settings";
import { type RoleAttribute, type RoleFieldOf, roleOptionSql, ROLE_ATTRIBUTES } from "./fields";

export type RoleAttributes = { readonly [K in RoleAttribute]?: unknown };

export type RoleStep =
  | { kind: "createRole"; role: string; attributes: RoleAttributes; verifier?: string }
  | { kind: "alterRole"; role: string; attribute: RoleAttribute; value: unknown }
  | { kind: "setPassword"; role: string; verifier: string }
  | { kind: "removePassword"; role: string }
  | { kind: "stampRole"; role: string; manager: string; comment: string }
  /** The admin (not a superuser) gives itself what it needs to act as the role (core/admin, by server version). */
  | { kind: "grantToAdmin"; role: string; admin: string; versionNum: number }
  | { kind: "grantRole"; role: string; group: string }
  | { kind: "revokeRole"; role: string; group: string }
  | { kind: "setRoleConfig"; role: string; key: string; value: string }
  | { kind: "resetRoleConfig"; role: string; key: string }
  | { kind: "reassignOwned"; role: string; database: string; to: string }
  | { kind: "dropOwned"; role: string; database: string }
  | { kind: "dropRole"; role: string };

const REDACTED = "<redacted>";

function sql(step: RoleStep, password: (verifier: string) => string): string {
  const role = id(step.role);
  switch (step.kind) {
    case "createRole": {
      const options = ROLE_ATTRIBUTES.filter((a) => step.attributes[a] !== undefined).map((a) => roleOptionSql(a, step.attributes[a]));
      if (step.verifier !== undefined) options.push(`PASSWORD ${password(step.verifier)}`);
      return options.length ? `CREATE ROLE ${role} WITH ${options.join(" ")}` : `CREATE ROLE ${role}`;
    }
    case "alterRole":
      return `ALTER ROLE ${role} WITH ${roleOptionSql(step.attribute, step.value)}`;
    case "setPassword":
      return `ALTER ROLE ${role} WITH PASSWORD ${password(step.verifier)}`;
    case "removePassword":
      return `ALTER ROLE ${role} WITH PASSWORD NULL`;
    case "stampRole":
      return `COMMENT ON ROLE ${role} IS ${lit(step.comment)}`;
    case "grantToAdmin":
      return adminMembershipSql(step.role, { user: step.admin, versionNum: step.versionNum });
    case "grantRole":
      return `GRANT ${id(step.group)} TO ${role}`;
    case "revokeRole":
      return `REVOKE ${id(step.group)} FROM ${role}`;
    case "setRoleConfig":
      return `ALTER ROLE ${role} SET ${id(step.key)} TO ${settingValueSql(step.key, step.value, lit)}`;
    case "resetRoleConfig":
      return `ALTER ROLE ${role} RESET ${id(step.key)}`;
    case "reassignOwned":
      return `REASSIGN OWNED BY ${role} TO ${id(step.to)}`;
    case "dropOwned":
      return `DROP OWNED BY ${role}`;
    case "dropRole":
      return `DROP ROLE IF EXISTS ${role}`;
  }
}

/** The statement a step runs, with the verifier. Never logged or shown: describeRoleStep is. Pure. */
export function roleStepSql(step: RoleStep): string {
  return sql(step, lit);
}

/** The database a step runs in: REASSIGN and DROP OWNED act on one database each; the rest run anywhere. */
export function roleStepTarget(step: RoleStep): string | undefined {
  return step.kind === "reassignOwned" || step.kind === "dropOwned" ? step.database : undefined;
}

/** A step as a reviewer reads it: its SQL with the password clause redacted, marked when it destroys something. */
export function describeRoleStep(step: RoleStep): string {
  const where = roleStepTarget(step) === undefined ? "" : ` -- in database ${id(roleStepTarget(step)!)}`;
  return (step.kind === "dropRole" ? "[destructive] " : "") + sql(step, () => REDACTED) + where;
}

/**
 * The field a failed step names, by kind (a kind missing here does not compile): GRANT and REVOKE come from the
 * memberships (a group that does not exist, yet: it may be declared next to this role); the rest name none.
 */
const STEP_FIELDS: { readonly [K in RoleStep["kind"]]: RoleFieldOf<"memberships"> | undefined } = {
  createRole: undefined,
  alterRole: undefined,
  setPassword: undefined,
  removePassword: undefined,
  stampRole: undefined,
  grantToAdmin: undefined,
  grantRole: "memberOf",
  revokeRole: "memberOf",
  setRoleConfig: undefined,
  resetRoleConfig: undefined,
  reassignOwned: undefined,
  dropOwned: undefined,
  dropRole: undefined,
};

/** The field a failure of this step names, if any. */
export function roleStepField(step: RoleStep): string | undefined {
  return STEP_FIELDS[step.kind];
}
