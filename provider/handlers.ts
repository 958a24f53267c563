// The PgDatabase handlers' entry point, under the name the serialized provider loads (./provider): that name is in
// every state's serialized text, so it stays when the handlers move; they live in ./database/handlers.
export * from "./database/handlers";
