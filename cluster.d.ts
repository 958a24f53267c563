export * from "./dist/infra/cluster";
