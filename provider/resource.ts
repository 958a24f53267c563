// PgDatabase: the Pulumi resource users declare, a dynamic resource of type pg:Database driven by the provider in
// ./provider, through one explicit provider per program that carries the admin connection's non-secret settings.
import * as pulumi from "@pulumi/pulumi";
import { pulumiManager } from "../core/ownership";
import type { PgDatabaseSpecInput } from "../core/spec";
import { ADMIN_CONFIG_KEYS, CONFIG_NAMESPACE, qualified } from "./config";
import { pgDatabaseProvider } from "./provider";

/** The resource's arguments: the core's spec, each field an Input. The admin connection comes from stack config. */
export type PgDatabaseArgs = { [K in keyof PgDatabaseSpecInput]: pulumi.Input<PgDatabaseSpecInput[K]> };

/** The dynamic provider host (package pulumi-nodejs) as an explicit provider resource. */
class PgKopfProvider extends pulumi.ProviderResource {
  constructor(name: string, inputs: Record<string, string>) {
    super("pulumi-nodejs", name, inputs);
  }
}

/** One provider per deployment: an Automation API process runs several, each with a Stack resource of its own. */
const providers = new WeakMap<object, PgKopfProvider>();

/**
 * The provider every PgDatabase of this program uses. Explicit, because the engine gives a default dynamic provider
 * the whole stack config, secrets included, which it records in the state and unwraps into its logs (the dynamic
 * provider host accepts no secrets). This one gets only the documented pg-kopf:* connection keys, read from the
 * pg-kopf namespace whatever the project is called. (Stacks made with the default provider move to this one
 * without a replacement: the engine replaces resources on a provider change only when the provider asks for it in
 * DiffConfig, which the dynamic provider host does not implement.)
 */
export function pgKopfProvider(): pulumi.ProviderResource {
  const deployment = pulumi.runtime.getStackResource() ?? providers;
  let provider = providers.get(deployment);
  if (!provider) {
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    const inputs: Record<string, string> = {};
    for (const key of Object.values(ADMIN_CONFIG_KEYS)) {
      const value = config.get(key);
      if (value !== undefined) inputs[qualified(key)] = value;
    }
    provider = new PgKopfProvider("pg-kopf", inputs);
    providers.set(deployment, provider);
  }
  return provider;
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
    super(
      pgDatabaseProvider,
      name,
      { ...args, manager: pulumiManager(pulumi.getProject(), pulumi.getStack()), oid: undefined },
      { provider: pgKopfProvider(), ...opts },
      "pg",
      "Database",
    );
  }
}
