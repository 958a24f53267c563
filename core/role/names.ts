// The names a role may not take or be granted, apart from the rest of the role so that the admin's checks
// (core/admin) read them without reaching the planner.
import { MAX_NAME_BYTES, NOT_ROLES } from "../schema";

/** Names Postgres reserves or that mean something else in a GRANT; pg_* is reserved for system roles. */
export const RESERVED_ROLES: readonly string[] = ["postgres", ...NOT_ROLES];
/** Built-in roles that give a member the server's files or programs: superuser in all but name. */
export const REFUSED_GROUPS = ["pg_execute_server_program", "pg_write_server_files", "pg_read_server_files"];

/** The failure for a role name Postgres or pg-kopf does not allow, or undefined. */
export function badRoleName(name: string): string | undefined {
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES)
    return `is ${Buffer.byteLength(name, "utf8")} bytes; Postgres names are at most 63 bytes: shorten it`;
  if (name.startsWith("pg_")) return `"${name}": names starting with pg_ are reserved for system roles; choose another name`;
  if (RESERVED_ROLES.includes(name.toLowerCase())) return `"${name}" is reserved; choose another name`;
  return undefined;
}
