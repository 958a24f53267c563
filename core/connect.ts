// Connection settings for the admin connection, decided in one place (explicit > libpq environment > defaults),
// and withClient, which opens a client, uses it and always closes it.
import { readFileSync } from "node:fs";
import { Pool, type Client, type ClientConfig, type PoolClient } from "pg";
import pgpass from "pgpass";
import type { ConnectionOptions } from "node:tls";
import { withBackoff } from "./backoff";
import { kerberosClientClass, PasswordClient, UnansweredAuthentication } from "./driver";
import { privateFile } from "./privateFile";
import { AUTH_ENV, type AuthMethod, type GssEncMode, kerberosFailure, kerberosSettings } from "./kerberos";
import {
  AuthenticationFailed,
  classifyError,
  InvalidSpec,
  NO_ENCRYPTION,
  PgKopfError,
  PostgresRejected,
  PostgresUnavailable,
  TlsFailed,
} from "./errors";

export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";
export const SSL_MODES: readonly SslMode[] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

/**
 * The server a database or role is on when it names none: the admin connection of the provider's configuration, or
 * the controller's own environment. Other servers are named (pg-kopf:servers, PgServer objects).
 */
export const DEFAULT_SERVER = "default";

/** Where and how to reach Postgres as an administrator. The password property is never enumerable. */
export interface ConnectionSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
  /**
   * How the admin authenticates: a password, or Kerberos (GSSAPI) through libpq with the process's keytab or ticket
   * cache (KRB5_CLIENT_KTNAME, KRB5CCNAME, KRB5_CONFIG), no password read or sent.
   */
  readonly auth: AuthMethod;
  /** Kerberos only: GSSAPI encryption (libpq's gssencmode; its default prefer). */
  readonly gssencmode?: GssEncMode;
  /** Kerberos only: the service of the server's principal (libpq's krbsrvname; default postgres). */
  readonly krbsrvname?: string;
  /**
   * Kerberos only: this server's own client keytab (a file), instead of the process's KRB5_CLIENT_KTNAME: the
   * principal it is reached as. Its tickets are kept in memory, apart from other servers' (core/krb5Environment).
   */
  readonly keytab?: string;
  /** Kerberos only: this server's own krb5.conf (a file), instead of the process's KRB5_CONFIG. */
  readonly krb5Conf?: string;
  /** The setting a user changes to choose the authentication method, as failures name it. Default: PGKOPF_AUTH. */
  readonly authSetting?: string;
  /** The maintenance database to connect to for CREATE/ALTER/DROP DATABASE. */
  readonly database: string;
  readonly sslmode: SslMode;
  /** PEM text of the CA that signs the server certificate (verify-ca, verify-full). */
  readonly sslrootcert?: string;
  /** The file the CA was read from, when it was (libpq, for Kerberos, reads it there). */
  readonly sslrootcertFile?: string;
  readonly connectTimeoutSeconds: number;
  readonly applicationName: string;
  /** The server's name, when it has one (pg-kopf:servers, a PgServer): connection failures name it. */
  readonly serverName?: string;
  /**
   * The setting a user changes to give the CA, as TLS failures name it (pg-kopf:adminSslRootCert, a server entry's
   * sslRootCert, a PgServer's spec.ca). Default: DEFAULT_CA_SETTING.
   */
  readonly caSetting?: string;
  /** Reused connections to the maintenance database, for long-running processes (see withPool). */
  readonly pool?: NegotiatedPool;
  /**
   * For how long a connection refused for a passing reason (too many connections, starting up or shutting down) is
   * tried again, with a jittered backoff, before the failure is reported. Default 0: the caller retries (the
   * controller's queue); the provider, whose failure fails the resource, waits (PROVIDER_BUSY_RETRY_SECONDS).
   */
  readonly retryBusySeconds?: number;
}

/** SQLSTATEs of a server that refuses connections for now: too many connections, starting up, shutting down. */
const BUSY_STATES = new Set(["53300", "57P03", "57P01"]);

/**
 * Runs `connect` again while it fails because the server is busy (BUSY_STATES), for up to `seconds`, with a
 * jittered backoff from 50 ms to 2 s; any other failure, or the last busy one, is thrown as it came.
 */
function retryingBusy<T>(seconds: number, connect: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  return withBackoff(connect, {
    again: (err) => {
      const code = (err as { code?: unknown; sqlstate?: unknown }).sqlstate ?? (err as { code?: unknown }).code;
      return typeof code === "string" && BUSY_STATES.has(code) && Date.now() < deadline;
    },
    firstMs: 50,
    maxMs: 2000,
    deadline,
  });
}

export type ConnectionInput = Partial<
  Omit<ConnectionSettings, "port" | "connectTimeoutSeconds" | "sslmode" | "serverName" | "auth" | "gssencmode">
> & {
  serverName?: string;
  auth?: string;
  gssencmode?: string;
  port?: number | string;
  connectTimeoutSeconds?: number | string;
  sslmode?: string;
  /** A path to the CA file, as PGSSLROOTCERT gives it; read once here. */
  sslrootcertFile?: string;
};

/**
 * Builds settings from explicit values, then libpq-style environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD,
 * PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGCONNECT_TIMEOUT, PGAPPNAME, PGGSSENCMODE, PGKRBSRVNAME, and PGKOPF_AUTH for
 * the authentication method), then defaults. With Kerberos no password is read. Throws InvalidSpec naming the
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
  const kerberos = kerberosSettings({
    auth: pick(explicit.auth, AUTH_ENV) as string | undefined,
    gssencmode: pick(explicit.gssencmode, "PGGSSENCMODE") as string | undefined,
    krbsrvname: pick(explicit.krbsrvname, "PGKRBSRVNAME") as string | undefined,
    keytab: explicit.keytab || undefined,
    krb5Conf: explicit.krb5Conf || undefined,
  });
  const settings: ConnectionSettings = {
    host: String(pick(explicit.host, "PGHOST") ?? "localhost"),
    port,
    user: String(pick(explicit.user, "PGUSER") ?? "postgres"),
    database: String(pick(explicit.database, "PGDATABASE") ?? "postgres"),
    sslmode,
    sslrootcert,
    ...(explicit.sslrootcert === undefined && typeof caFile === "string" ? { sslrootcertFile: caFile } : {}),
    connectTimeoutSeconds: timeout,
    applicationName: String(pick(explicit.applicationName, "PGAPPNAME") ?? "pg-kopf"),
    ...(explicit.serverName ? { serverName: explicit.serverName } : {}),
    ...(explicit.caSetting ? { caSetting: explicit.caSetting } : {}),
    ...kerberos,
    ...(explicit.authSetting ? { authSetting: explicit.authSetting } : {}),
  };
  const password = kerberos.auth === "kerberos" ? undefined : pick(explicit.password, "PGPASSWORD");
  // Like pg's own Client: a non-enumerable password never shows up in JSON.stringify, util.inspect or logs.
  Object.defineProperty(settings, "password", { value: password, enumerable: false });
  return settings;
}

type Tls = ClientConfig["ssl"];
const ENCRYPTED_UNVERIFIED: Tls = { rejectUnauthorized: false };

/**
 * The TLS settings to try, in order, as libpq does for each sslmode: prefer tries TLS first and falls back to plain
 * text when the server has no TLS; allow tries plain text first and TLS when pg_hba.conf demands it.
 */
function tlsAttempts(s: ConnectionSettings): Tls[] {
  // libpq (Kerberos) negotiates TLS itself, falling back as its sslmode says.
  if (s.auth === "kerberos") return [libpqTls(s)];
  switch (s.sslmode) {
    case "disable":
      return [false];
    case "allow":
      return [false, ENCRYPTED_UNVERIFIED];
    case "prefer":
      return [ENCRYPTED_UNVERIFIED, false];
    case "require":
      return [ENCRYPTED_UNVERIFIED];
    case "verify-ca": {
      const opts: ConnectionOptions = { ca: s.sslrootcert, rejectUnauthorized: true, checkServerIdentity: () => undefined };
      return [opts];
    }
    case "verify-full":
      return [{ ca: s.sslrootcert, rejectUnauthorized: true, servername: s.host }];
  }
}

/**
 * TLS as libpq takes it: the sslmode, and for verify-ca and verify-full the CA as a file (libpq reads no PEM text):
 * the file it came from, else a private copy in the temporary directory, named by its content.
 */
function libpqTls(s: ConnectionSettings): Tls {
  if (s.sslmode !== "verify-ca" && s.sslmode !== "verify-full") return { sslmode: s.sslmode } as Tls;
  const file = s.sslrootcertFile ?? privateFile("pg-kopf-ca", s.sslrootcert ?? "", ".crt");
  return { sslmode: s.sslmode, sslrootcert: file } as Tls;
}

/** The client class for these settings' authentication (core/driver), one per settings object. */
const clientClasses = new WeakMap<ConnectionSettings, typeof Client>();
function clientClass(s: ConnectionSettings): typeof Client {
  let made = clientClasses.get(s);
  if (!made) {
    made =
      s.auth === "kerberos"
        ? kerberosClientClass(
            { gssencmode: s.gssencmode, krbsrvname: s.krbsrvname },
            { ...(s.keytab ? { keytab: s.keytab } : {}), ...(s.krb5Conf ? { krb5Conf: s.krb5Conf } : {}) },
          )
        : (PasswordClient as unknown as typeof Client);
    clientClasses.set(s, made);
  }
  return made;
}

/** Whether a failed attempt is the one the next TLS setting answers: no TLS on the server, or pg_hba wants it. */
function triesNext(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return /does not support SSL/i.test(e?.message ?? "") || (e?.code === "28000" && NO_ENCRYPTION.test(e?.message ?? ""));
}

/**
 * Connects a client to `database` the way the sslmode says, falling back as libpq does. Returns the connected client
 * and the TLS setting that worked. Throws a typed PgKopfError (TlsFailed naming the setting to fix, for TLS failures).
 */
function connectClient(s: ConnectionSettings, database: string | undefined): Promise<{ client: Client; tls: Tls }> {
  return retryingBusy(s.retryBusySeconds ?? 0, () => connectOnce(s, database));
}

async function connectOnce(s: ConnectionSettings, database: string | undefined): Promise<{ client: Client; tls: Tls }> {
  const attempts = tlsAttempts(s);
  for (let i = 0; ; i++) {
    const client = new (clientClass(s))({ ...clientConfig(s, database), ssl: attempts[i] });
    // An idle client whose server goes away emits 'error'; without a listener that would crash the process.
    client.on("error", () => undefined);
    try {
      await client.connect();
      return { client, tls: attempts[i] };
    } catch (err) {
      await client.end().catch(() => undefined);
      if (i + 1 < attempts.length && triesNext(err)) continue;
      throw connectionFailure(s, err);
    }
  }
}

/**
 * A failure to connect, typed, its message naming the server (by name when it has one) and its address: with more
 * than one server, "certificate does not name this host" alone does not say which.
 */
export function connectionFailure(s: ConnectionSettings, err: unknown): PgKopfError {
  const where = serverWhere(s);
  if (err instanceof UnansweredAuthentication) {
    const setting = s.authSetting ?? AUTH_ENV;
    const fix = `set ${setting} to kerberos for this server, or give the role a password line (scram-sha-256) in pg_hba.conf`;
    return new AuthenticationFailed(`${err.message}: ${fix}`, { cause: err }).within(where);
  }
  // libpq's failures to connect carry no SQLSTATE, only its message.
  const code = (err as { code?: unknown } | undefined)?.code;
  if (s.auth === "kerberos" && !(err instanceof PgKopfError) && code === undefined)
    return kerberosFailure(String((err as Error)?.message ?? err), s).within(where);
  const e = classifyError(err, undefined, s.caSetting);
  // Only the plain failures of a connection (refused, TLS, authentication); a typed one already says what it is.
  const plain = [PostgresUnavailable, AuthenticationFailed, TlsFailed, PostgresRejected].some((c) => e instanceof c);
  if (err instanceof PgKopfError || !plain) return e;
  return e.within(where);
}

/**
 * A connection lost while in use (reset, terminated, the server shutting down) named with its server and address, as
 * a failure to connect is ("read ECONNRESET" alone names neither); any other error passes as it came.
 */
function lostConnection(s: ConnectionSettings, err: unknown): unknown {
  if (err instanceof PgKopfError) return err;
  const code = (err as { code?: unknown }).code;
  const lost =
    (typeof code === "string" && (/^E[A-Z]+$/.test(code) || code.startsWith("08") || code.startsWith("57P"))) ||
    /Connection terminated/i.test(String((err as { message?: unknown }).message));
  return lost ? connectionFailure(s, err) : err;
}

/** How messages name a server: by name when it has one, and by address. */
export function serverWhere(s: ConnectionSettings): string {
  return `${s.serverName ? `server "${s.serverName}" at ` : ""}${s.host}:${s.port}`;
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
              new AuthenticationFailed(
                `no password for ${s.user}@${s.host}:${s.port}: set PGPASSWORD, or add the line ${s.host}:${s.port}:*:${s.user}:<password> to the password file (PGPASSFILE, default ~/.pgpass, mode 0600)`,
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
    // libpq reads no password for Kerberos; pg's client would ask for one if the server wanted it.
    password: s.auth === "kerberos" ? undefined : (s.password ?? passwordFromFile(s, database ?? s.database)),
    database: database ?? s.database,
    ssl: tlsAttempts(s)[0],
    connectionTimeoutMillis: Math.round(s.connectTimeoutSeconds * 1000),
    application_name: s.applicationName,
    // A session that waits on a lock (e.g. ALTER DATABASE while another backend holds it) fails fast and retries
    // instead of hanging the provider or the controller.
    options: "-c lock_timeout=10000 -c statement_timeout=600000",
  };
}

/**
 * A small pool of maintenance-database connections whose TLS setting is negotiated once, by the first connection,
 * as libpq's sslmode says (pg's Pool takes one fixed setting). Until a connection has succeeded nothing is decided,
 * so a Postgres that is down at start is negotiated with when it comes back.
 */
export class NegotiatedPool {
  private pool: Pool | undefined;

  constructor(
    readonly settings: ConnectionSettings,
    private readonly max: number,
  ) {}

  async connect(): Promise<PoolClient> {
    if (!this.pool) {
      const { client, tls } = await connectClient(this.settings, undefined);
      await client.end().catch(() => undefined);
      if (!this.pool) {
        // allowExitOnIdle: idle connections never keep a process alive (the provider's ends with the deployment).
        this.pool = new Pool({
          ...clientConfig(this.settings),
          ssl: tls,
          Client: clientClass(this.settings),
          max: this.max,
          idleTimeoutMillis: 30_000,
          allowExitOnIdle: true,
        });
        // An idle pooled connection whose server goes away emits 'error'; the pool drops it and the next use reconnects.
        this.pool.on("error", () => undefined);
      }
    }
    const pool = this.pool;
    try {
      return await retryingBusy(this.settings.retryBusySeconds ?? 0, () => pool.connect());
    } catch (err) {
      throw connectionFailure(this.settings, err);
    }
  }

  async end(): Promise<void> {
    await this.pool?.end();
  }
}

/** A copy of settings with `changes`, whose password stays hidden from JSON and logging as the original's is. */
function copyOf(s: ConnectionSettings, changes: Partial<ConnectionSettings> = {}): ConnectionSettings {
  const copy = { ...s, ...changes };
  Object.defineProperty(copy, "password", { value: s.password, enumerable: false });
  return copy;
}

/** The same settings, waiting up to `seconds` for a busy server (see retryBusySeconds). */
export function withBusyRetry(s: ConnectionSettings, seconds: number): ConnectionSettings {
  return copyOf(s, { retryBusySeconds: seconds });
}

/**
 * The same settings with a small pool of maintenance-database connections, so a long-running process (the
 * controller) does not pay a TLS and SCRAM handshake per reconcile. The caller ends the pool (settings.pool.end()).
 */
export function withPool(s: ConnectionSettings, max: number): ConnectionSettings {
  const pooled = copyOf(s);
  Object.defineProperty(pooled, "pool", { value: new NegotiatedPool(s, max), enumerable: false });
  return pooled;
}

/**
 * Opens a client to `database` (from the pool, for the maintenance database when there is one), runs `fn` and
 * always closes or releases the client. Connection failures are thrown as typed
 * PgKopfErrors (transient when the server is unreachable). Idempotent as far as `fn` is.
 */
export async function withClient<T>(s: ConnectionSettings, database: string | undefined, fn: (c: Client) => Promise<T>): Promise<T> {
  if (s.pool && (database === undefined || database === s.database)) return withPooledClient(s.pool, fn);
  const { client } = await connectClient(s, database);
  try {
    return await fn(client);
  } catch (err) {
    throw lostConnection(s, err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function withPooledClient<T>(pool: NegotiatedPool, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = await pool.connect();
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
    throw lostConnection(pool.settings, err);
  } finally {
    client.off("error", onError);
    // After a failure the connection may be broken or mid-transaction: discard it rather than reuse it.
    client.release(failed || broken);
  }
}

/** Runs `fn` in a transaction on `client`: committed when it resolves, rolled back when it throws (and rethrown). */
export async function inTransaction<T>(client: Client, fn: () => Promise<T>): Promise<T> {
  await client.query("BEGIN");
  try {
    const result = await fn();
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}
