// Reads the provider's admin connection from stack config (the password a secret config value), falling back to
// libpq environment variables. Credentials reach the provider only here, never as resource inputs.
import { connectionSettings, type ConnectionSettings } from "../core/connect";

/** The stack config keys the provider reads, under the project's namespace (e.g. pg-kopf:adminPassword). */
export const ADMIN_CONFIG_KEYS = {
  host: "adminHost",
  port: "adminPort",
  user: "adminUser",
  password: "adminPassword",
  database: "adminDatabase",
  sslmode: "adminSslMode",
  sslrootcert: "adminSslRootCert",
  connectTimeoutSeconds: "adminConnectTimeout",
} as const;

/** What the provider needs of Pulumi's config object. */
export interface ConfigSource {
  get(key: string): string | undefined;
}

/**
 * Connection settings from stack config, then PG* environment variables, then defaults. Throws InvalidSpec naming
 * the setting when one is malformed. The password stays non-enumerable.
 */
export function adminConnection(config: ConfigSource, env: NodeJS.ProcessEnv): ConnectionSettings {
  const get = (key: string) => config.get(key);
  return connectionSettings(
    {
      host: get(ADMIN_CONFIG_KEYS.host),
      port: get(ADMIN_CONFIG_KEYS.port),
      user: get(ADMIN_CONFIG_KEYS.user),
      password: get(ADMIN_CONFIG_KEYS.password),
      database: get(ADMIN_CONFIG_KEYS.database),
      sslmode: get(ADMIN_CONFIG_KEYS.sslmode),
      sslrootcert: get(ADMIN_CONFIG_KEYS.sslrootcert),
      connectTimeoutSeconds: get(ADMIN_CONFIG_KEYS.connectTimeoutSeconds),
      applicationName: "pg-kopf-pulumi",
    },
    env,
  );
}
