// Connection settings for the admin connection, decided in one place (explicit > libpq environment > defaults),
// and withClient, which opens a client, uses it and always closes it.
import { readFileSync } from "node:fs";
import { Client, Pool, type ClientConfig, type PoolClient } from "pg";
import pgpass from "pgpass";
import type { ConnectionOptions } from "node:tls";
import { classifyError, InvalidSpec, PgKopfError } from "./errors";

export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";
export const SSL_MODES: readonly SslMode[] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

/** Where and how to reach Postgres as an administrator. The password property is never enumerable. */
export interface ConnectionSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
  /** The maintenance database to connect to for CREATE/ALTER/DROP DATABASE. */
  readonly database: string;
  readonly sslmode: SslMode;
  /** PEM text of the CA that signs the server certificate (verify-ca, verify-full). */
  readonly sslrootcert?: string;
  readonly connectTimeoutSeconds: number;
  readonly applicationName: string;
  /** Reused connections to the maintenance database, for long-running processes (see withPool). */
  readonly pool?: Pool;
}

export type ConnectionInput = Partial<Omit<ConnectionSettings, "port" | "connectTimeoutSeconds" | "sslmode">> & {
  port?: number | string;
  connectTimeoutSeconds?: number | string;
  sslmode?: string;
  /** A path to the CA file, as PGSSLROOTCERT gives it; read once here. */
  sslrootcertFile?: string;
};

/**
 * Builds settings from explicit values, then libpq-style environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD,
 * PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGCONNECT_TIMEOUT, PGAPPNAME), then defaults. Throws InvalidSpec naming the
 * setting when a value is malformed. The returned object hides the password from JSON and logging.
 */
export function connectionSettings(explicit: ConnectionInput = {}, env: NodeJS.ProcessEnv = {}): ConnectionSettings {
  const pick = <T>(value: T | undefined, envName: string): T | string | undefined =>
    value !== undefined && value !== "" ? value : env[envName] !== undefined && env[envName] !== "" ? env[envName] : undefined;

  const port = Number(pick(explicit.port, "PGPORT") ?? 5432);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidSpec([{ field: "port", message: `"${pick(explicit.port, "PGPORT")}" is not a TCP port; use 1-65535` }]);
  }
  const timeout = Number(pick(explicit.connectTimeoutSeconds, "PGCONNECT_TIMEOUT") ?? 10);
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new InvalidSpec([{ field: "connectTimeoutSeconds", message: "use a positive number of seconds" }]);
  }
  const sslmode = String(pick(explicit.sslmode, "PGSSLMODE") ?? "prefer") as SslMode;
  if (!SSL_MODES.includes(sslmode)) {
    throw new InvalidSpec([{ field: "sslmode", message: `"${sslmode}" is not an sslmode; use one of ${SSL_MODES.join(", ")}` }]);
  }
  let sslrootcert = explicit.sslrootcert;
  const caFile = pick(explicit.sslrootcertFile, "PGSSLROOTCERT");
  if (sslrootcert === undefined && typeof caFile === "string") {
    try {
      sslrootcert = readFileSync(caFile, "utf8");
    } catch (err) {
      throw new InvalidSpec([{ field: "sslrootcert", message: `cannot read CA file ${caFile}: ${(err as Error).message}` }]);
    }
  }
  if ((sslmode === "verify-ca" || sslmode === "verify-full") && !sslrootcert) {
    throw new InvalidSpec([{ field: "sslrootcert", message: `sslmode ${sslmode} needs the CA certificate; set sslrootcert` }]);
  }
  const settings: ConnectionSettings = {
    host: String(pick(explicit.host, "PGHOST") ?? "localhost"),
    port,
    user: String(pick(explicit.user, "PGUSER") ?? "postgres"),
    database: String(pick(explicit.database, "PGDATABASE") ?? "postgres"),
    sslmode,
    sslrootcert,
    connectTimeoutSeconds: timeout,
    applicationName: String(pick(explicit.applicationName, "PGAPPNAME") ?? "pg-kopf"),
  };
  const password = pick(explicit.password, "PGPASSWORD");
  // Like pg's own Client: a non-enumerable password never shows up in JSON.stringify, util.inspect or logs.
  Object.defineProperty(settings, "password", { value: password, enumerable: false });
  return settings;
}

function tlsOptions(s: ConnectionSettings): ClientConfig["ssl"] {
  switch (s.sslmode) {
    case "disable":
    case "allow":
    case "prefer":
      // pg cannot fall back between TLS and plain text the way libpq does; these modes connect in plain text.
      return false;
    case "require":
      return { rejectUnauthorized: false };
    case "verify-ca": {
      const opts: ConnectionOptions = { ca: s.sslrootcert, rejectUnauthorized: true, checkServerIdentity: () => undefined };
      return opts;
    }
    case "verify-full":
      return { ca: s.sslrootcert, rejectUnauthorized: true, servername: s.host };
  }
}

/**
 * With no password in the settings, libpq's password file (PGPASSFILE, default ~/.pgpass), matched on host, port,
 * database and user as libpq matches it, read when the server asks for a password (so a rotated password is
 * picked up by the next connection). The pgpass package is node-postgres' own reader of that file.
 */
function passwordFromFile(s: ConnectionSettings, database: string): () => Promise<string> {
  return () =>
    new Promise((resolve, reject) =>
      pgpass({ host: s.host, port: s.port, database, user: s.user }, (password: string | undefined) =>
        password !== undefined
          ? resolve(password)
          : reject(
              new PgKopfError(
                "AuthenticationFailed",
                `no password for ${s.user}@${s.host}:${s.port}: set PGPASSWORD, or add the line ${s.host}:${s.port}:*:${s.user}:<password> to the password file (PGPASSFILE, default ~/.pgpass, mode 0600)`,
                { transient: false },
              ),
            ),
      ),
    );
}

/** The pg client configuration for these settings, connected to `database` (default: the maintenance database). */
export function clientConfig(s: ConnectionSettings, database?: string): ClientConfig {
  return {
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password ?? passwordFromFile(s, database ?? s.database),
    database: database ?? s.database,
    ssl: tlsOptions(s),
    connectionTimeoutMillis: Math.round(s.connectTimeoutSeconds * 1000),
    application_name: s.applicationName,
    // A session that waits on a lock (e.g. ALTER DATABASE while another backend holds it) fails fast and retries
    // instead of hanging the provider or the controller.
    options: "-c lock_timeout=10000 -c statement_timeout=600000",
  };
}

/**
 * The same settings with a small pool of maintenance-database connections, so a long-running process (the
 * controller) does not pay a TLS and SCRAM handshake per reconcile. The caller ends the pool (settings.pool.end()).
 */
export function withPool(s: ConnectionSettings, max: number): ConnectionSettings {
  const pool = new Pool({ ...clientConfig(s), max, idleTimeoutMillis: 30_000 });
  // An idle pooled connection whose server goes away emits 'error'; the pool drops it and the next use reconnects.
  pool.on("error", () => undefined);
  const pooled = { ...s };
  Object.defineProperty(pooled, "password", { value: s.password, enumerable: false });
  Object.defineProperty(pooled, "pool", { value: pool, enumerable: false });
  return pooled;
}

/**
 * Opens a client to `database` (from the pool, for the maintenance database when there is one), runs `fn` and
 * always closes or releases the client. Connection failures are thrown as typed
 * PgKopfErrors (transient when the server is unreachable). Idempotent as far as `fn` is.
 */
export async function withClient<T>(s: ConnectionSettings, database: string | undefined, fn: (c: Client) => Promise<T>): Promise<T> {
  if (s.pool && (database === undefined || database === s.database)) return withPooledClient(s.pool, fn);
  const client = new Client(clientConfig(s, database));
  // An idle client whose server goes away emits 'error'; without a listener that would crash the process.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw classifyError(err);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function withPooledClient<T>(pool: Pool, fn: (c: Client) => Promise<T>): Promise<T> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw classifyError(err);
  }
  // The pool listens for 'error' only on idle clients: a server that goes away between two queries of a checked-out
  // client would otherwise crash the process. The failure surfaces on the next query instead.
  let broken = false;
  const onError = () => {
    broken = true;
  };
  client.on("error", onError);
  let failed = false;
  try {
    return await fn(client as unknown as Client);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    client.off("error", onError);
    // After a failure the connection may be broken or mid-transaction: discard it rather than reuse it.
    client.release(failed || broken);
  }
}
