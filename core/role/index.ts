// Roles: the same spec -> validate -> observe -> plan -> apply flow as databases, for PgRole (the Pulumi resource and
// the custom object alike).
export * from "./fields";
export * from "./behaviours";
export * from "./names";
export * from "./spec";
export * from "./steps";
export * from "./observe";
export * from "./plan";
export * from "./apply";
export * from "./secretTemplate";
export * from "./members";
