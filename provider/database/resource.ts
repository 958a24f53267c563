// PgDatabase: the Pulumi resource users declare, a dynamic resource of type pg:Database driven by the provider in
// ../provider, through one explicit provider per program that carries the admin connection's non-secret settings.
import * as pulumi from "@pulumi/pulumi";
import { pulumiManager } from "../../core/ownership";
import type { PgDatabaseSpecInput } from "../../core/database/spec";
import { CONFIG_NAMESPACE, DEFAULT_SERVER, serverProviderInputs } from "../config";
import { serverConflict } from "../distinctServers";
import * as pgDatabaseProvider from "./dispatch";

/**
 * The resource's arguments: the core's spec, each field an Input, and the server it lives on (a name from
 * pg-kopf:servers; default: the admin connection). The connection comes from stack config.
 */
export type PgDatabaseArgs = { [K in keyof PgDatabaseSpecInput]: pulumi.Input<PgDatabaseSpecInput[K]> } & ServerArg;

/** The server as a resource input: recorded only when not the default, so single-server stacks see no new property. */
export function serverInput(server: string): { server?: string } {
  return server === DEFAULT_SERVER ? {} : { server };
}

export interface ServerArg {
  /** The server, by its name in pg-kopf:servers; fixed for the resource's life. Default: the admin connection. */
  readonly server?: string;
}

/** The dynamic provider host (package pulumi-nodejs) as an explicit provider resource. */
class PgKopfProvider extends pulumi.ProviderResource {
  constructor(name: string, inputs: Record<string, string>) {
    super("pulumi-nodejs", name, inputs);
  }
}

/**
 * One provider per server and deployment: an Automation API process runs several deployments, each with a Stack
 * resource of its own.
 */
const providers = new WeakMap<object, Map<string, PgKopfProvider>>();

/**
 * The provider the resources on `server` use. Explicit, because the engine gives a default dynamic provider the
 * whole stack config, secrets included, which it records in the state and unwraps into its logs (the dynamic
 * provider host accepts no secrets). This one gets only the connection keys of its server: the documented pg-kopf:*
 * admin keys for the default server, an entry of pg-kopf:servers for another (docs/adr/0014). (Stacks made with the
 * default provider move to this one without a replacement: the engine replaces resources on a provider change only
 * when the provider asks for it in DiffConfig, which the dynamic provider host does not implement.)
 */
export function pgKopfProvider(server: string = DEFAULT_SERVER): pulumi.ProviderResource {
  const deployment = pulumi.runtime.getStackResource() ?? providers;
  let perServer = providers.get(deployment);
  if (!perServer) {
    perServer = new Map();
    providers.set(deployment, perServer);
  }
  let provider = perServer.get(server);
  if (!provider) {
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    const inputs = serverProviderInputs(
      server,
      (key) => config.get(key),
      (key) => config.getObject(key),
    );
    // The default server's provider keeps the name it always had, so existing stacks see no change.
    provider = new PgKopfProvider(server === DEFAULT_SERVER ? "pg-kopf" : `pg-kopf-${server}`, inputs);
    perServer.set(server, provider);
  }
  return provider;
}

/**
 * What every resource on `server` adds to its spec: the manager it stamps, and why it may not be checked when its
 * server and another entry are one Postgres (./distinctServers; absent otherwise). A resource waits for that
 * comparison before it is checked, so two entries for one server fail the preview before anything runs.
 */
export function resourceInputs(server: string): { server?: string; manager: string; serverConflict: Promise<string | undefined> } {
  return {
    ...serverInput(server),
    manager: pulumiManager(pulumi.getProject(), pulumi.getStack(), server),
    serverConflict: serverConflict(server),
  };
}

export class PgDatabase extends pulumi.dynamic.Resource {
  /** The database name (also the resource id). */
  declare public readonly name: pulumi.Output<string>;
  declare public readonly owner: pulumi.Output<string | undefined>;
  declare public readonly encoding: pulumi.Output<string | undefined>;
  declare public readonly connectionLimit: pulumi.Output<number | undefined>;
  declare public readonly extensions: pulumi.Output<string[] | undefined>;
  declare public readonly reclaimPolicy: pulumi.Output<"retain" | "delete">;
  /** The identity stamped on the database (pulumi:<project>/<stack>). */
  declare public readonly manager: pulumi.Output<string>;
  /** The database's oid in pg_database: changes only if the database is re-created. */
  declare public readonly oid: pulumi.Output<number>;

  constructor(name: string, args: PgDatabaseArgs, opts?: pulumi.CustomResourceOptions) {
    const { server = DEFAULT_SERVER, ...spec } = args;
    super(
      pgDatabaseProvider,
      name,
      { ...spec, ...resourceInputs(server), oid: undefined },
      { provider: pgKopfProvider(server), ...opts },
      "pg",
      "Database",
    );
  }
}
