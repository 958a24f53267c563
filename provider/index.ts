// The Pulumi side of pg-kopf: the PgDatabase and PgRole resources and their dynamic providers.
export { PgDatabase, type PgDatabaseArgs } from "./database/resource";
export { PgRole, type PgRoleArgs } from "./role/resource";
export * as pgDatabaseProvider from "./database/dispatch";
export * as pgRoleProvider from "./role/dispatch";
export { ADMIN_CONFIG_KEYS } from "./config";
