// The PgDatabase dynamic provider object that pulumi.dynamic.Resource serializes into the state. It is only a
// dispatcher: each method loads ./handlers by path in the provider process, so the serialized text stays a few
// lines, carries no captured state or credentials, and always runs the project's current build of the core.
import type * as pulumi from "@pulumi/pulumi";
import type * as Handlers from "./handlers";
import type { ConnectionSettings } from "../core/connect";

export interface PgDatabaseProvider extends pulumi.dynamic.ResourceProvider {
  /** The admin connection, set by configure from stack config; never serialized (configure runs after loading). */
  settings?: ConnectionSettings;
}

/**
 * The compiled handlers, resolved from the Pulumi project's directory (the provider process's working directory):
 * the pg-kopf package installed there, or this repository's own build when the project is pg-kopf itself. Resolved
 * anew in each process, never captured, so a state written on one machine works from a checkout elsewhere. Throws a
 * message that says what to install or build when neither is there.
 */
function handlers(): typeof Handlers {
  const path = require("node:path");
  const cwd = process.cwd();
  let file: string;
  try {
    file = require.resolve("pg-kopf/dist/provider/handlers.js", { paths: [cwd] });
  } catch {
    file = path.join(cwd, "dist", "provider", "handlers.js");
  }
  try {
    return require(file);
  } catch (err) {
    throw new Error(
      `pg-kopf: cannot load ${file} (${(err as Error).message}); install pg-kopf in the Pulumi project ("npm install pg-kopf"), ` +
        `or in the pg-kopf repository run "npm run build"`,
    );
  }
}

/** The admin connection: from configure, or from PG* variables when the engine never called configure. */
function settingsOf(provider: PgDatabaseProvider, h: typeof Handlers): ConnectionSettings {
  return (provider.settings ??= h.configure(undefined, process.env));
}

export const pgDatabaseProvider: PgDatabaseProvider = {
  async configure(req: pulumi.dynamic.ConfigureRequest) {
    this.settings = handlers().configure(req.config, process.env);
  },
  async check(olds, news) {
    const h = handlers();
    return h.check(settingsOf(this, h), olds, news);
  },
  async diff(_id, olds, news) {
    return handlers().diff(olds, news);
  },
  async create(inputs) {
    const h = handlers();
    return h.create(settingsOf(this, h), inputs);
  },
  async read(id, props) {
    const h = handlers();
    return h.read(settingsOf(this, h), id, props ?? {});
  },
  async update(_id, _olds, news) {
    const h = handlers();
    return h.update(settingsOf(this, h), news);
  },
  async delete(_id, props) {
    const h = handlers();
    return h.remove(settingsOf(this, h), props);
  },
};
