// Kerberos (GSSAPI) for the admin connection: the settings' vocabulary, and libpq's Kerberos failures mapped to typed
// errors that name the setting to change. The credentials themselves (a keytab, a ticket cache, krb5.conf) are MIT
// Kerberos' own environment (KRB5_CLIENT_KTNAME, KRB5CCNAME, KRB5_CONFIG), read by libpq: pg-kopf never sees them.
import { accessSync, constants } from "node:fs";
import { AuthenticationFailed, InvalidSpec, type PgKopfError, PostgresRejected, PostgresUnavailable } from "./errors";

/** How the admin connection authenticates: a password (SCRAM, md5), or Kerberos through libpq. */
export type AuthMethod = "password" | "kerberos";
export const AUTH_METHODS: readonly AuthMethod[] = ["password", "kerberos"];

/** libpq's gssencmode: whether the connection is encrypted by GSSAPI instead of TLS. */
export type GssEncMode = "disable" | "prefer" | "require";
export const GSS_ENC_MODES: readonly GssEncMode[] = ["disable", "prefer", "require"];

/** The environment variable that selects Kerberos when no explicit setting does (the controller's Deployment). */
export const AUTH_ENV = "PGKOPF_AUTH";

/** A Kerberos service name: the first part of the server's principal (postgres/host@REALM). */
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The Kerberos part of connection settings, validated. Throws InvalidSpec naming the setting. */
export function kerberosSettings(input: { auth?: string; gssencmode?: string; krbsrvname?: string; keytab?: string; krb5Conf?: string }): {
  auth: AuthMethod;
  gssencmode?: GssEncMode;
  krbsrvname?: string;
  keytab?: string;
  krb5Conf?: string;
} {
  const auth = (input.auth ?? "password") as AuthMethod;
  if (!AUTH_METHODS.includes(auth))
    throw new InvalidSpec([
      { field: "auth", message: `"${input.auth}" is not an authentication method; use ${AUTH_METHODS.join(" or ")}` },
    ]);
  const gssencmode = input.gssencmode as GssEncMode | undefined;
  if (gssencmode !== undefined && !GSS_ENC_MODES.includes(gssencmode))
    throw new InvalidSpec([
      { field: "gssencmode", message: `"${gssencmode}" is not a gssencmode; use one of ${GSS_ENC_MODES.join(", ")}` },
    ]);
  if (input.krbsrvname !== undefined && !SERVICE_NAME.test(input.krbsrvname))
    throw new InvalidSpec([
      {
        field: "krbsrvname",
        message: `"${input.krbsrvname}" is not a Kerberos service name (the part before "/" of the server's principal, e.g. postgres)`,
      },
    ]);
  const needsKerberos =
    gssencmode === "require" ? "gssencmode require" : (["krbsrvname", "keytab", "krb5Conf"] as const).find((k) => input[k] !== undefined);
  if (auth === "password" && needsKerberos)
    throw new InvalidSpec([{ field: "auth", message: `${needsKerberos} needs Kerberos: set auth to kerberos` }]);
  for (const field of ["keytab", "krb5Conf"] as const) {
    const file = input[field];
    if (file === undefined) continue;
    // Read now, so that a wrong path is named here rather than as MIT Kerberos' "No Kerberos credentials available".
    try {
      accessSync(file, constants.R_OK);
    } catch (err) {
      throw new InvalidSpec([{ field, message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
    }
  }
  return {
    auth,
    ...(gssencmode ? { gssencmode } : {}),
    ...(input.krbsrvname ? { krbsrvname: input.krbsrvname } : {}),
    ...(input.keytab ? { keytab: input.keytab } : {}),
    ...(input.krb5Conf ? { krb5Conf: input.krb5Conf } : {}),
  };
}

/** What a Kerberos failure message needs to know of the connection. */
export interface KerberosTarget {
  readonly host: string;
  readonly user: string;
  readonly krbsrvname?: string;
  /** The server's own keytab, when it has one. */
  readonly keytab?: string;
  /** The setting that selects the authentication method, as messages name it. */
  readonly authSetting?: string;
}

/** libpq's message without its "connection to server at …, port … failed:" prefix (the caller names the server). */
function libpqReason(message: string): string {
  const first = message.split("\n").find((line) => line.trim() !== "") ?? message;
  return first
    .replace(/^connection to server (at|on) .*? failed: /, "")
    .replace(/^FATAL:\s+/, "")
    .trim();
}

const UNREACHABLE =
  /Connection refused|could not translate host name|timeout expired|server closed the connection unexpectedly|No route to host|Network is unreachable|Connection timed out|too many clients|the database system is (starting up|shutting down|in recovery mode)/i;

/**
 * A failure of libpq to connect with Kerberos, typed, its message saying what to change: no credentials, a principal
 * the server does not map to the role, a service principal that does not name the host dialled, clock skew, no KDC,
 * a server asking for a password instead. Other failures are typed as the pure-JS driver's are (unreachable is
 * transient). The caller prefixes the server's name and address.
 */
export function kerberosFailure(message: string, t: KerberosTarget): PgKopfError {
  const reason = libpqReason(message);
  const service = t.krbsrvname ?? "postgres";
  const authSetting = t.authSetting ?? AUTH_ENV;
  const spn = reason.match(/Server (\S+) not found in Kerberos database/i)?.[1];
  const refusedRole = reason.match(/GSSAPI authentication failed for user "([^"]+)"/i)?.[1];
  const unknownRealm = reason.match(/Cannot find KDC for realm "?([^"]+)"?/i)?.[1];
  const noCredentials = /No Kerberos credentials available|No credentials cache found|credentials cache .*not found/i.test(reason);
  if (noCredentials && t.keytab)
    return new AuthenticationFailed(
      `No Kerberos credentials available from the server's keytab ${t.keytab}: it must hold a key of the principal that maps to the role "${t.user}" (klist -k) (${reason})`,
    );
  if (noCredentials)
    return new AuthenticationFailed(
      `No Kerberos credentials available: give the process a keytab (KRB5_CLIENT_KTNAME=<file>, renewed from it as tickets expire) or a ticket cache (kinit, KRB5CCNAME) (${reason})`,
    );
  if (spn)
    return new AuthenticationFailed(
      `the realm has no service principal ${spn}: the server's principal must be ${service}/<the host name dialled>@REALM, so the host setting must be that DNS name (here "${t.host}"; not an IP address; in the cluster, the Service's name) and krbsrvname its service (here "${service}")`,
    );
  if (refusedRole)
    return new AuthenticationFailed(
      `the server did not accept this process's Kerberos principal as the role "${refusedRole}": the principal in the keytab or ticket cache (klist) must map to the role by pg_hba.conf (gss include_realm, krb_realm, map=) and pg_ident.conf`,
    );
  // A ticket "not yet valid" is one the KDC, its clock ahead, issued for the server's future.
  if (/Clock skew too great|Ticket not yet valid/i.test(reason))
    return new AuthenticationFailed(
      `clock skew: this host's clock and the KDC's or the server's differ by more than Kerberos allows (5 minutes by default): synchronise them (NTP) (${reason})`,
    );
  if (/Cannot contact any KDC/i.test(reason)) return new PostgresUnavailable(`no KDC answers for the realm; retrying (${reason})`);
  if (unknownRealm)
    return new AuthenticationFailed(`no KDC is known for the realm ${unknownRealm}: name it in krb5.conf's [realms] (KRB5_CONFIG)`);
  if (/no password supplied|password authentication failed|password is required/i.test(reason))
    return new AuthenticationFailed(
      `the server asks role "${t.user}" for a password, but this connection authenticates with Kerberos (${authSetting}): give the role a gss line in pg_hba.conf, or set ${authSetting} to password`,
    );
  if (/GSSAPI|Kerberos|GSS failure|security context/i.test(reason)) return new AuthenticationFailed(reason);
  if (UNREACHABLE.test(reason)) return new PostgresUnavailable(reason);
  return new PostgresRejected(reason);
}
