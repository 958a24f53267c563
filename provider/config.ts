// The provider's admin connection: the non-secret settings from the documented pg-kopf:* stack config keys (passed
// by the PgDatabase resource to its provider, whatever the project is called), then libpq environment variables; the
// password only from libpq's own sources in the provider process. See docs/adr/0007.
import { connectionSettings, type ConnectionSettings } from "../core/connect";
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
} as const;

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
  return connectionSettings(
    {
      host,
      port: get(ADMIN_CONFIG_KEYS.port),
      user: get(ADMIN_CONFIG_KEYS.user),
      database: get(ADMIN_CONFIG_KEYS.database),
      sslmode: get(ADMIN_CONFIG_KEYS.sslmode),
      sslrootcert: get(ADMIN_CONFIG_KEYS.sslrootcert),
      connectTimeoutSeconds: get(ADMIN_CONFIG_KEYS.connectTimeoutSeconds),
      applicationName: "pg-kopf-pulumi",
    },
    env,
  );
}
