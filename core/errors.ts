// Typed failures of the core: permanent ones (stop and report) versus transient ones (retry with backoff),
// and the mapping from Postgres SQLSTATEs and socket errors to them.

/** One problem with a spec, named by its field, with the fix in the message. */
export interface FieldFailure {
  readonly field: string;
  readonly message: string;
}

/**
 * The reason an operation failed, in the words status conditions use. Permanent reasons need the user to change
 * something; transient ones resolve by themselves and are retried.
 */
export type FailureReason =
  | "InvalidSpec"
  | "NotOwned"
  | "DatabaseInUse"
  | "RoleInUse"
  | "RoleMissing"
  | "PostgresUnavailable"
  | "AuthenticationFailed"
  | "TlsFailed"
  | "PostgresRejected"
  | "PlanChanged"
  | "AdminLacksPrivilege"
  | ServerUnavailableReason;

/** Where a failure came from, and when trying again is worth it (a hint: the caller may wait longer). */
export interface FailureOptions {
  readonly sqlstate?: string;
  readonly cause?: unknown;
  /** How long to wait before trying again, when the failure says (kopf's TemporaryError(delay)); else the caller's backoff. */
  readonly retryAfterMs?: number;
}

/** Every failure of the core: one subclass per reason (below), so callers tell them apart by class or by reason. */
export class PgKopfError extends Error {
  readonly reason: FailureReason;
  readonly transient: boolean;
  readonly sqlstate: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(reason: FailureReason, message: string, options: FailureOptions & { transient: boolean }) {
    super(message, { cause: options.cause });
    this.name = reason;
    this.reason = reason;
    this.transient = options.transient;
    this.sqlstate = options.sqlstate;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** The same failure (its class, reason and fields), its message prefixed by where it happened. */
  within(where: string): this {
    const copy = Object.assign(Object.create(Object.getPrototypeOf(this)) as this, this);
    copy.message = `${where}: ${this.message}`;
    Object.defineProperty(copy, "cause", { value: this.cause, enumerable: false });
    return copy;
  }
}

/** The server did not answer, or answered that it cannot now (too many connections, shutting down, a deadlock). */
export class PostgresUnavailable extends PgKopfError {
  constructor(message: string, options: FailureOptions = {}) {
    super("PostgresUnavailable", message, { transient: true, ...options });
  }
}

/** The server refused the admin's credentials (or there are none to give). */
export class AuthenticationFailed extends PgKopfError {
  constructor(message: string, options: FailureOptions = {}) {
    super("AuthenticationFailed", message, { transient: false, ...options });
  }
}

/** TLS could not be set up as the settings ask; the message names the setting to change. */
export class TlsFailed extends PgKopfError {
  constructor(message: string, options: FailureOptions = {}) {
    super("TlsFailed", message, { transient: false, ...options });
  }
}

/** Postgres refused a statement for a reason no other class names. */
export class PostgresRejected extends PgKopfError {
  constructor(message: string, options: FailureOptions & { transient?: boolean } = {}) {
    super("PostgresRejected", message, { transient: false, ...options });
  }
}

/**
 * What would run now is not what the reviewer was shown (the database or role changed since the preview): nothing
 * ran. Permanent: a new preview shows the new plan.
 */
export class PlanChanged extends PgKopfError {
  constructor(what: string, planned: readonly string[], now: readonly string[]) {
    super(
      "PlanChanged",
      `the ${what} changed since the plan was shown: planned ${JSON.stringify(planned)}, now ${JSON.stringify(now)}; nothing was run. Preview again.`,
      { transient: false },
    );
  }
}

/** The spec cannot be applied as written; retrying the same spec cannot help. */
export class InvalidSpec extends PgKopfError {
  readonly failures: readonly FieldFailure[];

  constructor(failures: readonly FieldFailure[], options: FailureOptions = {}) {
    super("InvalidSpec", failures.map((f) => `${f.field}: ${f.message}`).join("; "), { transient: false, ...options });
    this.failures = failures;
  }
}

/** The database exists but carries another manager's stamp (or none) and the spec does not say to adopt it. */
export class NotOwned extends PgKopfError {
  constructor(message: string) {
    super("NotOwned", message, { transient: false });
  }
}

/** A drop was refused because sessions are connected and forceDrop is not set. Retrying later may succeed. */
export class DatabaseInUse extends PgKopfError {
  constructor(message: string, options: FailureOptions = {}) {
    super("DatabaseInUse", message, { transient: true, ...options });
  }
}

/**
 * A role was not dropped because it still owns objects or holds privileges (listed): dropping it would fail or, with
 * DROP OWNED, lose them. The user says where they go (reassignOwnedTo) or moves them.
 */
export class RoleInUse extends PgKopfError {
  constructor(message: string, options: FailureOptions = {}) {
    super("RoleInUse", message, { transient: false, ...options });
  }
}

/**
 * A role the spec names (owner, a schema's owner, access) does not exist yet. Transient: it may be declared next to
 * the database and be on its way. `remedy`: what to do, in the words of the engine that reports it (withRemedy).
 */
export class RoleMissing extends PgKopfError {
  /** `field`: where the spec names the roles (owner, schemas, access). */
  constructor(
    readonly roles: readonly string[],
    readonly field = "access",
    remedy = `create it first, or remove it from ${field}`,
  ) {
    super("RoleMissing", `${field}: role ${roles.map((r) => `"${r}"`).join(", ")} does not exist yet; ${remedy}`, { transient: true });
  }

  /** The same failure with the remedy of the engine that reports it. */
  withRemedy(remedy: string): RoleMissing {
    return new RoleMissing(this.roles, this.field, remedy);
  }
}

/**
 * The admin connection's role lacks a privilege the plan needs (it is not a superuser, as on managed services): the
 * message names the privilege and the statement that grants it. Found before anything runs.
 */
export class AdminLacksPrivilege extends PgKopfError {
  constructor(message: string) {
    super("AdminLacksPrivilege", message, { transient: false });
  }
}

/**
 * Why the server an object names cannot be used (the controller's PgServers): none has that name, it does not
 * serve the object's namespace, it is down, or it refuses the controller (credentials, TLS).
 */
export type ServerUnavailableReason = "ServerNotFound" | "ServerNotAllowed" | "ServerUnreachable" | "ServerNotReady";

/** The server an object names cannot be used now. Transient only when it is down: the rest need a change. */
export class ServerUnavailable extends PgKopfError {
  constructor(reason: ServerUnavailableReason, message: string) {
    super(reason, message, { transient: reason === "ServerUnreachable" });
  }
}

// SQLSTATEs that describe a passing condition of the server, not a problem with the request.
const transientStates = new Map<string, string>([
  ["53300", "too many connections"],
  ["53400", "configuration limit exceeded"],
  ["55P03", "lock not available"],
  ["57P01", "server shutting down"],
  ["57P02", "crash shutdown"],
  // cannot_connect_now: starting up, shutting down or in recovery; Postgres's own words say which.
  ["57P03", "server not accepting connections now"],
  ["57014", "statement timeout"],
  ["40001", "serialization failure"],
  ["40P01", "deadlock detected"],
  ["53100", "disk full"],
  ["53200", "out of memory"],
]);

/**
 * How long a passing condition usually lasts, where that is longer than a quick retry: a full connection table
 * frees up as other clients finish, not within the queue's first backoff.
 */
const RETRY_AFTER_MS: Readonly<Record<string, number>> = { "53300": 5_000 };

// SQLSTATEs that point at a field of the spec, so the user knows which one to fix.
const specStates = new Map<string, string>([
  ["42704", "owner"], // undefined_object: the role (or tablespace) does not exist
  ["3D000", "template"], // invalid_catalog_name: e.g. the template database does not exist
  ["22023", "spec"], // invalid_parameter_value: bad locale, encoding incompatible with locale
  ["42P04", "name"], // duplicate_database
  ["58P01", "extensions"], // undefined_file: extension control file missing on the server
]);

const transientSocketCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
]);

// Node's certificate verification codes, each with the fix, naming the setting that gives the CA as the user sets it.
const certificateFixes = new Map<string, (ca: string) => string>([
  ["SELF_SIGNED_CERT_IN_CHAIN", (ca) => `the server's certificate is not signed by the CA in ${ca}: set ${ca} to the CA that signed it`],
  [
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    (ca) => `the server's certificate is not signed by the CA in ${ca}: set ${ca} to the CA that signed it (the whole chain)`,
  ],
  [
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    (ca) => `the server's certificate is not signed by the CA in ${ca}: set ${ca} to the CA that signed it`,
  ],
  [
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    (ca) => `the server's certificate is self-signed: set ${ca} to that certificate, or use sslmode require (encrypted, not verified)`,
  ],
  ["CERT_HAS_EXPIRED", () => "the server's certificate has expired: renew it on the server"],
  ["CERT_NOT_YET_VALID", () => "the server's certificate is not valid yet: check the clocks of both machines"],
  [
    "ERR_TLS_CERT_ALTNAME_INVALID",
    () =>
      "the server's certificate does not name this host: connect with a host name the certificate lists, or use sslmode verify-ca (CA checked, name not)",
  ],
]);

/** How a TLS failure names the CA setting when the connection does not say (ConnectionSettings.caSetting). */
export const DEFAULT_CA_SETTING = "sslrootcert (PGSSLROOTCERT)";

/**
 * A certificate error without Node's own advice ("… try running Node.js with --use-system-ca"), the sentence that
 * holds it and what follows: wrong here, where the CA is a setting of pg-kopf's, which the fix names instead.
 */
function withoutNodeAdvice(message: string): string {
  const at = message.indexOf("--use-system-ca");
  if (at < 0) return message;
  const sentence = message.lastIndexOf(". ", at);
  return sentence < 0 ? message : message.slice(0, sentence);
}

/** pg_hba.conf refusing a plain-text connection: "no encryption" from Postgres 14, "SSL off" before. */
export const NO_ENCRYPTION = /no encryption|SSL off/i;

/** The fix for a TLS failure, or undefined when the error is not one. */
function tlsFailure(code: string | undefined, message: string, ca: string): string | undefined {
  const fix = code ? certificateFixes.get(code) : undefined;
  if (fix) return fix(ca);
  if (/does not support SSL/i.test(message))
    return "the server does not accept TLS connections: enable ssl on the server, or use sslmode prefer or disable";
  if (code === "28000" && NO_ENCRYPTION.test(message))
    return "pg_hba.conf accepts this connection only with TLS: use sslmode require, verify-ca or verify-full";
  if (code === "28000" && /SSL encryption/i.test(message) && /hostnossl|SSL on/i.test(message))
    return "pg_hba.conf refuses TLS for this connection: use sslmode disable or prefer";
  return undefined;
}

/**
 * Whether a failure means the server did not answer at all (down, starting, shutting down, unreachable): what is
 * worth retrying as soon as it answers again. A deadlock or a full connection table is not: the server answered.
 */
export function serverDown(e: PgKopfError): boolean {
  if (e.reason === "ServerUnreachable") return true;
  if (e.reason !== "PostgresUnavailable") return false;
  const code = e.sqlstate;
  return code === undefined || code.startsWith("08") || /^57P0[123]$/.test(code) || transientSocketCodes.has(code);
}

/**
 * Maps any error thrown while talking to Postgres to a PgKopfError. Errors that are already typed pass through.
 * Never throws; never includes connection secrets (pg's messages do not carry the password).
 */
export function classifyError(err: unknown, field?: string, caSetting: string = DEFAULT_CA_SETTING): PgKopfError {
  if (err instanceof PgKopfError) return err;
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === "string" ? e.code : undefined;
  const message = typeof e?.message === "string" ? e.message : String(err);

  if (code && transientStates.has(code)) {
    return new PostgresUnavailable(`${transientStates.get(code)}: ${message}`, {
      sqlstate: code,
      cause: err,
      retryAfterMs: RETRY_AFTER_MS[code],
    });
  }
  if (code === "55006") return new DatabaseInUse(message, { sqlstate: code, cause: err });
  if (code?.startsWith("08")) {
    return new PostgresUnavailable(message, { sqlstate: code, cause: err });
  }
  const tls = tlsFailure(code, message, caSetting);
  if (tls)
    return new TlsFailed(`${withoutNodeAdvice(message)}: ${tls}`, {
      sqlstate: code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined,
      cause: err,
    });
  if (code === "28P01" || code === "28000") {
    return new AuthenticationFailed(`${message} (check the admin user and its password in PGPASSWORD or the password file)`, {
      sqlstate: code,
      cause: err,
    });
  }
  if (code && specStates.has(code)) {
    return new InvalidSpec([{ field: field ?? specStates.get(code)!, message }], { sqlstate: code, cause: err });
  }
  if ((code && transientSocketCodes.has(code)) || /Connection terminated|timeout expired|connect ETIMEDOUT/i.test(message)) {
    return new PostgresUnavailable(message, { sqlstate: code, cause: err });
  }
  return new PostgresRejected(message, {
    sqlstate: code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined,
    cause: err,
  });
}
