// Schemas and access levels inside a database: what each level grants (one table), what a role holds (observed from
// the ACLs in the catalogs, each database from inside it), and the plan from one to the other. Pure but for the
// observation. pg-kopf revokes only what a level it granted before (the engine's record of the last applied access)
// grants and the new one does not: privileges granted by hand, outside any level, are never touched.
import type { Client } from "pg";
import { AdminLacksPrivilege, classifyError } from "../errors";

export const LEVELS = ["connect", "read", "write"] as const;
export type Level = (typeof LEVELS)[number];

export interface AccessEntry {
  readonly role: string;
  readonly level: Level;
}

export interface SchemaEntry {
  readonly name: string;
  readonly owner?: string;
}

/** The classes of objects a level grants on, in each schema it covers (the declared ones and public). */
export type ObjectClass = "database" | "schema" | "tables" | "sequences";

/**
 * What each level grants. read: CONNECT, USAGE on the schemas, SELECT on their tables and sequences (and on those
 * created later, by default privileges); write: read and INSERT, UPDATE, DELETE, TRUNCATE on tables, USAGE and UPDATE
 * on sequences.
 */
export const LEVEL_PRIVILEGES: Record<Level, Record<ObjectClass, readonly string[]>> = {
  connect: { database: ["CONNECT"], schema: [], tables: [], sequences: [] },
  read: { database: ["CONNECT"], schema: ["USAGE"], tables: ["SELECT"], sequences: ["SELECT"] },
  write: {
    database: ["CONNECT"],
    schema: ["USAGE"],
    tables: ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"],
    sequences: ["SELECT", "USAGE", "UPDATE"],
  },
};

/** The grantee of privileges everyone has. */
export const PUBLIC = "PUBLIC";

/** What the plan needs to know inside one database. */
export interface ObservedAccess {
  /** The schemas asked about (declared, and public) that exist, with their owners. */
  readonly schemas: readonly { name: string; owner: string }[];
  /** The roles asked about that exist. */
  readonly roles: readonly string[];
  /** Privileges held, one row per (role, object, privilege); for tables and sequences, how many have it and lack it. */
  readonly privileges: readonly HeldPrivilege[];
}

export interface HeldPrivilege {
  readonly role: string;
  /** database, schema, tables, sequences, or default privileges of a creator: "default:<creator>:tables|sequences". */
  readonly object: string;
  /** The schema, or "" for the database. */
  readonly schema: string;
  readonly privilege: string;
  /** Objects in the schema that lack it (tables and sequences; 0 otherwise). */
  readonly missing: number;
  /** Objects that have it (1 for a database, schema or default privilege held). */
  readonly present: number;
}

/** The public schema a new database gets from its template: its owner, and what PUBLIC holds on it. */
export interface TemplatePublicSchema {
  readonly owner: string;
  readonly publicPrivileges: readonly string[];
}

/** A stock template's public schema from Postgres 15: the database's owner owns it, PUBLIC may only use it. */
export const STOCK_PUBLIC_SCHEMA: TemplatePublicSchema = { owner: "pg_database_owner", publicPrivileges: ["USAGE"] };

/**
 * The observation of a database about to be created: its public schema as the template has it (default: a stock
 * template of 15 or later), everyone may connect, and nobody else holds anything. `roles` are taken to exist: a
 * GRANT to one that does not fails, naming it.
 */
export function freshAccess(roles: readonly string[], template: TemplatePublicSchema = STOCK_PUBLIC_SCHEMA): ObservedAccess {
  return {
    schemas: [{ name: "public", owner: template.owner }],
    roles,
    privileges: [
      { role: PUBLIC, object: "database", schema: "", privilege: "CONNECT", missing: 0, present: 1 },
      ...template.publicPrivileges.map((privilege) => ({
        role: PUBLIC,
        object: "schema",
        schema: "public",
        privilege,
        missing: 0,
        present: 1,
      })),
    ],
  };
}

/** The public schema of the database `client` is connected to (a template), as freshAccess takes it. */
export async function observeTemplatePublicSchema(client: Client): Promise<TemplatePublicSchema | undefined> {
  try {
    const { rows } = await client.query<{ owner: string; public_privileges: string[] }>(
      `SELECT pg_get_userbyid(nspowner) AS owner,
              ARRAY(SELECT a.privilege_type FROM aclexplode(coalesce(nspacl, acldefault('n', nspowner))) a WHERE a.grantee = 0 ORDER BY 1)::text[] AS public_privileges
         FROM pg_namespace WHERE nspname = 'public'`,
    );
    return rows[0] ? { owner: rows[0].owner, publicPrivileges: rows[0].public_privileges } : undefined;
  } catch (err) {
    throw classifyError(err, "access");
  }
}

/**
 * Observes, on a client connected to the database, the schemas and what `roles` (and PUBLIC) hold on the database,
 * on `schemas`, on their tables and sequences, and in default privileges. Explicit grants only (aclexplode of each
 * ACL, its default when unset): a privilege reached through membership or PUBLIC is not the role's own.
 */
export async function observeAccessWith(client: Client, roles: readonly string[], schemas: readonly string[]): Promise<ObservedAccess> {
  try {
    const found = await client.query<{ name: string; owner: string }>(
      "SELECT nspname AS name, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = ANY($1::text[]) ORDER BY 1",
      [schemas],
    );
    const existing = await client.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])", [roles]);
    const { rows } = await client.query<HeldPrivilege>(
      `WITH r AS (SELECT oid, rolname FROM pg_roles WHERE rolname = ANY($1::text[]) UNION ALL SELECT 0, 'PUBLIC'),
            s AS (SELECT oid, nspname, nspowner, nspacl FROM pg_namespace WHERE nspname = ANY($2::text[])),
            -- Each table and sequence once, with the privileges a level may grant on it, and its ACL exploded once.
            relations AS MATERIALIZED (
              SELECT c.oid, s.nspname, CASE WHEN c.relkind = 'S' THEN 'sequences' ELSE 'tables' END AS class,
                     CASE WHEN c.relkind = 'S' THEN ARRAY['SELECT', 'USAGE', 'UPDATE']
                          ELSE ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'] END AS privileges,
                     coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner)) AS acl
                FROM pg_class c JOIN s ON c.relnamespace = s.oid
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')),
            grants AS MATERIALIZED (
              SELECT DISTINCT c.oid, a.grantee, a.privilege_type FROM relations c, aclexplode(c.acl) a WHERE a.grantee IN (SELECT oid FROM r))
       SELECT r.rolname AS role, 'database' AS object, '' AS schema, a.privilege_type AS privilege, 0 AS missing, 1 AS present
         FROM r, pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
        WHERE d.datname = current_database() AND a.grantee = r.oid
       UNION ALL
       SELECT r.rolname, 'schema', s.nspname, a.privilege_type, 0, 1
         FROM r, s, aclexplode(coalesce(s.nspacl, acldefault('n', s.nspowner))) a
        WHERE a.grantee = r.oid
       UNION ALL
       SELECT r.rolname, c.class, c.nspname, p.privilege,
              (count(*) FILTER (WHERE g.oid IS NULL))::int, (count(*) FILTER (WHERE g.oid IS NOT NULL))::int
         FROM relations c CROSS JOIN r CROSS JOIN LATERAL unnest(c.privileges) AS p(privilege)
         LEFT JOIN grants g ON g.oid = c.oid AND g.grantee = r.oid AND g.privilege_type = p.privilege
        WHERE r.oid <> 0
        GROUP BY 1, 2, 3, 4
       UNION ALL
       SELECT r.rolname, 'default:' || pg_get_userbyid(d.defaclrole) || ':' || CASE d.defaclobjtype WHEN 'S' THEN 'sequences' ELSE 'tables' END,
              s.nspname, a.privilege_type, 0, 1
         FROM r, s JOIN pg_default_acl d ON d.defaclnamespace = s.oid AND d.defaclobjtype IN ('r', 'S'), aclexplode(d.defaclacl) a
        WHERE a.grantee = r.oid AND r.oid <> 0`,
      [roles, schemas],
    );
    return { schemas: found.rows, roles: existing.rows.map((r) => r.rolname), privileges: rows };
  } catch (err) {
    throw classifyError(err, "access");
  }
}

/** One statement of access: a schema, a grant or revoke on objects, or on the default privileges of a creator. */
export type AccessStep =
  | { kind: "createSchema"; database: string; schema: string; owner?: string }
  | { kind: "alterSchemaOwner"; database: string; schema: string; owner: string }
  | {
      kind: "grant" | "revoke";
      database: string;
      privileges: readonly string[];
      on: "database" | "schema" | "tables" | "sequences";
      schema: string;
      role: string;
    }
  | {
      kind: "grantDefault" | "revokeDefault";
      database: string;
      /** Whose new objects: a role, or undefined for the admin running the statement (a database it creates). */
      creator?: string;
      schema: string;
      objects: "tables" | "sequences";
      privileges: readonly string[];
      role: string;
    };

/** Every kind of access step: a kind added to AccessStep and not here does not compile. */
const ACCESS_KINDS: Record<AccessStep["kind"], true> = {
  createSchema: true,
  alterSchemaOwner: true,
  grant: true,
  revoke: true,
  grantDefault: true,
  revokeDefault: true,
};

/** Whether a step is one of access's (schemas, grants, default privileges): it runs inside its database. */
export function isAccessStep(step: { kind: string }): step is AccessStep {
  return Object.hasOwn(ACCESS_KINDS, step.kind);
}

export interface AccessSpec {
  readonly database: string;
  /**
   * The database's owner (as the spec says, or as it is): a creator of tables whose default privileges are set.
   * Undefined for a database the admin creates without an owner: the admin owns it.
   */
  readonly owner?: string;
  readonly schemas: readonly SchemaEntry[];
  readonly access: readonly AccessEntry[];
  readonly revokePublic: boolean;
  /**
   * Schemas on which the admin holds no grant option (a non-superuser admin, a schema whose owner it cannot act as:
   * before Postgres 15, public belongs to the bootstrap superuser). What PUBLIC already holds there is not granted
   * again; anything else is refused, naming the fix.
   */
  readonly ungrantable?: ReadonlySet<string>;
}

/**
 * The steps that bring a database's schemas and access to the spec. Pure. `previous` is the access last applied (the
 * engine's record), so a level lowered or an entry removed revokes what that level granted and the new one does not;
 * without a record nothing is revoked. Roles in `access` must exist (checked by the caller: see missingRoles).
 */
export function planAccess(spec: AccessSpec, observed: ObservedAccess, previous: readonly AccessEntry[] = []): AccessStep[] {
  const planner = new AccessPlanner(spec, observed);
  planner.planSchemas();
  for (const { role, level } of spec.access) planner.apply(role, LEVEL_PRIVILEGES[level], false);
  planner.dropPrevious(previous);
  if (spec.revokePublic) planner.revokeFromPublic();
  return planner.steps;
}

/** The planning of one database's access, step by step, against what was observed there. */
class AccessPlanner {
  readonly steps: AccessStep[] = [];
  private readonly database: string;
  private readonly schemaOwner: Map<string, string>;
  private readonly held: Map<string, ObservedAccess["privileges"][number]>;
  private readonly schemas: string[];
  /** Who creates tables: the database's owner and each schema's owner. Their default privileges cover later tables. */
  private readonly creators: (string | undefined)[];

  constructor(
    private readonly spec: AccessSpec,
    private readonly observed: ObservedAccess,
  ) {
    this.database = spec.database;
    this.schemaOwner = new Map(observed.schemas.map((s) => [s.name, s.owner]));
    this.held = new Map(observed.privileges.map((p) => [`${p.role}|${p.object}|${p.schema}|${p.privilege}`, p]));
    this.schemas = accessSchemas(spec.schemas);
    this.creators = [...new Set([spec.owner, ...spec.schemas.map((s) => s.owner ?? this.schemaOwner.get(s.name) ?? spec.owner)])];
  }

  private has(role: string, object: string, schema: string, privilege: string): boolean {
    return (this.held.get(`${role}|${object}|${schema}|${privilege}`)?.present ?? 0) > 0;
  }

  private lacks(role: string, object: string, schema: string, privilege: string): boolean {
    const p = this.held.get(`${role}|${object}|${schema}|${privilege}`);
    return object === "tables" || object === "sequences" ? (p?.missing ?? 0) > 0 : !p;
  }

  private refuse(schema: string, what: string): never {
    throw new AdminLacksPrivilege(
      `${what} on schema "${schema}" of database "${this.database}": the admin is not a superuser and the schema belongs to "${this.schemaOwner.get(schema)}", ` +
        `as the public schema of a new database does before Postgres 15; as a superuser run ALTER SCHEMA ${JSON.stringify(schema)} OWNER TO ` +
        `${JSON.stringify(this.spec.owner ?? "<the database owner>")} in that database (or in its template, for every new one); nothing was run`,
    );
  }

  /** Schemas created, and their owners set, as the spec says. */
  planSchemas(): void {
    const { database } = this;
    for (const s of this.spec.schemas) {
      const owner = s.owner ?? this.spec.owner;
      if (!this.schemaOwner.has(s.name))
        this.steps.push({ kind: "createSchema", database, schema: s.name, ...(owner === undefined ? {} : { owner }) });
      else if (s.owner !== undefined && this.schemaOwner.get(s.name) !== s.owner)
        this.steps.push({ kind: "alterSchemaOwner", database, schema: s.name, owner: s.owner });
    }
  }

  /** Grants (or revokes) `want` per class for `role`, only where it lacks (or has) them. */
  apply(role: string, want: Record<ObjectClass, readonly string[]>, revoke: boolean): void {
    const needs = (object: string, schema: string, privilege: string) =>
      revoke ? this.has(role, object, schema, privilege) : this.lacks(role, object, schema, privilege);
    const onDatabase = want.database.filter((p) => needs("database", "", p));
    if (onDatabase.length)
      this.steps.push({
        kind: revoke ? "revoke" : "grant",
        database: this.database,
        privileges: onDatabase,
        on: "database",
        schema: "",
        role,
      });
    for (const schema of this.schemas) {
      this.applyInSchema(role, want, revoke, schema, needs);
      this.applyDefaults(role, want, revoke, schema);
    }
  }

  private applyInSchema(
    role: string,
    want: Record<ObjectClass, readonly string[]>,
    revoke: boolean,
    schema: string,
    needs: (object: string, schema: string, privilege: string) => boolean,
  ): void {
    for (const on of ["schema", "tables", "sequences"] as const) {
      // A schema still to be created has no tables yet: only its USAGE and the default privileges apply.
      if (on !== "schema" && !this.schemaOwner.has(schema)) continue;
      let privileges = want[on].filter((p) => needs(on, schema, p));
      if (on === "schema" && this.spec.ungrantable?.has(schema)) {
        // Everyone holds these already; granting them by name is beyond this admin there and changes nothing.
        privileges = privileges.filter((p) => revoke || !this.has(PUBLIC, "schema", schema, p));
        if (privileges.length) this.refuse(schema, `${revoke ? "REVOKE" : "GRANT"} ${privileges.join(", ")} for "${role}"`);
      }
      if (privileges.length) this.steps.push({ kind: revoke ? "revoke" : "grant", database: this.database, privileges, on, schema, role });
    }
  }

  /** The default privileges each creator's later tables and sequences give `role`. */
  private applyDefaults(role: string, want: Record<ObjectClass, readonly string[]>, revoke: boolean, schema: string): void {
    for (const creator of this.creators) {
      for (const objects of ["tables", "sequences"] as const) {
        const object = `default:${creator ?? ""}:${objects}`;
        const privileges = want[objects].filter((p) => (revoke ? this.has(role, object, schema, p) : !this.has(role, object, schema, p)));
        if (privileges.length)
          this.steps.push({
            kind: revoke ? "revokeDefault" : "grantDefault",
            database: this.database,
            ...(creator === undefined ? {} : { creator }),
            schema,
            objects,
            privileges,
            role,
          });
      }
    }
  }

  /** What the old level granted that the new one (if any) does not; a role that no longer exists holds nothing. */
  dropPrevious(previous: readonly AccessEntry[]): void {
    const levels = new Map(this.spec.access.map((a) => [a.role, a.level]));
    for (const { role, level } of previous) {
      if (!this.observed.roles.includes(role)) continue;
      const now = levels.get(role);
      const drop = Object.fromEntries(
        (Object.keys(LEVEL_PRIVILEGES[level]) as ObjectClass[]).map((c) => [
          c,
          LEVEL_PRIVILEGES[level][c].filter((p) => !(now && LEVEL_PRIVILEGES[now][c].includes(p))),
        ]),
      ) as Record<ObjectClass, string[]>;
      this.apply(role, drop, true);
    }
  }

  /** revokePublic: CONNECT on the database and CREATE on public, from PUBLIC. */
  revokeFromPublic(): void {
    const { database } = this;
    if (this.has(PUBLIC, "database", "", "CONNECT"))
      this.steps.push({ kind: "revoke", database, privileges: ["CONNECT"], on: "database", schema: "", role: PUBLIC });
    if (this.has(PUBLIC, "schema", "public", "CREATE") && this.spec.ungrantable?.has("public"))
      this.refuse("public", "revokePublic: REVOKE CREATE FROM PUBLIC");
    if (this.has(PUBLIC, "schema", "public", "CREATE"))
      this.steps.push({ kind: "revoke", database, privileges: ["CREATE"], on: "schema", schema: "public", role: PUBLIC });
  }
}

/** Roles named in `access` that do not exist (yet). */
export function missingRoles(spec: Pick<AccessSpec, "access">, observed: ObservedAccess): string[] {
  return spec.access.map((a) => a.role).filter((r) => !observed.roles.includes(r));
}

const KNOWN_PRIVILEGES = new Set(["CONNECT", "USAGE", "CREATE", "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"]);
const ON: Record<"schema" | "tables" | "sequences", string> = {
  schema: "SCHEMA",
  tables: "ALL TABLES IN SCHEMA",
  sequences: "ALL SEQUENCES IN SCHEMA",
};

/** The statement of an access step. Identifiers go through the driver's escaping; privileges come from LEVEL_PRIVILEGES. */
export function accessStepSql(step: AccessStep, id: (s: string) => string): string {
  const grantee = (role: string) => (role === PUBLIC ? "PUBLIC" : id(role));
  const privileges = (list: readonly string[]) => {
    for (const p of list) if (!KNOWN_PRIVILEGES.has(p)) throw new TypeError(`not a privilege pg-kopf grants: ${p}`);
    return list.join(", ");
  };
  switch (step.kind) {
    case "createSchema":
      return step.owner === undefined
        ? `CREATE SCHEMA ${id(step.schema)}`
        : `CREATE SCHEMA ${id(step.schema)} AUTHORIZATION ${id(step.owner)}`;
    case "alterSchemaOwner":
      return `ALTER SCHEMA ${id(step.schema)} OWNER TO ${id(step.owner)}`;
    case "grant":
    case "revoke": {
      const on = step.on === "database" ? `DATABASE ${id(step.database)}` : `${ON[step.on]} ${id(step.schema)}`;
      return step.kind === "grant"
        ? `GRANT ${privileges(step.privileges)} ON ${on} TO ${grantee(step.role)}`
        : `REVOKE ${privileges(step.privileges)} ON ${on} FROM ${grantee(step.role)}`;
    }
    case "grantDefault":
    case "revokeDefault": {
      const forRole = step.creator === undefined ? "" : ` FOR ROLE ${id(step.creator)}`;
      const what = `${privileges(step.privileges)} ON ${step.objects.toUpperCase()}`;
      return step.kind === "grantDefault"
        ? `ALTER DEFAULT PRIVILEGES${forRole} IN SCHEMA ${id(step.schema)} GRANT ${what} TO ${grantee(step.role)}`
        : `ALTER DEFAULT PRIVILEGES${forRole} IN SCHEMA ${id(step.schema)} REVOKE ${what} FROM ${grantee(step.role)}`;
    }
  }
}

/** The schema, table and sequence names access needs observed: the declared schemas and public. */
export function accessSchemas(schemas: readonly SchemaEntry[] | undefined): string[] {
  return [...new Set(["public", ...(schemas ?? []).map((s) => s.name)])];
}
