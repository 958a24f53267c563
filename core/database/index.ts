// Databases: spec -> validate -> observe -> plan -> apply -> observed state, for PgDatabase (the Pulumi resource and
// the custom object alike).
export * from "./fields";
export * from "./behaviours";
export * from "./spec";
export * from "./steps";
export * from "./observe";
export * from "./plan";
export * from "./access";
export * from "./apply";
