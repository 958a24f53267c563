// Reads the catalog into an ObservedDatabase: what the database is now, whoever made it so.
import type { Client } from "pg";
import { classifyError } from "../errors";
import { withClient, type ConnectionSettings } from "../connect";
import type { ObservedAccess } from "./access";
import { parseSetconfig, type Settings } from "../settings";

export interface ObservedDatabase {
  readonly name: string;
  readonly oid: number;
  readonly owner: string;
  readonly encoding: string;
  readonly lcCollate: string;
  readonly lcCtype: string;
  readonly localeProvider: "libc" | "icu";
  readonly icuLocale?: string;
  readonly tablespace: string;
  readonly connectionLimit: number;
  readonly allowConnections: boolean;
  readonly isTemplate: boolean;
  /** The database's own settings (pg_db_role_setting, setrole 0), as Postgres stores them. */
  readonly config: Settings;
  /** Settings of roles in this database, for the roles asked about that exist; read only when asked for. */
  readonly roleConfig?: Readonly<Record<string, Settings>>;
  /** The database comment: where the ownership stamp lives. */
  readonly comment?: string;
  /** Installed extensions; read only when asked for and the database accepts connections. */
  readonly extensions?: readonly string[];
  /** Schemas and privileges inside it; read only when the spec (or the access last applied) has any. */
  readonly access?: ObservedAccess;
}

export interface Session {
  readonly pid: number;
  readonly user: string;
  readonly application: string;
  readonly clientAddress: string;
}

// to_jsonb(d) rather than named columns: daticulocale (15) became datlocale (17); one query serves both.
const DATABASE_QUERY = `
  SELECT d.oid::int AS oid, d.datname AS name, r.rolname AS owner, pg_encoding_to_char(d.encoding) AS encoding,
         d.datcollate AS lc_collate, d.datctype AS lc_ctype, to_jsonb(d) AS raw, t.spcname AS tablespace,
         d.datconnlimit AS connection_limit, d.datallowconn AS allow_connections, d.datistemplate AS is_template,
         shobj_description(d.oid, 'pg_database') AS comment,
         (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS config
    FROM pg_database d
    JOIN pg_roles r ON r.oid = d.datdba
    JOIN pg_tablespace t ON t.oid = d.dattablespace
   WHERE d.datname = $1`;

/**
 * Reads one database from the catalog over an open admin client. Returns undefined when it does not exist.
 * Read-only; throws a typed PgKopfError on failure.
 */
export async function observeDatabaseWith(client: Client, name: string): Promise<ObservedDatabase | undefined> {
  try {
    const { rows } = await client.query(DATABASE_QUERY, [name]);
    if (rows.length === 0) return undefined;
    const r = rows[0];
    const raw = r.raw as Record<string, unknown>;
    const provider = raw.datlocprovider === "i" ? "icu" : "libc";
    const icu = (raw.daticulocale ?? raw.datlocale) as string | null | undefined;
    return {
      name: r.name,
      oid: r.oid,
      owner: r.owner,
      encoding: r.encoding,
      lcCollate: r.lc_collate,
      lcCtype: r.lc_ctype,
      localeProvider: provider,
      ...(provider === "icu" && icu ? { icuLocale: icu } : {}),
      tablespace: r.tablespace,
      connectionLimit: r.connection_limit,
      allowConnections: r.allow_connections,
      isTemplate: r.is_template,
      config: parseSetconfig(r.config),
      ...(r.comment !== null ? { comment: r.comment } : {}),
    };
  } catch (err) {
    throw classifyError(err);
  }
}

/**
 * The settings of each role of `roles` in the database of `oid` (an empty map for one with none); a role that does
 * not exist is absent. Over an open admin client; throws a typed PgKopfError.
 */
export async function observeRoleConfigWith(client: Client, oid: number, roles: readonly string[]): Promise<Record<string, Settings>> {
  try {
    const { rows } = await client.query(
      `SELECT r.rolname AS role, s.setconfig FROM pg_roles r
         LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = $1
        WHERE r.rolname = ANY($2::text[])`,
      [oid, roles],
    );
    return Object.fromEntries(rows.map((r) => [r.role as string, parseSetconfig(r.setconfig)]));
  } catch (err) {
    throw classifyError(err, "roleConfig");
  }
}

/** observeDatabaseWith, and with `roles`, the settings of those roles in it (observeRoleConfigWith). */
export async function observeDatabaseAndRolesWith(
  client: Client,
  name: string,
  roles: readonly string[],
): Promise<ObservedDatabase | undefined> {
  const found = await observeDatabaseWith(client, name);
  return found && roles.length ? { ...found, roleConfig: await observeRoleConfigWith(client, found.oid, roles) } : found;
}

/** Lists the extensions installed in a database, connecting to it. Throws a typed PgKopfError. */
export async function observeExtensions(settings: ConnectionSettings, database: string): Promise<string[]> {
  return withClient(settings, database, observeExtensionsWith);
}

/** Lists the extensions installed in the database `c` is connected to. Throws a typed PgKopfError. */
export async function observeExtensionsWith(c: Client): Promise<string[]> {
  try {
    const { rows } = await c.query("SELECT extname FROM pg_extension ORDER BY extname");
    return rows.map((r) => r.extname as string);
  } catch (err) {
    throw classifyError(err, "extensions");
  }
}

/** The sessions connected to a database, other than our own. Used to refuse a drop that would cut them off. */
export async function observeSessions(client: Client, database: string): Promise<Session[]> {
  try {
    const { rows } = await client.query(
      `SELECT pid, coalesce(usename, '') AS user, coalesce(application_name, '') AS application,
              coalesce(host(client_addr), 'local') AS client_address
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid`,
      [database],
    );
    return rows.map((r) => ({ pid: r.pid, user: r.user, application: r.application, clientAddress: r.client_address }));
  } catch (err) {
    throw classifyError(err);
  }
}

/**
 * Observes a database and, when `withExtensions` and it accepts connections, its extensions; with `roleConfigOf`, the
 * settings of those roles in it. Returns undefined when the database does not exist. Read-only.
 */
export async function observeDatabase(
  settings: ConnectionSettings,
  name: string,
  options: { withExtensions?: boolean; roleConfigOf?: readonly string[] } = {},
): Promise<ObservedDatabase | undefined> {
  const db = await withClient(settings, undefined, (c) => observeDatabaseAndRolesWith(c, name, options.roleConfigOf ?? []));
  if (!db || !options.withExtensions || !db.allowConnections) return db;
  return { ...db, extensions: await observeExtensions(settings, name) };
}
