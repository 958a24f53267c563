// Reads a role from the catalog: its attributes (pg_roles), the roles granted to it (pg_auth_members) and its
// comment, where the ownership stamp lives. Never reads its password (pg_authid needs superuser, and is not ours to read).
import type { Client } from "pg";
import { classifyError } from "../errors";
import { parseSetconfig } from "../settings";

export interface ObservedRole {
  readonly name: string;
  readonly oid: number;
  readonly login: boolean;
  readonly inherit: boolean;
  readonly createdb: boolean;
  readonly createrole: boolean;
  readonly connectionLimit: number;
  /** ISO 8601, "infinity", or absent when the role has no expiry. */
  readonly validUntil?: string;
  readonly superuser: boolean;
  readonly memberOf: readonly string[];
  /** Per-role settings (pg_db_role_setting, all databases), as Postgres stores them: key -> value text. */
  readonly config: Readonly<Record<string, string>>;
  readonly comment?: string;
}

const ROLE_QUERY = `
  SELECT r.oid::int AS oid, r.rolname AS name, r.rolcanlogin AS login, r.rolinherit AS inherit,
         r.rolcreatedb AS createdb, r.rolcreaterole AS createrole, r.rolconnlimit AS connection_limit,
         CASE WHEN r.rolvaliduntil = 'infinity' THEN 'infinity' ELSE to_json(r.rolvaliduntil) #>> '{}' END AS valid_until,
         r.rolsuper AS superuser,
         ARRAY(SELECT DISTINCT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                WHERE m.member = r.oid ORDER BY g.rolname)::text[] AS member_of,
         ARRAY(SELECT unnest(s.setconfig) FROM pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0)::text[] AS config,
         shobj_description(r.oid, 'pg_authid') AS comment
    FROM pg_roles r
   WHERE r.rolname = $1`;

/** Reads one role over an open admin client; undefined when it does not exist. Throws a typed PgKopfError. */
export async function observeRoleWith(client: Client, name: string): Promise<ObservedRole | undefined> {
  try {
    const { rows } = await client.query(ROLE_QUERY, [name]);
    if (rows.length === 0) return undefined;
    const r = rows[0];
    return {
      name: r.name,
      oid: r.oid,
      login: r.login,
      inherit: r.inherit,
      createdb: r.createdb,
      createrole: r.createrole,
      connectionLimit: r.connection_limit,
      ...(r.valid_until !== null ? { validUntil: r.valid_until } : {}),
      superuser: r.superuser,
      memberOf: r.member_of,
      config: parseSetconfig(r.config),
      ...(r.comment !== null ? { comment: r.comment } : {}),
    };
  } catch (err) {
    throw classifyError(err);
  }
}
