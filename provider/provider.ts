// The PgDatabase and PgRole dynamic provider objects that pulumi.dynamic.Resource serializes into the state. Each is
// only a dispatcher: each method loads its handlers module (./handlers, ./roleHandlers) by path in the provider
// process, so the serialized text stays a few
// lines, carries no captured state or credentials, and always runs the project's current build of the core.
import type * as pulumi from "@pulumi/pulumi";
import type * as Handlers from "./handlers";
import type * as RoleHandlers from "./roleHandlers";
import type { ConnectionSettings } from "../core/connect";

export interface PgDatabaseProvider extends pulumi.dynamic.ResourceProvider {
  /** The admin connection, set by configure from stack config; never serialized (configure runs after loading). */
  settings?: ConnectionSettings;
}

/**
 * The compiled handlers, resolved from the provider process's working directory (the Pulumi program's directory):
 * the pg-kopf package installed in that project, or, in the pg-kopf repository itself, its own build. Resolved anew in
 * each process, never captured, so a state written on one machine works from a checkout elsewhere. Throws a message
 * that says what to install or build when neither is there.
 */
function handlers(moduleName = "handlers"): typeof Handlers {
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

/** The admin connection: from configure, or from PG* variables when the engine never called configure. */
function settingsOf(provider: PgDatabaseProvider, h: typeof Handlers): ConnectionSettings {
  // (No ??=: Pulumi's closure serializer cannot parse it.)
  if (!provider.settings) provider.settings = h.configure(undefined, process.env);
  return provider.settings;
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

export interface PgRoleProvider extends pulumi.dynamic.ResourceProvider {
  settings?: ConnectionSettings;
}

function roleHandlers(): typeof RoleHandlers {
  return handlers("roleHandlers") as unknown as typeof RoleHandlers;
}

function roleSettingsOf(provider: PgRoleProvider, h: typeof RoleHandlers): ConnectionSettings {
  if (!provider.settings) provider.settings = h.configure(undefined, process.env);
  return provider.settings;
}

export const pgRoleProvider: PgRoleProvider = {
  async configure(req: pulumi.dynamic.ConfigureRequest) {
    this.settings = roleHandlers().configure(req.config, process.env);
  },
  async check(olds, news) {
    const h = roleHandlers();
    return h.check(roleSettingsOf(this, h), olds, news);
  },
  async diff(_id, olds, news) {
    return roleHandlers().diff(olds, news);
  },
  async create(inputs) {
    const h = roleHandlers();
    return h.create(roleSettingsOf(this, h), inputs);
  },
  async read(id, props) {
    const h = roleHandlers();
    return h.read(roleSettingsOf(this, h), id, props ?? {});
  },
  async update(_id, olds, news) {
    const h = roleHandlers();
    return h.update(roleSettingsOf(this, h), olds, news);
  },
  async delete(_id, props) {
    const h = roleHandlers();
    return h.remove(roleSettingsOf(this, h), props);
  },
};
