// Reads and validates the stack config into Settings. Every failure names the config key and the fix, so a bad
// config stops `pulumi preview` before anything is planned.
import type * as pulumi from "@pulumi/pulumi";
import { isIPv4 } from "node:net";
import { SSL_MODES, type SslMode } from "../core/connect";
import { DEFAULT_ROLLOUT_DEADLINE_SECONDS } from "./operator";
import {
  ADMIN_CONFIG_KEYS,
  DEFAULT_SERVER,
  NAMED_SERVER_SSL_MODE,
  qualified,
  SERVERS_CONFIG_KEY,
  ServerConfigError,
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
  /** The servers besides the admin connection's (pg-kopf:servers), each made known to the controller. */
  readonly servers: readonly ServerDeclaration[];
  /**
   * The admin password of each server, by name, from secret config (pulumi config set --secret --path
   * 'pg-kopf:serverPasswords.<server>'): the controller's Secret for it. Only needed with manageCluster.
   */
  readonly serverPasswords?: pulumi.Output<Record<string, string>>;
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

export class ConfigError extends Error {
  constructor(key: string, namespace: string, message: string) {
    super(`config ${namespace}:${key}: ${message}`);
    this.name = "ConfigError";
  }
}

/** Reads and validates the stack config. Throws ConfigError naming the first bad key. Pure apart from reading. */
export function readSettings(config: ConfigReader): Settings {
  const fail = (key: string, message: string): never => {
    throw new ConfigError(key, config.name, message);
  };
  const str = (key: string, fallback: string) => config.get(key) ?? fallback;
  const bool = (key: string, fallback: boolean) => {
    const v = config.get(key);
    if (v === undefined) return fallback;
    if (v !== "true" && v !== "false") fail(key, `"${v}" is not a boolean; use true or false`);
    return v === "true";
  };
  const port = (key: string, fallback: number) => {
    const raw = config.get(key);
    const v = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(v) || v < 1 || v > 65535) fail(key, `"${raw}" is not a TCP port; use 1-65535`);
    return v;
  };

  const namespace = str("namespace", "pg-kopf");
  if (!DNS_1123.test(namespace) || namespace.length > 63)
    fail("namespace", `"${namespace}" is not a valid namespace name (lower-case letters, digits and -)`);
  const imagePullPolicy = str("imagePullPolicy", "IfNotPresent");
  if (!(PULL_POLICIES as readonly string[]).includes(imagePullPolicy)) fail("imagePullPolicy", `use one of ${PULL_POLICIES.join(", ")}`);
  const replicas = Number(str("replicas", "1"));
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 10)
    fail("replicas", "use a whole number from 0 to 10 (leader election makes extra replicas standbys)");
  const rolloutDeadlineSeconds = Number(str("rolloutDeadlineSeconds", String(DEFAULT_ROLLOUT_DEADLINE_SECONDS)));
  if (!Number.isInteger(rolloutDeadlineSeconds) || rolloutDeadlineSeconds < 10 || rolloutDeadlineSeconds > 3600)
    fail("rolloutDeadlineSeconds", "use a whole number of seconds from 10 to 3600");

  const postgresPort = port("postgresPort", 5432);
  const hostIp = config.get("postgresHostIp");
  const externalName = config.get("postgresExternalName");
  const manageCluster = bool("manageCluster", true);
  let postgres: Settings["postgres"] = { hostIp: "127.0.0.1", port: postgresPort };
  if (hostIp && externalName) {
    fail(
      "postgresHostIp",
      `set either ${config.name}:postgresHostIp (an IP, e.g. the minikube host's) or ${config.name}:postgresExternalName (a DNS name), not both`,
    );
  } else if (hostIp) {
    if (!isIPv4(hostIp))
      fail("postgresHostIp", `"${hostIp}" is not an IPv4 address; for a DNS name use ${config.name}:postgresExternalName`);
    postgres = { hostIp, port: postgresPort };
  } else if (externalName) {
    if (!DNS_NAME.test(externalName)) fail("postgresExternalName", `"${externalName}" is not a DNS name`);
    postgres = { externalName, port: postgresPort };
  } else if (manageCluster) {
    fail(
      "postgresHostIp",
      `say how the cluster reaches Postgres: set ${config.name}:postgresHostIp or ${config.name}:postgresExternalName`,
    );
  }

  const adminPassword = config.getSecret("adminPassword");
  if (manageCluster && !adminPassword)
    fail("adminPassword", `missing; the controller's Secret needs it: pulumi config set --secret ${config.name}:adminPassword`);
  const postgresSslMode = str("postgresSslMode", "prefer");
  if (!(SSL_MODES as readonly string[]).includes(postgresSslMode))
    fail("postgresSslMode", `"${postgresSslMode}" is not an sslmode; use one of ${SSL_MODES.join(", ")}`);
  const postgresSslRootCert = config.get("postgresSslRootCert");
  if ((postgresSslMode === "verify-ca" || postgresSslMode === "verify-full") && !postgresSslRootCert) {
    fail(
      "postgresSslRootCert",
      `sslmode ${postgresSslMode} needs the CA certificate that signs the server's: pulumi config set ${config.name}:postgresSslRootCert -- "$(cat ca.crt)"`,
    );
  }
  if (postgresSslRootCert !== undefined && !postgresSslRootCert.includes("-----BEGIN CERTIFICATE-----")) {
    fail("postgresSslRootCert", "is not a PEM certificate; set the file's contents, not its path");
  }

  const databases = config.getObject<unknown>("databases") ?? [];
  if (!Array.isArray(databases)) fail("databases", "expected a list of databases, e.g. [{name: app, owner: app}]");
  (databases as unknown[]).forEach((d, i) => {
    if (typeof d !== "object" || d === null || typeof (d as { name?: unknown }).name !== "string") {
      fail(`databases[${i}]`, "each entry needs at least a name, e.g. {name: app}");
    }
  });

  const roles = config.getObject<unknown>("roles") ?? [];
  if (!Array.isArray(roles)) fail("roles", "expected a list of roles, e.g. [{name: app}] (a password is generated unless given)");
  (roles as unknown[]).forEach((r, i) => {
    if (typeof r !== "object" || r === null || typeof (r as { name?: unknown }).name !== "string") {
      fail(`roles[${i}]`, "each entry needs at least a name, e.g. {name: app}");
    }
  });

  // A server a database or role names must be declared (and well formed) before anything is planned.
  for (const [list, entries] of [
    ["databases", databases],
    ["roles", roles],
  ] as const) {
    (entries as DatabaseDeclaration[]).forEach((entry, i) => {
      if (entry.server === undefined) return;
      if (typeof entry.server !== "string") fail(`${list}[${i}].server`, "expected the name of a server in pg-kopf:servers");
      try {
        serverProviderInputs(
          entry.server as string,
          (k) => config.get(k),
          (k) => config.getObject(k),
        );
      } catch (err) {
        if (!(err instanceof ServerConfigError)) throw err;
        fail(`${list}[${i}].server`, `${err.reason} (at ${config.name}:${err.key})`);
      }
    });
  }

  const declared = new Set((roles as DatabaseDeclaration[]).map((r) => r.name));
  const rolePasswords = config
    .getSecret("rolePasswords")
    ?.apply((text) => passwordMap(config.name, { key: "rolePasswords", of: "role", list: "roles" }, text, [...declared], []));

  const roleNamespaces = config.getObject<unknown>("roleNamespaces") ?? [];
  const everywhere = Array.isArray(roleNamespaces) && roleNamespaces.length === 1 && roleNamespaces[0] === "*";
  if (!Array.isArray(roleNamespaces))
    fail("roleNamespaces", 'expected a list of namespaces where PgRole objects live, e.g. [default], or ["*"] for all');
  if (!everywhere) {
    (roleNamespaces as unknown[]).forEach((ns, i) => {
      if (typeof ns !== "string" || !DNS_1123.test(ns) || ns.length > 63)
        fail(`roleNamespaces[${i}]`, `${JSON.stringify(ns)} is not a namespace name; list namespaces, or set ["*"] alone for all of them`);
    });
  }

  const servers = readServers(config, fail);
  const serverNames = servers.map((d) => d.name);
  const serverPasswords = config
    .getSecret("serverPasswords")
    ?.apply((text) =>
      passwordMap(
        config.name,
        { key: "serverPasswords", of: "server", list: "servers" },
        text,
        serverNames,
        manageCluster ? serverNames : [],
      ),
    );
  if (manageCluster && servers.length > 0 && !serverPasswords)
    fail(
      "serverPasswords",
      `missing; the controller's Secret for each server needs its admin password: pulumi config set --secret --path '${config.name}:serverPasswords.${servers[0].name}' <password>`,
    );

  return {
    servers,
    serverPasswords,
    manageCluster,
    namespace,
    image: str("image", "pg-kopf-controller"),
    imageTag: str("imageTag", "dev"),
    imagePullPolicy: imagePullPolicy as Settings["imagePullPolicy"],
    replicas,
    rolloutDeadlineSeconds,
    postgres,
    postgresSslMode: postgresSslMode as SslMode,
    postgresSslRootCert,
    adminUser: str("adminUser", "postgres"),
    adminPassword,
    adminDatabase: str("adminDatabase", "postgres"),
    databases: databases as DatabaseDeclaration[],
    roles: roles as DatabaseDeclaration[],
    rolePasswords,
    roleNamespaces: everywhere ? "*" : [...new Set(roleNamespaces as string[])],
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
  // One Postgres declared twice under one spelling, caught offline; any spelling is caught by asking each server who
  // it is, before any resource is checked (provider/distinctServers) and by the controller for PgServers (ADR 0017).
  const seen = new Map<string, string>();
  const adminHost = config.get(ADMIN_CONFIG_KEYS.host);
  if (adminHost)
    seen.set(
      `${adminHost}:${config.get(ADMIN_CONFIG_KEYS.port) ?? 5432}`,
      `the admin connection (${config.name}:${ADMIN_CONFIG_KEYS.host})`,
    );
  const servers = Object.entries(declared as Record<string, Record<string, unknown>>).map(([name, entry]): ServerDeclaration => {
    const key = `${SERVERS_CONFIG_KEY}.${name}`;
    if (!DNS_1123.test(name) || name.length > 63 || name === DEFAULT_SERVER)
      fail(
        key,
        `"${name}" cannot name a server: use lower-case letters, digits and - (and not "${DEFAULT_SERVER}", the admin connection's)`,
      );
    let inputs: Record<string, string> = {};
    try {
      inputs = serverProviderInputs(
        name,
        (k) => config.get(k),
        (k) => config.getObject(k),
      );
    } catch (err) {
      if (!(err instanceof ServerConfigError)) throw err;
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
    };
  });
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
  return servers;
}

/**
 * A secret config map of name to password (rolePasswords, serverPasswords), validated: JSON of non-empty strings,
 * each for a name in `declared`, and one for every name in `required`. Throws ConfigError naming the key. Pure.
 */
export function passwordMap(
  namespace: string,
  what: { key: string; of: string; list: string },
  text: string,
  declared: readonly string[],
  required: readonly string[],
): Record<string, string> {
  const fail = (key: string, message: string): never => {
    throw new ConfigError(key, namespace, message);
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
      `expected a map of ${what.of} name to password: pulumi config set --secret --path '${namespace}:${what.key}.<${what.of}>'`,
    );
  for (const [name, password] of Object.entries(parsed as object)) {
    if (!declared.includes(name))
      fail(`${what.key}.${name}`, `names no ${what.of} declared in ${namespace}:${what.list}; remove it or declare the ${what.of}`);
    if (typeof password !== "string" || password === "") fail(`${what.key}.${name}`, "expected a non-empty string");
  }
  for (const name of required)
    if (!(name in (parsed as object)))
      fail(`${what.key}.${name}`, `missing; the controller's Secret for ${what.of} "${name}" needs its admin password`);
  return parsed as Record<string, string>;
}
