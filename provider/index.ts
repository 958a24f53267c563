// The Pulumi side of pg-kopf: the PgDatabase resource and its dynamic provider.
export { PgDatabase, type PgDatabaseArgs } from "./resource";
export { pgDatabaseProvider } from "./provider";
export { ADMIN_CONFIG_KEYS } from "./config";
