// The Postgres core's public surface: spec -> validate -> observe -> plan -> apply -> observed state.
export * from "./schema";
export * from "./database/spec";
export * from "./database/fields";
export * from "./errors";
export * from "./connect";
export * from "./database/observe";
export * from "./database/steps";
export * from "./database/plan";
export * from "./database/behaviours";
export * from "./database/apply";
export * from "./ownership";
export * from "./scram";
export * as role from "./role";
export * from "./database/access";
export * from "./admin";
export * from "./concurrency";
export * from "./server/identity";
