// The Pulumi side of pg-kopf: the PgDatabase and PgRole resources and their dynamic providers.
export { PgDatabase, type PgDatabaseArgs } from "./database/resource";
export { PgRole, type PgRoleArgs } from "./role/resource";
export { pgDatabaseProvider, pgRoleProvider } from "./provider";
export { ADMIN_CONFIG_KEYS } from "./config";
