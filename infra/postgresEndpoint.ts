// PostgresEndpoint: how the cluster reaches the Postgres outside it (a selector-less Service with an EndpointSlice
// for a host IP, or an ExternalName Service for a DNS name) and the Secret with the admin credentials.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";

export interface PostgresEndpointArgs {
  readonly namespace: pulumi.Input<string>;
  /** A host IP (e.g. the minikube host's) or a DNS name; exactly one. */
  readonly target: { readonly hostIp: string; readonly port: number } | { readonly externalName: string; readonly port: number };
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
    const ports = [{ name: "postgres", port: args.target.port, targetPort: args.target.port, protocol: "TCP" }];

    if ("hostIp" in args.target) {
      // No selector: the endpoints are ours to declare, pointing outside the cluster.
      new k8s.core.v1.Service(
        `${name}-service`,
        {
          metadata: { name: serviceName, namespace: args.namespace, labels },
          spec: { type: "ClusterIP", ports },
        },
        { parent: this },
      );
      new k8s.discovery.v1.EndpointSlice(
        `${name}-endpoints`,
        {
          metadata: {
            name: `${serviceName}-external`,
            namespace: args.namespace,
            labels: { ...labels, "kubernetes.io/service-name": serviceName, "endpointslice.kubernetes.io/managed-by": "pg-kopf" },
          },
          addressType: "IPv4",
          endpoints: [{ addresses: [args.target.hostIp], conditions: { ready: true } }],
          ports: [{ name: "postgres", port: args.target.port, protocol: "TCP" }],
        },
        { parent: this },
      );
    } else {
      new k8s.core.v1.Service(
        `${name}-service`,
        {
          metadata: { name: serviceName, namespace: args.namespace, labels },
          spec: { type: "ExternalName", externalName: args.target.externalName, ports },
        },
        { parent: this },
      );
    }
    this.host = pulumi.interpolate`${serviceName}.${args.namespace}.svc.cluster.local`;

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
