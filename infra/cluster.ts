// The cluster half of pg-kopf for a platform team's own Pulumi program (`require("pg-kopf/cluster")`): the
// components this repository's program composes (see ./program). PostgresEndpoint makes the Service (and
// EndpointSlice, or ExternalName) that reaches Postgres and the admin credentials Secret; PgKopfOperator the CRDs
// (kept on destroy), ServiceAccount, least-privilege RBAC and the controller's Deployment, wired to that endpoint.
export { CONTROLLER_NAME, PgKopfOperator, type PgKopfOperatorArgs } from "./operator";
export { PostgresEndpoint, type PostgresEndpointArgs } from "./postgresEndpoint";
export type { ServiceTarget } from "./postgresService";
