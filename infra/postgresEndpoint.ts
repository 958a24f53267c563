// PostgresEndpoint: how the cluster reaches the admin connection's Postgres (its Service) and the Secret with the
// admin credentials the controller's environment reads.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { postgresService, type ServiceTarget } from "./postgresService";

export interface PostgresEndpointArgs {
  readonly namespace: pulumi.Input<string>;
  /** A host IP (e.g. the minikube host's) or a DNS name; exactly one. */
  readonly target: ServiceTarget;
  readonly user: pulumi.Input<string>;
  readonly password: pulumi.Input<string>;
  readonly database: pulumi.Input<string>;
  readonly sslmode: pulumi.Input<string>;
  /** PEM of the CA that signs the server certificate, for sslmode verify-ca / verify-full. */
  readonly sslRootCert?: string;
  readonly serviceName?: string;
}

/** The Secret key holding the CA certificate, when there is one. */
export const CA_KEY = "ca.crt";

export class PostgresEndpoint extends pulumi.ComponentResource {
  /** The in-cluster DNS name of the Service that reaches Postgres. */
  public readonly host: pulumi.Output<string>;
  public readonly port: number;
  /** The credentials Secret's name: generated, and new whenever the credentials change (see below). */
  public readonly secretName: pulumi.Output<string>;
  /** Whether the Secret carries a CA certificate under CA_KEY. */
  public readonly hasCa: boolean;

  constructor(name: string, args: PostgresEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-kopf:index:PostgresEndpoint", name, {}, opts);
    const serviceName = args.serviceName ?? "postgres";
    this.port = args.target.port;
    this.hasCa = args.sslRootCert !== undefined;
    const labels = { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": "pg-kopf" };
    this.host = postgresService(name, { namespace: args.namespace, target: args.target, serviceName }, this);

    // Immutable and named by Pulumi: changed credentials (a rotated password) make a new Secret under a new name,
    // which changes the Deployment's pod template, so the controller restarts with them; no hash of the password
    // needs to appear anywhere.
    const secret = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { namespace: args.namespace, labels },
        type: "Opaque",
        immutable: true,
        // Marked secret explicitly, so the state holds ciphertext whatever the caller passed.
        stringData: pulumi.secret(
          pulumi.all([args.user, args.password, args.database, args.sslmode]).apply(([PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE]) => ({
            PGUSER,
            PGPASSWORD,
            PGDATABASE,
            PGSSLMODE,
            ...(args.sslRootCert !== undefined ? { [CA_KEY]: args.sslRootCert } : {}),
          })),
        ),
      },
      { parent: this },
    );
    this.secretName = secret.metadata.name;

    this.registerOutputs({ host: this.host, port: this.port, secretName: this.secretName });
  }
}
