// The PgRole provider as a module whose exports are the provider's methods (a dispatcher, ../provider). What
// pulumi.dynamic.Resource serializes is then this module: for a pg-kopf installed in a project's node_modules the
// closure serializer writes `require("pg-kopf/dist/provider/role/dispatch.js")` into each resource's state, a few
// dozen bytes instead of the dispatcher's text in the inputs and again in the outputs of every resource
// (docs/adr/0023). Elsewhere (this repository's own program) it is serialized by value, as before.
import { dispatcher } from "../provider";

const provider = dispatcher("roleHandlers");
export const { configure, check, diff, create, read, update } = provider;
const remove = provider.delete;
export { remove as delete };
