// The PgDatabase and PgRole dynamic provider objects that pulumi.dynamic.Resource serializes into the state. Each is
// only a dispatcher: each method loads its handlers module (./handlers, ./roleHandlers: the entry points of
// ./database/handlers and ./role/handlers) by name in the provider process, so the serialized text stays a few lines
// and the same across releases, carries no captured state or credentials, and always runs the project's current
// build of the core.
import type * as pulumi from "@pulumi/pulumi";
import type { ConnectionSettings } from "../core/connect";
import type { ConfigSource } from "./config";

/** What a handlers module exports: one function per provider method, each given the admin connection. */
export interface ResourceHandlers {
  configure(config: ConfigSource | undefined, env: NodeJS.ProcessEnv): ConnectionSettings;
  check(settings: ConnectionSettings, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult>;
  diff(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult>;
  create(settings: ConnectionSettings, inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult>;
  read(settings: ConnectionSettings, id: string, props: Record<string, unknown>): Promise<pulumi.dynamic.ReadResult>;
  update(settings: ConnectionSettings, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult>;
  remove(settings: ConnectionSettings, props: Record<string, unknown>): Promise<void>;
}

export interface DispatchingProvider extends pulumi.dynamic.ResourceProvider {
  /** The admin connection, set by configure from stack config; never serialized (configure runs after loading). */
  settings?: ConnectionSettings;
  /** Why configure could not make the admin connection (a missing host, a malformed setting): check reports it. */
  configureError?: Error;
}

/**
 * The compiled handlers, resolved from the provider process's working directory (the Pulumi program's directory):
 * the pg-kopf package installed in that project, or, in the pg-kopf repository itself, its own build. Resolved anew in
 * each process, never captured, so a state written on one machine works from a checkout elsewhere. Throws a message
 * that says what to install or build when neither is there.
 */
function loadHandlers(moduleName: string): ResourceHandlers {
  const path = require("node:path");
  const fs = require("node:fs");
  let file: string | undefined;
  try {
    file = require.resolve(`pg-kopf/dist/provider/${moduleName}.js`, { paths: [process.cwd()] });
  } catch {
    // Not installed as a package: the repository's own build, found from the program's directory upwards.
    for (let dir = process.cwd(); !file; dir = path.dirname(dir)) {
      const manifest = path.join(dir, "package.json");
      if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, "utf8")).name === "pg-kopf")
        file = path.join(dir, "dist", "provider", `${moduleName}.js`);
      if (dir === path.dirname(dir)) break;
    }
  }
  try {
    return require(file ?? `pg-kopf/dist/provider/${moduleName}.js`);
  } catch (err) {
    throw new Error(
      `pg-kopf: cannot load its provider (${(err as Error).message}); install pg-kopf in the Pulumi project ("npm install pg-kopf"), ` +
        `or in the pg-kopf repository run "npm run build"`,
    );
  }
}

/**
 * A provider whose every method calls the handlers module `moduleName` with the admin connection: from configure,
 * or from PG* variables when the engine never called configure.
 */
export function dispatcher(moduleName: string): DispatchingProvider {
  const settingsOf = (provider: DispatchingProvider, h: ResourceHandlers): ConnectionSettings => {
    if (provider.configureError) throw provider.configureError;
    // (No ??=: Pulumi's closure serializer cannot parse it.)
    if (!provider.settings) provider.settings = h.configure(undefined, process.env);
    return provider.settings;
  };
  return {
    async configure(req: pulumi.dynamic.ConfigureRequest) {
      try {
        this.settings = loadHandlers(moduleName).configure(req.config, process.env);
      } catch (err) {
        // Thrown here, the engine would print the message twice and a stack trace; check reports it once.
        this.configureError = err as Error;
      }
    },
    async check(olds, news) {
      // A check that throws is printed by the engine as the message, the message again and its stack trace; a
      // failure is printed once, and fails the preview just the same.
      try {
        const h = loadHandlers(moduleName);
        return await h.check(settingsOf(this, h), olds, news);
      } catch (err) {
        return { inputs: news, failures: [{ property: "", reason: (err as Error).message }] };
      }
    },
    async diff(_id, olds, news) {
      return loadHandlers(moduleName).diff(olds, news);
    },
    async create(inputs) {
      const h = loadHandlers(moduleName);
      return h.create(settingsOf(this, h), inputs);
    },
    async read(id, props) {
      const h = loadHandlers(moduleName);
      return h.read(settingsOf(this, h), id, props ?? {});
    },
    async update(_id, olds, news) {
      const h = loadHandlers(moduleName);
      return h.update(settingsOf(this, h), olds, news);
    },
    async delete(_id, props) {
      const h = loadHandlers(moduleName);
      return h.remove(settingsOf(this, h), props);
    },
  };
}
