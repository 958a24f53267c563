// A PgRole's credentials Secret, as data: its name, the keys apps read (written once here, from the password and
// where Postgres is), whether a Secret is this PgRole's to write, and whether a rotation is asked for. Pure: the
// reads and writes are in ./secrets, the decisions in ./reconciler.
import { secretNameFor } from "../../crd/pgrole";
import { PER_DATABASE_KEYS, renderTemplate } from "../../core/role/secretTemplate";
export { STANDARD_KEYS } from "../../core/role/secretTemplate";
import { type CustomObject, PG_ROLE, ROTATE_ANNOTATION } from "../runtime/objects";

export const SECRET_TYPE = "kubernetes.io/basic-auth";
/** On every credentials Secret, so the controller watches only its own Secrets. */
export const MANAGED_BY_LABEL = { "app.kubernetes.io/managed-by": "pg-kopf" } as const;
export const MANAGED_BY_SELECTOR = Object.entries(MANAGED_BY_LABEL)
  .map(([k, v]) => `${k}=${v}`)
  .join(",");
/** On the Secret: the PgRole's rotate annotation its password was generated for, so a rotation happens once. */
export const ROTATED_FOR_ANNOTATION = "pgroles.my.local/rotated-for";

/** Where apps reach Postgres: the address written into the Secret (not necessarily the controller's own). */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /**
   * Where uri and jdbc-uri point when the PgRole names no database: the server's maintenance database, which every
   * role may connect to by default. A URI without one makes libpq try a database named after the role.
   */
  readonly maintenanceDatabase: string;
  /** The server's TLS, as apps should use it: libpq's sslmode, and the CA that signs its certificate (PEM). */
  readonly sslmode?: string;
  readonly ca?: string;
  /**
   * Where the app finds ca.crt (the Secret mounted as a volume at the PgRole's secretMountPath): the URIs' sslrootcert
   * and the {{ sslrootcert }} placeholder, with a CA only.
   */
  readonly caPath?: string;
  /** Where the server is reached by Kerberos and says so: libpq's gssencmode and krbsrvname, for Kerberos roles. */
  readonly gssencmode?: string;
  readonly krbsrvname?: string;
  /**
   * A connection pooler in front of the server (PgBouncer): apps' host, port and URIs point at it, and the server's
   * own address stays under direct-* keys, for what a pooler cannot carry (migrations, LISTEN, session settings).
   */
  readonly pooler?: { readonly host: string; readonly port: number };
}

/** The keys of the server's own address beside a pooler's, under `direct-`. */
const DIRECT_KEYS = ["host", "port", "uri", "jdbc-uri", "pgpass"] as const;

export interface SecretObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  };
  type?: string;
  data?: Record<string, string>;
}

/** The Secret's name: spec.secretName, or <object name>-credentials (crd/pgrole secretNameFor, checked by its parse). */
export function secretNameOf(obj: CustomObject, secretName: string | undefined): string {
  return secretNameFor(obj.metadata.name, secretName);
}

/** Whether the Secret is this object's: it names the object (by uid) as its controlling owner. */
export function ownedBy(secret: SecretObject, obj: CustomObject): boolean {
  return secret.metadata.ownerReferences?.some((r) => r.uid === obj.metadata.uid && r.controller === true) ?? false;
}

/** The name of the PgRole that owns a credentials Secret, or undefined. */
export function ownerName(secret: SecretObject): string | undefined {
  return secret.metadata.ownerReferences?.find((r) => r.kind === PG_ROLE.kind && r.controller === true)?.name;
}

/** The password a Secret holds, or undefined when it has none (or an empty one). */
export function passwordOf(secret: SecretObject | undefined): string | undefined {
  const encoded = secret?.data?.password;
  const password = encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8");
  return password ? password : undefined;
}

/**
 * Whether the object asks for a new password: its rotate annotation has a value the Secret's password was not
 * generated for.
 */
export function rotationAsked(obj: CustomObject, secret: SecretObject): boolean {
  const asked = obj.metadata.annotations?.[ROTATE_ANNOTATION];
  return asked !== undefined && asked !== secret.metadata.annotations?.[ROTATED_FOR_ANNOTATION];
}

/** A pgpass field: backslash and colon escaped, as libpq reads them. */
const pgpassField = (s: string) => s.replace(/[\\:]/g, (c) => `\\${c}`);
/** A host in a URL: an IPv6 address in brackets. */
const urlHost = (host: string) => (host.includes(":") ? `[${host}]` : host);

/**
 * The keys apps read, from the role's name and password, where Postgres is, and the database if one is named (else
 * the URIs name the maintenance database, and dbname and the pgpass line none), each further database's dbname,
 * uri, jdbc-uri and pgpass under `<database>.`, then the role's own template keys.
 * The server's sslmode is a key and a parameter of both URIs, its CA the key ca.crt (and, where the app mounts the
 * Secret is known, sslrootcert of both URIs). A role without a password
 * (Kerberos: the app brings its own ticket) gets no password, no pgpass line, and URIs without one, with the server's
 * gssencmode and krbsrvname where it sets them. With a pooler, the keys point at it, and direct-* at the server.
 */
export function credentialKeys(
  username: string,
  password: string | undefined,
  at: Endpoint,
  database: string | undefined,
  more: {
    readonly template?: Record<string, string>;
    readonly databases?: readonly string[];
    /** The server's own address when at is a pooler's (the direct_* placeholders). */
    readonly direct?: { readonly host: string; readonly port: number };
  } = {},
): Record<string, string> {
  if (at.pooler) {
    const { pooler, ...server } = at;
    const direct = keysAt(username, password, server, database);
    const keys = credentialKeys(username, password, { ...server, ...pooler }, database, {
      ...more,
      direct: { host: server.host, port: server.port },
    });
    const directKeys = DIRECT_KEYS.filter((k) => k in direct).map((k) => [`direct-${k}`, direct[k]]);
    return { ...keys, ...Object.fromEntries(directKeys) };
  }
  // Each further database: its own dbname, URIs and pgpass line, under keys prefixed with its name.
  const perDatabase = (more.databases ?? []).flatMap((db) => {
    const keys = keysAt(username, password, at, db);
    return PER_DATABASE_KEYS.filter((k) => k in keys).map((k) => [`${db}.${k}`, keys[k]]);
  });
  const templated = renderTemplate(more.template, {
    username,
    ...(password === undefined ? {} : { password }),
    host: at.host,
    port: String(at.port),
    dbname: database ?? at.maintenanceDatabase,
    ...(at.sslmode ? { sslmode: at.sslmode } : {}),
    ...(at.ca && at.caPath ? { sslrootcert: at.caPath } : {}),
    direct_host: more.direct?.host ?? at.host,
    direct_port: String(more.direct?.port ?? at.port),
  });
  return { ...keysAt(username, password, at, database), ...Object.fromEntries(perDatabase), ...templated };
}

/** The standard keys for one address and database. */
function keysAt(username: string, password: string | undefined, at: Endpoint, database: string | undefined): Record<string, string> {
  const user = encodeURIComponent(username);
  const path = `/${encodeURIComponent(database ?? at.maintenanceDatabase)}`;
  const address = `${urlHost(at.host)}:${at.port}`;
  const tls = { ...(at.sslmode ? { sslmode: at.sslmode } : {}), ...(at.ca ? { "ca.crt": at.ca } : {}) };
  const common = { username, host: at.host, port: String(at.port), ...(database === undefined ? {} : { dbname: database }), ...tls };
  // URI parameters: libpq's names, and pgJDBC's for the same (gssEncMode, kerberosServerName).
  const params = (pairs: [string, string | undefined][]) =>
    pairs
      .filter((p): p is [string, string] => p[1] !== undefined)
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
      .join("&");
  const sslrootcert = at.ca && at.caPath ? at.caPath : undefined;
  if (password === undefined) {
    const gss = { ...(at.gssencmode ? { gssencmode: at.gssencmode } : {}), ...(at.krbsrvname ? { krbsrvname: at.krbsrvname } : {}) };
    const libpq = params([
      ["sslmode", at.sslmode],
      ["sslrootcert", sslrootcert],
      ["gssencmode", gss.gssencmode],
      ["krbsrvname", gss.krbsrvname],
    ]);
    const jdbc = params([
      ["sslmode", at.sslmode],
      ["sslrootcert", sslrootcert],
      ["gssEncMode", gss.gssencmode],
      ["kerberosServerName", gss.krbsrvname],
    ]);
    return {
      ...common,
      ...gss,
      uri: `postgresql://${user}@${address}${path}${libpq ? `?${libpq}` : ""}`,
      "jdbc-uri": `jdbc:postgresql://${address}${path}?user=${user}${jdbc ? `&${jdbc}` : ""}`,
    };
  }
  const secret = encodeURIComponent(password);
  const tlsParams = params([
    ["sslmode", at.sslmode],
    ["sslrootcert", sslrootcert],
  ]);
  return {
    ...common,
    password,
    uri: `postgresql://${user}:${secret}@${address}${path}${tlsParams ? `?${tlsParams}` : ""}`,
    "jdbc-uri": `jdbc:postgresql://${address}${path}?user=${user}&password=${secret}${tlsParams ? `&${tlsParams}` : ""}`,
    pgpass: `${[at.host, String(at.port), database ?? "*", username, password].map((f) => (f === "*" ? f : pgpassField(f))).join(":")}\n`,
  };
}

/** A Secret's data: the keys base64-encoded, as the API takes them. */
export function secretData(keys: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")]));
}

/**
 * The whole Secret for `obj`: its keys base64-encoded, owned by the object, marked with the rotation it answers and
 * `annotations` (./turns: the previous credential).
 */
export function credentialsSecret(
  obj: CustomObject,
  name: string,
  keys: Record<string, string>,
  rotatedFor: string | undefined,
  resourceVersion?: string,
  annotations: Record<string, string> = {},
): SecretObject {
  const marks = { ...annotations, ...(rotatedFor === undefined ? {} : { [ROTATED_FOR_ANNOTATION]: rotatedFor }) };
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace: obj.metadata.namespace,
      ...(resourceVersion ? { resourceVersion } : {}),
      labels: { ...MANAGED_BY_LABEL },
      ...(Object.keys(marks).length ? { annotations: marks } : {}),
      // Deleting the PgRole deletes its Secret (the garbage collector); a Secret without this is never written.
      ownerReferences: [{ apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, uid: obj.metadata.uid, controller: true }],
    },
    type: SECRET_TYPE,
    data: secretData(keys),
  };
}

/** The keys whose values differ between a Secret and the keys wanted, by name only (never a value). */
export function changedKeys(secret: SecretObject, keys: Record<string, string>): string[] {
  const had = secret.data ?? {};
  const wanted = secretData(keys);
  return [...new Set([...Object.keys(had), ...Object.keys(wanted)])].filter((k) => had[k] !== wanted[k]).sort();
}

/** Whether the Secret holds exactly these keys (base64-encoded, as read). */
export function holdsKeys(secret: SecretObject, keys: Record<string, string>): boolean {
  const data = secret.data ?? {};
  const wanted = Object.entries(keys);
  return Object.keys(data).length === wanted.length && wanted.every(([k, v]) => data[k] === Buffer.from(v, "utf8").toString("base64"));
}
