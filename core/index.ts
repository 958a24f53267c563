// The Postgres core's public surface: spec -> validate -> observe -> plan -> apply -> observed state.
export * from "./spec";
export * from "./fields";
export * from "./errors";
export * from "./connect";
export * from "./observe";
export * from "./steps";
export * from "./plan";
export * from "./apply";
export * from "./ownership";
export * from "./scram";
export * as role from "./role";
export * from "./access";
export * from "./admin";
export * from "./concurrency";
export * from "./identity";
