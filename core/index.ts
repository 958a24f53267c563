// The Postgres core's public surface: spec -> validate -> observe -> plan -> apply -> observed state. A room per kind
// (databases at the top level, as pg-kopf began; roles as `role`), and what every kind shares.
export * from "./database";
export * as role from "./role";
export * from "./server/identity";
export * from "./schema";
export * from "./behaviour";
export * from "./settings";
export * from "./errors";
export * from "./connect";
export * from "./kerberos";
export * from "./privateFile";
export * from "./ownership";
export * from "./scram";
export * from "./admin";
export * from "./concurrency";
