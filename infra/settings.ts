// Reads and validates the stack config into Settings. Every failure names the config key and the fix, so a bad
// config stops `pulumi preview` before anything is planned.
import type * as pulumi from "@pulumi/pulumi";
import { isIP, isIPv4 } from "node:net";
import { readFileSync } from "node:fs";
import { SSL_MODES, type SslMode } from "../core/connect";
import { AUTH_METHODS, GSS_ENC_MODES, type GssEncMode, kerberosSettings } from "../core/kerberos";
import { DEFAULT_POOLER_PORT } from "../crd/pgserver";
import { DEFAULT_ROLLOUT_DEADLINE_SECONDS } from "./operator";
import {
  ADMIN_CONFIG_KEYS,
  DEFAULT_SERVER,
  NAMED_SERVER_SSL_MODE,
  qualified,
  SERVERS_CONFIG_KEY,
  ConfigError,
  serverProviderInputs,
} from "../provider/config";

export interface DatabaseDeclaration {
  /** Resource name suffix and, unless the spec says otherwise, the database name. */
  readonly name: string;
  readonly [field: string]: unknown;
}

export interface Settings {
  /** Whether to create the cluster resources (needs the kubernetes resource plugin); PgDatabase resources are always managed. */
  readonly manageCluster: boolean;
  readonly namespace: string;
  readonly image: string;
  readonly imageTag: string;
  readonly imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  readonly replicas: number;
  readonly rolloutDeadlineSeconds: number;
  /** How the cluster reaches Postgres: a host IP (selector-less Service + EndpointSlice) or a DNS name (ExternalName). */
  readonly postgres: { readonly hostIp: string; readonly port: number } | { readonly externalName: string; readonly port: number };
  readonly postgresSslMode: SslMode;
  /** PEM of the CA for the controller's verify-ca / verify-full. */
  readonly postgresSslRootCert?: string;
  readonly adminUser: string;
  /** The password the controller uses (the cluster Secret); only needed with manageCluster. */
  readonly adminPassword?: pulumi.Output<string>;
  /** The controller authenticates by Kerberos instead (postgresAuth kerberos): its keytab and krb5.conf. */
  readonly postgresKerberos?: ControllerKerberos;
  readonly adminDatabase: string;
  readonly databases: readonly DatabaseDeclaration[];
  /** Roles to manage (PgRole), declared next to the databases; a database's owner may name one. */
  readonly roles: readonly DatabaseDeclaration[];
  /**
   * Passwords of declared roles, by role name, from secret config (pulumi config set --secret --path
   * 'pg-kopf:rolePasswords.<role>'); a role without one gets a generated password.
   */
  readonly rolePasswords?: pulumi.Output<Record<string, string>>;
  /**
   * Namespaces where PgRole objects live: the controller may write their credentials Secrets there and nowhere
   * else; "*" lets it everywhere (and read every Secret in the cluster).
   */
  readonly roleNamespaces: readonly string[] | "*";
  /** A pooler in front of the admin connection's server (pg-kopf:pooler): where the controller's roles' Secrets point. */
  readonly pooler?: Pooler;
  /** The servers besides the admin connection's (pg-kopf:servers), each made known to the controller. */
  readonly servers: readonly ServerDeclaration[];
  /**
   * The admin password of each server, by name, from secret config (pulumi config set --secret --path
   * 'pg-kopf:serverPasswords.<server>'): the controller's Secret for it. Only needed with manageCluster.
   */
  readonly serverPasswords?: pulumi.Output<Record<string, string>>;
  /**
   * The keytab (base64) of each Kerberos server's admin, by name, from secret config ('pg-kopf:serverKeytabs.<server>'):
   * the controller's Secret for it. Only needed with manageCluster.
   */
  readonly serverKeytabs?: pulumi.Output<Record<string, string>>;
}

/** A server of pg-kopf:servers, as the cluster side makes it known to the controller (a PgServer and its Secret). */
export interface ServerDeclaration {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly sslMode: SslMode;
  /** PEM of the CA that signs the server's certificate. */
  readonly sslRootCert?: string;
  readonly connectTimeout?: number;
  readonly maxConnections?: number;
  /** The namespaces whose objects may use it ("*": all); absent, only the controller's own. */
  readonly allowedNamespaces?: readonly string[] | "*";
  /**
   * The admin authenticates by Kerberos (its auth kerberos): the controller gets its keytab (serverKeytabs) and the
   * realm's krb5.conf (the contents of the entry's krb5Conf file; without one, the controller's own).
   */
  readonly kerberos?: { readonly krb5Conf?: string; readonly gssEncMode?: GssEncMode; readonly krbSrvName?: string };
  /** A connection pooler in front of it (PgBouncer): where the roles' Secrets point, the server under direct-*. */
  readonly pooler?: Pooler;
}

export interface Pooler {
  readonly host: string;
  readonly port: number;
}

const optionalPooler = (pooler: Pooler | undefined) => (pooler ? { pooler } : {});

/** A pooler's {host, port?} (port 6432 by default), checked; failures name `key`. */
export function readPooler(fail: (key: string, message: string) => never, key: string, value: unknown): Pooler | undefined {
  if (value === undefined) return undefined;
  const p = value as Record<string, unknown>;
  if (
    typeof p !== "object" ||
    p === null ||
    Array.isArray(p) ||
    typeof p.host !== "string" ||
    (isIP(p.host) === 0 && !DNS_NAME.test(p.host))
  )
    fail(key, 'expected {"host": "<the pooler\'s DNS name or address>", "port": 6432}');
  const port = p.port === undefined ? DEFAULT_POOLER_PORT : Number(p.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`${key}.port`, `"${p.port}" is not a TCP port; use 1-65535`);
  return { host: p.host as string, port };
}

/** The subset of pulumi.Config the program reads; lets tests pass plain values. */
export interface ConfigReader {
  get(key: string): string | undefined;
  getObject<T>(key: string): T | undefined;
  getSecret(key: string): pulumi.Output<string> | undefined;
  name: string;
}

const PULL_POLICIES = ["Always", "IfNotPresent", "Never"] as const;
const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i;

/** The config, read key by key: each failure throws ConfigError naming the key and the fix. */
class ConfigRead {
  constructor(readonly config: ConfigReader) {}

  get name(): string {
    return this.config.name;
  }

  readonly fail = (key: string, message: string): never => {
    throw new ConfigError(key, message, this.config.name);
  };

  str(key: string, fallback: string): string {
    return this.config.get(key) ?? fallback;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.config.get(key);
    if (v === undefined) return fallback;
    if (v !== "true" && v !== "false") this.fail(key, `"${v}" is not a boolean; use true or false`);
    return v === "true";
  }

  port(key: string, fallback: number): number {
    const raw = this.config.get(key);
    const v = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(v) || v < 1 || v > 65535) this.fail(key, `"${raw}" is not a TCP port; use 1-65535`);
    return v;
  }

  /** A whole number from `min` to `max`; `what` says so in the message. */
  int(key: string, fallback: number, min: number, max: number, what: string): number {
    const v = Number(this.str(key, String(fallback)));
    if (!Number.isInteger(v) || v < min || v > max) this.fail(key, `use a whole number ${what}`);
    return v;
  }

  /** A list of entries that each have at least a string name. */
  named(key: string, example: string): DatabaseDeclaration[] {
    const list = this.config.getObject<unknown>(key) ?? [];
    if (!Array.isArray(list)) this.fail(key, `expected a list of ${key}, e.g. ${example}`);
    (list as unknown[]).forEach((d, i) => {
      if (typeof d !== "object" || d === null || typeof (d as { name?: unknown }).name !== "string")
        this.fail(`${key}[${i}]`, "each entry needs at least a name, e.g. {name: app}");
    });
    return list as DatabaseDeclaration[];
  }
}

/** The controller's Deployment: where it runs, which image, how many, how long a rollout may take. */
function readController(r: ConfigRead) {
  const namespace = r.str("namespace", "pg-kopf");
  if (!DNS_1123.test(namespace) || namespace.length > 63)
    r.fail("namespace", `"${namespace}" is not a valid namespace name (lower-case letters, digits and -)`);
  const imagePullPolicy = r.str("imagePullPolicy", "IfNotPresent");
  if (!(PULL_POLICIES as readonly string[]).includes(imagePullPolicy)) r.fail("imagePullPolicy", `use one of ${PULL_POLICIES.join(", ")}`);
  return {
    namespace,
    image: r.str("image", "pg-kopf-controller"),
    imageTag: r.str("imageTag", "dev"),
    imagePullPolicy: imagePullPolicy as Settings["imagePullPolicy"],
    replicas: r.int("replicas", 1, 0, 10, "from 0 to 10 (leader election makes extra replicas standbys)"),
    rolloutDeadlineSeconds: r.int("rolloutDeadlineSeconds", DEFAULT_ROLLOUT_DEADLINE_SECONDS, 10, 3600, "of seconds from 10 to 3600"),
  };
}

/** How the cluster reaches Postgres: a host IP or a DNS name (required when the program manages the cluster). */
function readPostgresEndpoint(r: ConfigRead, manageCluster: boolean): Settings["postgres"] {
  const port = r.port("postgresPort", 5432);
  const hostIp = r.config.get("postgresHostIp");
  const externalName = r.config.get("postgresExternalName");
  if (hostIp && externalName)
    r.fail(
      "postgresHostIp",
      `set either ${r.name}:postgresHostIp (an IP, e.g. the minikube host's) or ${r.name}:postgresExternalName (a DNS name), not both`,
    );
  if (hostIp) {
    if (!isIPv4(hostIp)) r.fail("postgresHostIp", `"${hostIp}" is not an IPv4 address; for a DNS name use ${r.name}:postgresExternalName`);
    return { hostIp, port };
  }
  if (externalName) {
    if (!DNS_NAME.test(externalName)) r.fail("postgresExternalName", `"${externalName}" is not a DNS name`);
    return { externalName, port };
  }
  if (manageCluster)
    r.fail("postgresHostIp", `say how the cluster reaches Postgres: set ${r.name}:postgresHostIp or ${r.name}:postgresExternalName`);
  return { hostIp: "127.0.0.1", port };
}

/** The controller's Kerberos identity: a keytab (base64, secret), the realm's krb5.conf, and libpq's GSS settings. */
export interface ControllerKerberos {
  readonly keytab: pulumi.Output<string>;
  readonly krb5Conf: string;
  readonly gssencmode?: GssEncMode;
  readonly krbsrvname?: string;
}

/** postgresAuth kerberos: the keytab and krb5.conf it needs, validated, naming the key. */
function readControllerKerberos(r: ConfigRead): ControllerKerberos {
  const keytab = r.config.getSecret("postgresKeytab");
  if (!keytab)
    r.fail(
      "postgresKeytab",
      `missing; with postgresAuth kerberos the controller needs its keytab: pulumi config set --secret ${r.name}:postgresKeytab -- "$(base64 -w0 controller.keytab)"`,
    );
  const krb5Conf = r.config.get("postgresKrb5Conf");
  if (!krb5Conf || !/\[(libdefaults|realms)\]/.test(krb5Conf))
    r.fail(
      "postgresKrb5Conf",
      `${krb5Conf ? "is not a krb5.conf (no [libdefaults] or [realms] section)" : "missing"}; set the realm's krb5.conf: pulumi config set ${r.name}:postgresKrb5Conf -- "$(cat krb5.conf)"`,
    );
  const gssencmode = r.config.get("postgresGssEncMode");
  if (gssencmode !== undefined && !(GSS_ENC_MODES as readonly string[]).includes(gssencmode))
    r.fail("postgresGssEncMode", `"${gssencmode}" is not a gssencmode; use one of ${GSS_ENC_MODES.join(", ")}`);
  const krbsrvname = r.config.get("postgresKrbSrvName");
  try {
    kerberosSettings({ auth: "kerberos", krbsrvname });
  } catch (err) {
    r.fail("postgresKrbSrvName", (err as Error).message.replace(/^krbsrvname: /, ""));
  }
  // A keytab is binary: base64 of it, checked when the secret is known (the Secret's data takes base64 as it is).
  const checked = keytab!.apply((b64) => {
    const text = b64.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || Buffer.from(text, "base64").length < 2)
      throw new ConfigError("postgresKeytab", "is not base64 of a keytab; set it with base64 -w0 <file>", r.name);
    return text;
  });
  return {
    keytab: checked,
    krb5Conf: krb5Conf!,
    ...(gssencmode ? { gssencmode: gssencmode as GssEncMode } : {}),
    ...(krbsrvname ? { krbsrvname } : {}),
  };
}

/** The controller's own connection: its password (a secret) or its Kerberos identity, and TLS. */
function readControllerConnection(r: ConfigRead, manageCluster: boolean) {
  const auth = r.str("postgresAuth", "password");
  if (!(AUTH_METHODS as readonly string[]).includes(auth))
    r.fail("postgresAuth", `"${auth}" is not an authentication method; use ${AUTH_METHODS.join(" or ")}`);
  const adminPassword = r.config.getSecret("adminPassword");
  const postgresKerberos = auth === "kerberos" && manageCluster ? readControllerKerberos(r) : undefined;
  if (postgresKerberos && adminPassword)
    r.fail("adminPassword", `not used with ${r.name}:postgresAuth kerberos (the controller reads no password); remove it`);
  if (manageCluster && !adminPassword && !postgresKerberos)
    r.fail("adminPassword", `missing; the controller's Secret needs it: pulumi config set --secret ${r.name}:adminPassword`);
  const postgresSslMode = r.str("postgresSslMode", "prefer");
  if (!(SSL_MODES as readonly string[]).includes(postgresSslMode))
    r.fail("postgresSslMode", `"${postgresSslMode}" is not an sslmode; use one of ${SSL_MODES.join(", ")}`);
  const postgresSslRootCert = r.config.get("postgresSslRootCert");
  if ((postgresSslMode === "verify-ca" || postgresSslMode === "verify-full") && !postgresSslRootCert)
    r.fail(
      "postgresSslRootCert",
      `sslmode ${postgresSslMode} needs the CA certificate that signs the server's: pulumi config set ${r.name}:postgresSslRootCert -- "$(cat ca.crt)"`,
    );
  if (postgresSslRootCert !== undefined && !postgresSslRootCert.includes("-----BEGIN CERTIFICATE-----"))
    r.fail("postgresSslRootCert", "is not a PEM certificate; set the file's contents, not its path");
  return { adminPassword, postgresKerberos, postgresSslMode: postgresSslMode as SslMode, postgresSslRootCert };
}

/** A server a database or role names must be declared (and well formed) before anything is planned. */
function checkServerReferences(r: ConfigRead, list: "databases" | "roles", entries: readonly DatabaseDeclaration[]): void {
  entries.forEach((entry, i) => {
    if (entry.server === undefined) return;
    if (typeof entry.server !== "string") r.fail(`${list}[${i}].server`, "expected the name of a server in pg-kopf:servers");
    try {
      serverProviderInputs(
        entry.server as string,
        (k) => r.config.get(k),
        (k) => r.config.getObject(k),
      );
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      r.fail(`${list}[${i}].server`, `${err.reason} (at ${r.name}:${err.key})`);
    }
  });
}

/** Where PgRoles live: a list of namespaces, or ["*"] for all. */
function readRoleNamespaces(r: ConfigRead): readonly string[] | "*" {
  const roleNamespaces = r.config.getObject<unknown>("roleNamespaces") ?? [];
  if (!Array.isArray(roleNamespaces))
    r.fail("roleNamespaces", 'expected a list of namespaces where PgRole objects live, e.g. [default], or ["*"] for all');
  const list = roleNamespaces as unknown[];
  if (list.length === 1 && list[0] === "*") return "*";
  list.forEach((ns, i) => {
    if (typeof ns !== "string" || !DNS_1123.test(ns) || ns.length > 63)
      r.fail(`roleNamespaces[${i}]`, `${JSON.stringify(ns)} is not a namespace name; list namespaces, or set ["*"] alone for all of them`);
  });
  return [...new Set(list as string[])];
}

/**
 * The declared servers and their admins' passwords, or keytabs for Kerberos servers (secret maps; required for the
 * controller's Secrets).
 */
function readServersWithPasswords(r: ConfigRead, manageCluster: boolean) {
  const servers = readServers(r.config, r.fail);
  const serverNames = servers.map((d) => d.name);
  const needing = (kerberos: boolean) => (manageCluster ? servers.filter((d) => Boolean(d.kerberos) === kerberos).map((d) => d.name) : []);
  const serverPasswords = r.config
    .getSecret("serverPasswords")
    ?.apply((text) => passwordMap(r.name, { key: "serverPasswords", of: "server", list: "servers" }, text, serverNames, needing(false)));
  const passwordServers = needing(false);
  if (passwordServers.length > 0 && !serverPasswords)
    r.fail(
      "serverPasswords",
      `missing; the controller's Secret for each server needs its admin password: pulumi config set --secret --path '${r.name}:serverPasswords.${passwordServers[0]}' <password>`,
    );
  const kerberosServers = needing(true);
  const serverKeytabs = r.config
    .getSecret("serverKeytabs")
    ?.apply((text) =>
      passwordMap(r.name, { key: "serverKeytabs", of: "server", list: "servers", value: "keytab" }, text, serverNames, kerberosServers),
    );
  if (kerberosServers.length > 0 && !serverKeytabs)
    r.fail(
      "serverKeytabs",
      `missing; the controller's Secret for a Kerberos server needs its admin's keytab: pulumi config set --secret --path '${r.name}:serverKeytabs.${kerberosServers[0]}' -- "$(base64 -w0 admin.keytab)"`,
    );
  return { servers, serverPasswords, ...(serverKeytabs ? { serverKeytabs } : {}) };
}

/** Reads and validates the stack config. Throws ConfigError naming the first bad key. Pure apart from reading. */
export function readSettings(config: ConfigReader): Settings {
  const r = new ConfigRead(config);
  const controller = readController(r);
  const manageCluster = r.bool("manageCluster", true);
  const postgres = readPostgresEndpoint(r, manageCluster);
  const connection = readControllerConnection(r, manageCluster);
  const databases = r.named("databases", "[{name: app, owner: app}]");
  const roles = r.named("roles", "[{name: app}] (a password is generated unless given)");
  checkServerReferences(r, "databases", databases);
  checkServerReferences(r, "roles", roles);
  const declared = [...new Set(roles.map((role) => role.name))];
  const rolePasswords = config
    .getSecret("rolePasswords")
    ?.apply((text) => passwordMap(config.name, { key: "rolePasswords", of: "role", list: "roles" }, text, declared, []));
  const roleNamespaces = readRoleNamespaces(r);
  return {
    ...readServersWithPasswords(r, manageCluster),
    manageCluster,
    ...controller,
    postgres,
    ...connection,
    adminUser: r.str("adminUser", "postgres"),
    adminDatabase: r.str("adminDatabase", "postgres"),
    databases,
    roles,
    rolePasswords,
    roleNamespaces,
    ...optionalPooler(readPooler(r.fail, "pooler", r.config.getObject("pooler"))),
  };
}

/**
 * The servers of pg-kopf:servers, validated as the provider validates them (serverProviderInputs) plus the keys only
 * the cluster side reads. Throws through `fail`, naming the key.
 */
function readServers(config: ConfigReader, fail: (key: string, message: string) => never): ServerDeclaration[] {
  const declared = config.getObject<unknown>(SERVERS_CONFIG_KEY) ?? {};
  if (typeof declared !== "object" || declared === null || Array.isArray(declared))
    fail(SERVERS_CONFIG_KEY, "expected a map of server name to {host, port, user, sslMode, sslRootCert}");
  const servers = Object.entries(declared as Record<string, Record<string, unknown>>).map(([name, entry]) =>
    readServer(config, fail, name, entry),
  );
  checkDistinctServers(config, fail, servers);
  return servers;
}

/** One server of pg-kopf:servers: its connection as the provider reads it, and the cluster side's own keys. */
function readServer(
  config: ConfigReader,
  fail: (key: string, message: string) => never,
  name: string,
  entry: Record<string, unknown>,
): ServerDeclaration {
  const key = `${SERVERS_CONFIG_KEY}.${name}`;
  if (!DNS_1123.test(name) || name.length > 63 || name === DEFAULT_SERVER)
    fail(key, `"${name}" cannot name a server: use lower-case letters, digits and - (and not "${DEFAULT_SERVER}", the admin connection's)`);
  let inputs: Record<string, string> = {};
  try {
    inputs = serverProviderInputs(
      name,
      (k) => config.get(k),
      (k) => config.getObject(k),
    );
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    fail(err.key, err.reason);
  }
  const input = (k: string) => inputs[qualified(k)];
  const port = Number(input(ADMIN_CONFIG_KEYS.port) ?? 5432);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    fail(`${key}.port`, `"${input(ADMIN_CONFIG_KEYS.port)}" is not a TCP port; use 1-65535`);
  const sslMode = input(ADMIN_CONFIG_KEYS.sslmode) ?? NAMED_SERVER_SSL_MODE;
  if (!(SSL_MODES as readonly string[]).includes(sslMode))
    fail(`${key}.sslMode`, `"${sslMode}" is not an sslmode; use one of ${SSL_MODES.join(", ")}`);
  const sslRootCert = input(ADMIN_CONFIG_KEYS.sslrootcert);
  if ((sslMode === "verify-ca" || sslMode === "verify-full") && !sslRootCert?.includes("-----BEGIN CERTIFICATE-----"))
    fail(`${key}.sslRootCert`, `sslMode ${sslMode} needs the PEM of the CA that signs the server's certificate (the file's contents)`);
  const maxConnections = entry.maxConnections === undefined ? undefined : Number(entry.maxConnections);
  if (maxConnections !== undefined && (!Number.isInteger(maxConnections) || maxConnections < 1 || maxConnections > 100))
    fail(`${key}.maxConnections`, "use a whole number from 1 to 100: the controller's connections to this server at most");
  const allowed = entry.allowedNamespaces;
  const everywhere = Array.isArray(allowed) && allowed.length === 1 && allowed[0] === "*";
  if (
    allowed !== undefined &&
    (!Array.isArray(allowed) || (!everywhere && allowed.some((ns) => typeof ns !== "string" || !DNS_1123.test(ns))))
  )
    fail(`${key}.allowedNamespaces`, 'expected a list of namespaces whose objects may use the server, or ["*"] for all');
  const timeout = input(ADMIN_CONFIG_KEYS.connectTimeoutSeconds);
  const kerberos = input(ADMIN_CONFIG_KEYS.auth) === "kerberos" ? readServerKerberos(fail, key, input) : undefined;
  return {
    name,
    host: input(ADMIN_CONFIG_KEYS.host),
    port,
    user: input(ADMIN_CONFIG_KEYS.user) ?? "postgres",
    database: input(ADMIN_CONFIG_KEYS.database) ?? "postgres",
    sslMode: sslMode as SslMode,
    ...(sslRootCert ? { sslRootCert } : {}),
    ...(timeout ? { connectTimeout: Number(timeout) } : {}),
    ...(maxConnections ? { maxConnections } : {}),
    ...(allowed === undefined ? {} : { allowedNamespaces: everywhere ? "*" : [...new Set(allowed as string[])] }),
    ...(kerberos ? { kerberos } : {}),
    ...optionalPooler(readPooler(fail, `${key}.pooler`, entry.pooler)),
  };
}

/** A Kerberos server's settings for the controller: its krb5.conf read from the entry's file, when it names one. */
function readServerKerberos(
  fail: (key: string, message: string) => never,
  key: string,
  input: (k: string) => string | undefined,
): NonNullable<ServerDeclaration["kerberos"]> {
  const file = input(ADMIN_CONFIG_KEYS.krb5Conf);
  let krb5Conf: string | undefined;
  if (file) {
    try {
      krb5Conf = readFileSync(file, "utf8");
    } catch (err) {
      fail(`${key}.krb5Conf`, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!/\[(libdefaults|realms)\]/.test(krb5Conf ?? ""))
      fail(`${key}.krb5Conf`, `${file} is not a krb5.conf (no [libdefaults] or [realms] section)`);
  }
  const gssEncMode = input(ADMIN_CONFIG_KEYS.gssencmode) as GssEncMode | undefined;
  const krbSrvName = input(ADMIN_CONFIG_KEYS.krbsrvname);
  return { ...(krb5Conf ? { krb5Conf } : {}), ...(gssEncMode ? { gssEncMode } : {}), ...(krbSrvName ? { krbSrvName } : {}) };
}

/**
 * One Postgres declared twice under one spelling, caught offline; any spelling is caught by asking each server who
 * it is, before any resource is checked (provider/distinctServers) and by the controller for PgServers (ADR 0017).
 */
function checkDistinctServers(
  config: ConfigReader,
  fail: (key: string, message: string) => never,
  servers: readonly ServerDeclaration[],
): void {
  const seen = new Map<string, string>();
  const adminHost = config.get(ADMIN_CONFIG_KEYS.host);
  if (adminHost)
    seen.set(
      `${adminHost}:${config.get(ADMIN_CONFIG_KEYS.port) ?? 5432}`,
      `the admin connection (${config.name}:${ADMIN_CONFIG_KEYS.host})`,
    );
  for (const server of servers) {
    const address = `${server.host}:${server.port}`;
    const other = seen.get(address);
    if (other)
      fail(
        `${SERVERS_CONFIG_KEY}.${server.name}.host`,
        `${address} is ${other} already: one Postgres is one server; name that one instead`,
      );
    seen.set(address, `server "${server.name}"`);
  }
}

/**
 * A secret config map of name to password (rolePasswords, serverPasswords), validated: JSON of non-empty strings,
 * each for a name in `declared`, and one for every name in `required`. Throws ConfigError naming the key. Pure.
 */
export function passwordMap(
  namespace: string,
  what: { key: string; of: string; list: string; value?: "password" | "keytab" },
  text: string,
  declared: readonly string[],
  required: readonly string[],
): Record<string, string> {
  const fail = (key: string, message: string): never => {
    throw new ConfigError(key, message, namespace);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    fail(
      what.key,
      `expected a map of ${what.of} name to ${what.value ?? "password"}: pulumi config set --secret --path '${namespace}:${what.key}.<${what.of}>'`,
    );
  for (const [name, password] of Object.entries(parsed as object)) {
    if (!declared.includes(name))
      fail(`${what.key}.${name}`, `names no ${what.of} declared in ${namespace}:${what.list}; remove it or declare the ${what.of}`);
    if (typeof password !== "string" || password === "") fail(`${what.key}.${name}`, "expected a non-empty string");
  }
  for (const name of required)
    if (!(name in (parsed as object)))
      fail(`${what.key}.${name}`, `missing; the controller's Secret for ${what.of} "${name}" needs its admin ${what.value ?? "password"}`);
  return parsed as Record<string, string>;
}
