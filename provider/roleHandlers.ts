// The PgRole handlers under the path a state written before they moved to ./role/handlers names: such a state's
// serialized provider loads "pg-kopf/dist/provider/roleHandlers.js" by name (./provider), so this path stays.
export * from "./role/handlers";
