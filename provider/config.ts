// The provider's admin connection: the non-secret settings from the documented pg-kopf:* stack config keys (passed
// by the PgDatabase resource to its provider, whatever the project is called), then libpq environment variables; the
// password only from libpq's own sources in the provider process. See docs/adr/0007.
import { connectionSettings, type ConnectionSettings, DEFAULT_SERVER } from "../core/connect";
import { InvalidSpec } from "../core/errors";

/** The config namespace of the documented keys, independent of the name of the project that uses pg-kopf. */
export const CONFIG_NAMESPACE = "pg-kopf";

/**
 * The stack config keys that say how `pulumi up` reaches Postgres. The password is not one of them: it never passes
 * through the engine (which would record it in the provider's state and log it at high verbosity) and is read by
 * the provider process from PGPASSWORD or the password file, as psql reads it.
 */
export const ADMIN_CONFIG_KEYS = {
  host: "adminHost",
  port: "adminPort",
  user: "adminUser",
  database: "adminDatabase",
  sslmode: "adminSslMode",
  sslrootcert: "adminSslRootCert",
  connectTimeoutSeconds: "adminConnectTimeout",
  auth: "adminAuth",
  gssencmode: "adminGssEncMode",
  krbsrvname: "adminKrbSrvName",
  keytab: "adminKeytab",
  krb5Conf: "adminKrb5Conf",
} as const;

/** A named server's provider carries its name, so that connection failures say which server failed. */
export const SERVER_NAME_KEY = "serverName";

/** What the provider needs of Pulumi's config object. */
export interface ConfigSource {
  get(key: string): string | undefined;
}

/** The fully qualified key, as the provider's configuration carries it. */
export const qualified = (key: string): string => `${CONFIG_NAMESPACE}:${key}`;

/**
 * Connection settings from the provider's configuration, then PG* environment variables, then defaults. Throws
 * InvalidSpec naming the setting when one is malformed, or when neither config nor PGHOST says which server to use:
 * falling back to localhost could reach another Postgres than the one meant. The password stays non-enumerable.
 */
export function adminConnection(config: ConfigSource, env: NodeJS.ProcessEnv): ConnectionSettings {
  const get = (key: string) => config.get(qualified(key));
  const host = get(ADMIN_CONFIG_KEYS.host);
  if (!host && !env.PGHOST) {
    throw new InvalidSpec([
      {
        field: qualified(ADMIN_CONFIG_KEYS.host),
        message: `no admin connection configured: set it with "pulumi config set ${qualified(ADMIN_CONFIG_KEYS.host)} <host>" (and adminPort, adminUser), or PGHOST in the environment`,
      },
    ]);
  }
  const server = get(SERVER_NAME_KEY);
  try {
    return connectionSettings(
      {
        host,
        port: get(ADMIN_CONFIG_KEYS.port),
        user: get(ADMIN_CONFIG_KEYS.user),
        database: get(ADMIN_CONFIG_KEYS.database),
        sslmode: get(ADMIN_CONFIG_KEYS.sslmode),
        sslrootcert: get(ADMIN_CONFIG_KEYS.sslrootcert),
        connectTimeoutSeconds: get(ADMIN_CONFIG_KEYS.connectTimeoutSeconds),
        auth: get(ADMIN_CONFIG_KEYS.auth),
        gssencmode: get(ADMIN_CONFIG_KEYS.gssencmode),
        krbsrvname: get(ADMIN_CONFIG_KEYS.krbsrvname),
        keytab: get(ADMIN_CONFIG_KEYS.keytab),
        krb5Conf: get(ADMIN_CONFIG_KEYS.krb5Conf),
        applicationName: "pg-kopf-pulumi",
        serverName: get(SERVER_NAME_KEY),
        caSetting: caSettingOf(server),
        authSetting: serverSettingOf(server, "auth", ADMIN_CONFIG_KEYS.auth),
      },
      env,
    );
  } catch (err) {
    // The core names its own setting (sslmode, auth); the user sets a config key.
    if (!(err instanceof InvalidSpec)) throw err;
    throw new InvalidSpec(err.failures.map((f) => ({ ...f, field: configKeyOf(server, f.field) })));
  }
}

/** The config key of a core connection setting, for this server (the admin key, or its pg-kopf:servers field). */
function configKeyOf(server: string | undefined, setting: string): string {
  const adminKey = (ADMIN_CONFIG_KEYS as Record<string, string>)[setting];
  if (!adminKey) return setting;
  const field = Object.entries(SERVER_FIELDS).find(([, key]) => key === adminKey)?.[0] ?? setting;
  return serverSettingOf(server, field, adminKey);
}

/** The config key a user sets for one of a server's settings (its entry's field, or the admin key). */
function serverSettingOf(server: string | undefined, field: string, adminKey: string): string {
  return qualified(server ? `${SERVERS_CONFIG_KEY}.${server}.${field}` : adminKey);
}

/** The config key a user sets for a server's CA, as TLS failures name it. */
function caSettingOf(server: string | undefined): string {
  return server
    ? qualified(`${SERVERS_CONFIG_KEY}.${server}.sslRootCert`)
    : `${qualified(ADMIN_CONFIG_KEYS.sslrootcert)} (or PGSSLROOTCERT)`;
}

/** A malformed or missing pg-kopf:servers entry: the key (servers.<name>[.<field>]) and what to do. */
/**
 * A config key that is missing or malformed, for both readers of the stack config (the provider's servers and the
 * program's settings): the key (without its namespace), what is wrong and the fix.
 */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly reason: string,
    readonly namespace: string = CONFIG_NAMESPACE,
  ) {
    super(`config ${namespace}:${key}: ${reason}`);
    this.name = "ConfigError";
  }
}

/** The server a resource names when it names none: the admin connection above. */
export { DEFAULT_SERVER };
/** The stack config key of the other servers: a map of name to {host, port, user, database, sslMode, sslRootCert}. */
export const SERVERS_CONFIG_KEY = "servers";

/** A server's entry in pg-kopf:servers, keyed as users write it, with the admin key each one stands for. */
const SERVER_FIELDS: Record<string, string> = {
  host: ADMIN_CONFIG_KEYS.host,
  port: ADMIN_CONFIG_KEYS.port,
  user: ADMIN_CONFIG_KEYS.user,
  database: ADMIN_CONFIG_KEYS.database,
  sslMode: ADMIN_CONFIG_KEYS.sslmode,
  sslRootCert: ADMIN_CONFIG_KEYS.sslrootcert,
  connectTimeout: ADMIN_CONFIG_KEYS.connectTimeoutSeconds,
  auth: ADMIN_CONFIG_KEYS.auth,
  gssEncMode: ADMIN_CONFIG_KEYS.gssencmode,
  krbSrvName: ADMIN_CONFIG_KEYS.krbsrvname,
  keytab: ADMIN_CONFIG_KEYS.keytab,
  krb5Conf: ADMIN_CONFIG_KEYS.krb5Conf,
};

/**
 * The keys of a pg-kopf:servers entry that only the cluster side reads (the PgServer the program makes): who may use
 * the server, and the controller's pool bound. The provider skips them.
 */
export const CLUSTER_SERVER_FIELDS = ["allowedNamespaces", "maxConnections", "pooler"] as const;

/** A named server's sslmode when its entry says none: verified, as a new server should be (libpq's prefer is not). */
export const NAMED_SERVER_SSL_MODE = "verify-full";

/**
 * The provider inputs of one server: for the default server the admin keys as configured, for a named one its
 * entry of pg-kopf:servers under the same keys, so every provider configures alike. Passwords are not config: the
 * provider reads them from PGPASSWORD or the password file, whose lines name host, port and user (docs/adr/0007).
 * Throws naming the key when the server is not declared or an entry is malformed.
 */
export function serverProviderInputs(
  server: string,
  get: (key: string) => string | undefined,
  getObject: (key: string) => unknown,
): Record<string, string> {
  const inputs: Record<string, string> = {};
  if (server === DEFAULT_SERVER) {
    for (const key of Object.values(ADMIN_CONFIG_KEYS)) {
      const value = get(key);
      if (value !== undefined) inputs[qualified(key)] = value;
    }
    return inputs;
  }
  const servers = getObject(SERVERS_CONFIG_KEY) ?? {};
  const entry = (servers as Record<string, unknown>)[server];
  const fail = (key: string, message: string): never => {
    throw new ConfigError(`${SERVERS_CONFIG_KEY}.${key}`, message);
  };
  if (typeof servers !== "object" || Array.isArray(servers)) fail("", "expected a map of server name to {host, port, user, sslMode}");
  if (entry === undefined) {
    const known = Object.keys(servers as object);
    fail(
      server,
      `server "${server}" is not declared; declare it with pulumi config set --path '${qualified(`${SERVERS_CONFIG_KEY}.${server}.host`)}' <host>` +
        (known.length ? ` (declared: ${known.join(", ")})` : ""),
    );
  }
  if (typeof entry !== "object" || entry === null || Array.isArray(entry))
    fail(server, "expected {host, port, user, sslMode, sslRootCert}");
  inputs[qualified(ADMIN_CONFIG_KEYS.sslmode)] = NAMED_SERVER_SSL_MODE;
  inputs[qualified(SERVER_NAME_KEY)] = server;
  for (const [field, value] of Object.entries(entry as Record<string, unknown>)) {
    if ((CLUSTER_SERVER_FIELDS as readonly string[]).includes(field)) continue;
    if (!(field in SERVER_FIELDS))
      fail(
        `${server}.${field}`,
        `unknown; use ${[...Object.keys(SERVER_FIELDS), ...CLUSTER_SERVER_FIELDS].join(", ")} (the password goes in the password file)`,
      );
    if (typeof value !== "string" && typeof value !== "number") fail(`${server}.${field}`, "expected a string");
    inputs[qualified(SERVER_FIELDS[field])] = String(value);
  }
  if (!inputs[qualified(ADMIN_CONFIG_KEYS.host)]) fail(`${server}.host`, "missing: say where the server is");
  return inputs;
}
