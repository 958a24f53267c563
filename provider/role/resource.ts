// PgRole: the Pulumi resource for a role, a dynamic resource of type pg:Role driven by ./handlers through the
// same explicit provider as PgDatabase. Its password is a secret both ways: the input is wrapped as one whatever the
// program passes, and the output (given or generated) is recorded encrypted.
import * as pulumi from "@pulumi/pulumi";
import type { PgRoleSpecInput } from "../../core/role/spec";
import * as pgRoleProvider from "./dispatch";
import { pgKopfProvider, resourceInputs, type ServerArg } from "../database/resource";
import { DEFAULT_SERVER } from "../config";

export type PgRoleArgs = { [K in keyof PgRoleSpecInput]: pulumi.Input<PgRoleSpecInput[K]> } & {
  /** The role's password. Omitted: the provider generates one at creation (see the password output). Changing it rotates it. */
  password?: pulumi.Input<string>;
  /**
   * Instead of a password in the state: the provider generates one and writes it only to this Kubernetes Secret
   * (username, password, host, port, uri, jdbc-uri, pgpass), through its KUBECONFIG. host and port: where apps reach
   * Postgres (default: the admin connection's). The password output is then absent.
   */
  credentialsSecret?: pulumi.Input<{
    name: string;
    namespace: string;
    host?: string;
    port?: number;
    /** The database dbname, uri, jdbc-uri and pgpass point at (default: the maintenance database; * in pgpass). */
    database?: string;
    /** More databases, each with its keys `<database>.dbname`, `.uri`, `.jdbc-uri`, `.pgpass`. */
    databases?: string[];
    /** A pooler in front of the server (PgBouncer, port 6432 by default): the keys point at it, the server under direct-*. */
    pooler?: { host: string; port?: number };
    /** Where apps mount the Secret: with a server CA, the URIs carry sslrootcert=<mountPath>/ca.crt. */
    mountPath?: string;
  }>;
  /** With credentialsSecret: any new value writes a new password to the Secret and sets it on the role (in place). */
  rotate?: pulumi.Input<string>;
  /**
   * With credentialsSecret: a rotation period such as 720h (whole h, m, s; at least 10s). Pulumi has no clock of its
   * own, so the first preview or up after rotationDueAt rotates, and says so; the output tells when that is.
   */
  rotateEvery?: pulumi.Input<string>;
  /**
   * With credentialsSecret: two-credential rotation (docs/adr/0026). The role becomes the NOLOGIN owner of what it
   * has; <name>_a and <name>_b log in by turns, the Secret naming the current one; the previous one keeps working for
   * keepPrevious (default 1h) and is made NOLOGIN at the first up after that.
   */
  twoCredentials?: pulumi.Input<{ keepPrevious?: pulumi.Input<string> }>;
  /**
   * More keys in the shape apps read, from {{ placeholders }} (core/role/secretTemplate): written to credentialsSecret,
   * or, without it, the credentials output. Editing it rewrites them, the password kept.
   */
  secretTemplate?: pulumi.Input<Record<string, pulumi.Input<string>>>;
} & ServerArg;

export class PgRole extends pulumi.dynamic.Resource {
  declare public readonly name: pulumi.Output<string>;
  declare public readonly login: pulumi.Output<boolean>;
  declare public readonly memberOf: pulumi.Output<string[] | undefined>;
  declare public readonly reclaimPolicy: pulumi.Output<"retain" | "delete">;
  declare public readonly manager: pulumi.Output<string>;
  declare public readonly oid: pulumi.Output<number>;
  /** The password the role logs in with (the input, or the one generated at creation). Secret. Absent with credentialsSecret. */
  declare public readonly password: pulumi.Output<string>;
  /** With credentialsSecret: the version of the Secret the role's password was written to. */
  declare public readonly credentialsVersion: pulumi.Output<string | undefined>;
  /** With credentialsSecret: when the provider last set the Secret's password on the role (RFC 3339): its age. */
  declare public readonly passwordSetAt: pulumi.Output<string | undefined>;
  /** With rotateEvery: when the next rotation is due (the first up after it rotates). */
  declare public readonly rotationDueAt: pulumi.Output<string | undefined>;
  /** With twoCredentials: the role the Secret names (a member), and the one it named before, which logs in until previousUntil. */
  declare public readonly username: pulumi.Output<string | undefined>;
  declare public readonly previousUsername: pulumi.Output<string | undefined>;
  declare public readonly previousUntil: pulumi.Output<string | undefined>;
  /** With secretTemplate and no credentialsSecret: its keys, for the admin connection's address. Secret. */
  declare public readonly credentials: pulumi.Output<Record<string, string> | undefined>;

  constructor(name: string, args: PgRoleArgs, opts?: pulumi.CustomResourceOptions) {
    const { password, server = DEFAULT_SERVER, ...spec } = args;
    super(
      pgRoleProvider,
      name,
      {
        ...spec,
        ...resourceInputs(server),
        oid: undefined,
        password: password !== undefined ? pulumi.secret(password) : undefined,
        generatedPassword: undefined,
        credentialsVersion: undefined,
        passwordSetAt: undefined,
        rotationDueAt: undefined,
        username: undefined,
        previousUsername: undefined,
        previousUntil: undefined,
        credentials: undefined,
      },
      {
        provider: pgKopfProvider(server),
        ...opts,
        additionalSecretOutputs: ["password", "credentials", ...(opts?.additionalSecretOutputs ?? [])],
      },
      "pg",
      "Role",
    );
  }
}
