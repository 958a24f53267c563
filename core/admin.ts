// What the admin connection's role is and may do on this server, observed per connection (again after
// ADMIN_FACTS_TTL_MS), and the one place where pg-kopf's SQL and checks differ by Postgres version
// (server_version_num). See docs/adr/0016.
import { escapeIdentifier as id } from "pg";
import type { Client } from "pg";
import { AdminLacksPrivilege, classifyError } from "./errors";
import { REFUSED_GROUPS } from "./role/names";

/** The admin role as the server reports it. */
export interface AdminFacts {
  readonly user: string;
  /** server_version_num, e.g. 160004. */
  readonly versionNum: number;
  readonly superuser: boolean;
  readonly createdb: boolean;
  readonly createrole: boolean;
  /** Whether the admin inherits the privileges of roles it is a member of (before 16, what membership gives). */
  readonly inherit: boolean;
  /** The bootstrap superuser (oid 10): before 15, the owner of every new database's public schema. */
  readonly bootstrap: string;
}

/** From Postgres 15, a new database's public schema belongs to pg_database_owner and PUBLIC may no longer CREATE in it. */
export const OWNED_PUBLIC_SCHEMA = 150000;

/** Database fields a server version lacks: the field, and the version that brought it. */
export const FIELDS_SINCE: Readonly<Record<string, number>> = { localeProvider: 150000, icuLocale: 150000 };

/** The major version of a server_version_num, as users name it. */
export function majorOf(versionNum: number): number {
  return Math.floor(versionNum / 10000);
}

/** From Postgres 16, membership has separate INHERIT, SET and ADMIN options, and CREATEROLE acts only with ADMIN. */
export const SPLIT_MEMBERSHIP = 160000;

/**
 * How long a connection's observation of its admin holds: a pooled client lives for many operations, and a privilege
 * granted to (or taken from) the admin meanwhile must show within a server check or two, not when the pool recycles.
 */
export const ADMIN_FACTS_TTL_MS = 10_000;

const observed = new WeakMap<Client, { facts: AdminFacts; at: number }>();

/** The admin's facts, read once per client and ADMIN_FACTS_TTL_MS. Throws a typed PgKopfError. */
export async function observeAdmin(client: Client): Promise<AdminFacts> {
  const known = observed.get(client);
  if (known && Date.now() - known.at < ADMIN_FACTS_TTL_MS) return known.facts;
  try {
    const { rows } = await client.query(
      `SELECT current_user AS user, current_setting('server_version_num')::int AS version, rolsuper, rolcreatedb, rolcreaterole, rolinherit,
              (SELECT rolname FROM pg_roles WHERE oid = 10) AS bootstrap
         FROM pg_roles WHERE rolname = current_user`,
    );
    const r = rows[0];
    const facts: AdminFacts = {
      user: r.user,
      versionNum: r.version,
      superuser: r.rolsuper,
      createdb: r.rolcreatedb,
      createrole: r.rolcreaterole,
      inherit: r.rolinherit,
      bootstrap: r.bootstrap,
    };
    observed.set(client, { facts, at: Date.now() });
    return facts;
  } catch (err) {
    throw classifyError(err);
  }
}

/**
 * The statement that lets the admin act as a role it created: own its databases and schemas, grant on its tables,
 * set its default privileges, reassign and drop what it owns. From 16 the admin already holds ADMIN OPTION on what it
 * created, and gives itself INHERIT and SET; before 16, membership (with the admin's INHERIT) is all there is.
 */
export function adminMembershipSql(role: string, admin: Pick<AdminFacts, "user" | "versionNum">): string {
  return admin.versionNum >= SPLIT_MEMBERSHIP
    ? `GRANT ${id(role)} TO ${id(admin.user)} WITH INHERIT TRUE, SET TRUE`
    : `GRANT ${id(role)} TO ${id(admin.user)}`;
}

/** What a plan knows of its admin: the facts, and what it can do with the roles the plan touches. */
export interface AdminView {
  readonly facts: AdminFacts;
  readonly holds: ReadonlyMap<string, RoleHold>;
  /** Of the superuser-only settings the plan sets, those a non-superuser admin was granted SET ON PARAMETER (15+). */
  readonly settable?: ReadonlySet<string>;
}

/** From Postgres 15, a superuser-only setting can be granted: GRANT SET ON PARAMETER. */
export const PARAMETER_PRIVILEGES = 150000;

/**
 * The admin view for the roles `names`, on an open admin client; with `parameters` (superuser-only settings the plan
 * sets), which of them a non-superuser admin may set.
 */
export async function observeAdminView(
  client: Client,
  names: readonly (string | undefined)[],
  parameters: readonly string[] = [],
): Promise<AdminView> {
  const facts = await observeAdmin(client);
  const holds = await observeHolds(
    client,
    names.filter((n): n is string => n !== undefined),
  );
  if (facts.superuser || facts.versionNum < PARAMETER_PRIVILEGES || parameters.length === 0) return { facts, holds };
  try {
    const { rows } = await client.query("SELECT p FROM unnest($1::text[]) p WHERE has_parameter_privilege(p, 'SET')", [parameters]);
    return { facts, holds, settable: new Set(rows.map((r) => r.p as string)) };
  } catch (err) {
    throw classifyError(err);
  }
}

/**
 * The roles of `roles` (field -> role name) that a non-superuser admin must first grant itself to act as (it may:
 * from 16 it holds ADMIN OPTION on them, before 16 it has CREATEROLE), in order, once each. Throws
 * AdminLacksPrivilege, naming the field and the grant, for one it cannot act as and may not grant itself. Roles that
 * do not exist yet are left to the statements (a PgRole created first grants itself to the admin).
 */
export function rolesToActAs(view: AdminView | undefined, roles: readonly (readonly [string, string | undefined])[]): string[] {
  if (!view || view.facts.superuser) return [];
  const needed: string[] = [];
  for (const [field, role] of roles) {
    if (role === undefined || role === view.facts.user || needed.includes(role)) continue;
    const hold = view.holds.get(role);
    if (!hold || hold.acts) continue;
    if (!hold.grants) throw cannotActAs(role, view.facts, field);
    needed.push(role);
  }
  return needed;
}

/**
 * Whether a non-superuser admin holds no grant option on a schema owned by `owner` (it cannot act as the owner), so
 * GRANT and REVOKE on the schema itself would change nothing. pg_database_owner is the database's owner, whom the
 * plan makes the admin act as.
 */
export function cannotGrantOnSchema(view: AdminView | undefined, owner: string): boolean {
  if (!view || view.facts.superuser || owner === view.facts.user || owner === "pg_database_owner") return false;
  if (owner === view.facts.bootstrap) return true;
  return view.holds.get(owner)?.acts === false;
}

/** What the admin can do with one role. */
export interface RoleHold {
  /** The admin has the role's privileges and may SET ROLE to it (or is a superuser, or is the role). */
  readonly acts: boolean;
  /** The admin may grant the role to others and to itself: ADMIN OPTION from 16, CREATEROLE before. */
  readonly grants: boolean;
  /** Why a membership in the role would give superuser powers (it is one, or leads to one), or undefined. */
  readonly privileged?: string;
}

/**
 * For each existing role of `names`: whether the admin acts as it and may grant it, and whether membership in it
 * leads to superuser powers: it is a superuser, has REPLICATION or BYPASSRLS, or is one of REFUSED_GROUPS (the
 * server's files and programs), itself or through the roles it is a member of. Absent names are left out. Throws a
 * typed PgKopfError.
 */
export async function observeHolds(client: Client, names: readonly string[]): Promise<Map<string, RoleHold>> {
  const wanted = [...new Set(names)];
  if (wanted.length === 0) return new Map();
  const admin = await observeAdmin(client);
  const split = admin.versionNum >= SPLIT_MEMBERSHIP;
  try {
    const { rows } = await client.query(
      `WITH RECURSIVE up(name, oid, path) AS (
         SELECT r.rolname, r.oid, ARRAY[r.rolname::text] FROM pg_roles r WHERE r.rolname = ANY($1::text[])
         UNION ALL
         SELECT up.name, m.roleid, up.path || pg_get_userbyid(m.roleid)::text FROM up JOIN pg_auth_members m ON m.member = up.oid)
       SELECT r.rolname AS name, r.rolsuper AS superuser,
              r.rolname = current_user OR (pg_has_role(current_user, r.oid, 'USAGE') AND pg_has_role(current_user, r.oid, $3)) AS acts,
              pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION') AS admin_option,
              (SELECT array_to_string(up.path, ' -> ') || CASE WHEN g.rolsuper THEN ' (SUPERUSER)' WHEN g.rolreplication THEN ' (REPLICATION)'
                                                               WHEN g.rolbypassrls THEN ' (BYPASSRLS)' ELSE '' END
                 FROM up JOIN pg_roles g ON g.oid = up.oid
                WHERE up.name = r.rolname AND (g.rolsuper OR g.rolreplication OR g.rolbypassrls OR g.rolname = ANY($2::text[]))
                ORDER BY array_length(up.path, 1) LIMIT 1) AS privileged
         FROM pg_roles r WHERE r.rolname = ANY($1::text[])`,
      [wanted, REFUSED_GROUPS, split ? "SET" : "MEMBER"],
    );
    return new Map(
      rows.map((r) => [
        r.name as string,
        {
          acts: admin.superuser || r.acts,
          // Before 16, CREATEROLE grants any role but a superuser; from 16, only with ADMIN OPTION.
          grants: admin.superuser || r.admin_option || (!split && admin.createrole && !r.superuser),
          ...(r.privileged ? { privileged: r.privileged as string } : {}),
        },
      ]),
    );
  } catch (err) {
    throw classifyError(err);
  }
}

/** The role attributes pg-kopf needs of a non-superuser admin, by what it manages. */
const NEEDED = {
  databases: { attribute: "createdb", keyword: "CREATEDB" },
  roles: { attribute: "createrole", keyword: "CREATEROLE" },
} as const;

/**
 * The refusal for an admin that lacks what managing `kind` takes (CREATEDB for databases, CREATEROLE for roles, and
 * INHERIT before 16 for both), in one message naming each attribute and the statement that grants it; undefined
 * when it has them all (a superuser has). `where` names the server.
 */
export function adminShortfall(admin: AdminFacts, kind: keyof typeof NEEDED, where: string): AdminLacksPrivilege | undefined {
  if (admin.superuser) return undefined;
  const keywords: string[] = admin[NEEDED[kind].attribute] ? [] : [NEEDED[kind].keyword];
  if (!admin.inherit && admin.versionNum < SPLIT_MEMBERSHIP) keywords.push("INHERIT");
  if (keywords.length === 0) return undefined;
  return new AdminLacksPrivilege(
    `the admin role "${admin.user}" on ${where} lacks ${keywords.join(", ")}, without which pg-kopf cannot manage ${kind}` +
      `: as a superuser (on a managed service, the master user) run ALTER ROLE ${id(admin.user)} WITH ${keywords.join(" ")}; nothing was run`,
  );
}

/** The step, of either kind, by which the admin gives itself what acting as `role` takes (adminMembershipSql). */
export function grantToAdmin(facts: AdminFacts, role: string): { kind: "grantToAdmin"; role: string; admin: string; versionNum: number } {
  return { kind: "grantToAdmin", role, admin: facts.user, versionNum: facts.versionNum };
}

/** The refusal for a role the admin cannot act as (it did not create it): the grant that fixes it. */
export function cannotActAs(role: string, admin: AdminFacts, field: string): AdminLacksPrivilege {
  const how = `as a superuser (on a managed service, the master user) run ${
    admin.versionNum >= SPLIT_MEMBERSHIP
      ? `GRANT ${id(role)} TO ${id(admin.user)} WITH ADMIN TRUE, INHERIT TRUE, SET TRUE`
      : `GRANT ${id(role)} TO ${id(admin.user)} WITH ADMIN OPTION`
  }`;
  return new AdminLacksPrivilege(
    `${field}: the admin "${admin.user}" is not a superuser and cannot act as role "${role}" (it needs the role's privileges and SET ROLE to it) nor grant that to itself: ${how}; nothing was run`,
  );
}

/** The refusal for a group the admin may not grant (from 16: it holds no ADMIN OPTION on it). */
export function cannotGrant(group: string, admin: AdminFacts, field: string): AdminLacksPrivilege {
  return new AdminLacksPrivilege(
    `${field}: the admin "${admin.user}" may not grant role "${group}" (from Postgres 16 that takes ADMIN OPTION on it): as a superuser or a role holding ADMIN OPTION on it run GRANT ${id(group)} TO ${id(admin.user)} WITH ADMIN TRUE, INHERIT FALSE, SET FALSE; nothing was run`,
  );
}
