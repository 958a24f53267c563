// The PgDatabase handlers under the path a state written before they moved to ./database/handlers names: such a
// state's serialized provider loads "pg-kopf/dist/provider/handlers.js" by name (./provider), so this path stays.
export * from "./database/handlers";
