// PgDatabase: the Pulumi resource users declare, a dynamic resource of type pulumi-nodejs:pg:Database driven by
// the provider in ./provider.
import * as pulumi from "@pulumi/pulumi";
import { pulumiManager } from "../core/ownership";
import type { PgDatabaseSpecInput } from "../core/spec";
import { pgDatabaseProvider } from "./provider";

/** The resource's arguments: the core's spec, each field an Input. The admin connection comes from stack config. */
export type PgDatabaseArgs = { [K in keyof PgDatabaseSpecInput]: pulumi.Input<PgDatabaseSpecInput[K]> };

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
      opts,
      "pg",
      "Database",
    );
  }
}
