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
  readonly serviceName?: string;
  readonly secretName?: string;
}

export class PostgresEndpoint extends pulumi.ComponentResource {
  /** The in-cluster DNS name of the Service that reaches Postgres. */
  public readonly host: pulumi.Output<string>;
  public readonly port: number;
  public readonly secretName: string;

  constructor(name: string, args: PostgresEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-kopf:index:PostgresEndpoint", name, {}, opts);
    const serviceName = args.serviceName ?? "postgres";
    this.secretName = args.secretName ?? "pg-kopf-postgres";
    this.port = args.target.port;
    const labels = { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": "pg-kopf" };
    const ports = [{ name: "postgres", port: args.target.port, targetPort: args.target.port, protocol: "TCP" }];

    if ("hostIp" in args.target) {
      // No selector: the endpoints are ours to declare, pointing outside the cluster.
      new k8s.core.v1.Service(`${name}-service`, {
        metadata: { name: serviceName, namespace: args.namespace, labels },
        spec: { type: "ClusterIP", ports },
      }, { parent: this });
      new k8s.discovery.v1.EndpointSlice(`${name}-endpoints`, {
        metadata: {
          name: `${serviceName}-external`,
          namespace: args.namespace,
          labels: { ...labels, "kubernetes.io/service-name": serviceName, "endpointslice.kubernetes.io/managed-by": "pg-kopf" },
        },
        addressType: "IPv4",
        endpoints: [{ addresses: [args.target.hostIp], conditions: { ready: true } }],
        ports: [{ name: "postgres", port: args.target.port, protocol: "TCP" }],
      }, { parent: this });
    } else {
      new k8s.core.v1.Service(`${name}-service`, {
        metadata: { name: serviceName, namespace: args.namespace, labels },
        spec: { type: "ExternalName", externalName: args.target.externalName, ports },
      }, { parent: this });
    }
    this.host = pulumi.interpolate`${serviceName}.${args.namespace}.svc.cluster.local`;

    new k8s.core.v1.Secret(`${name}-credentials`, {
      metadata: { name: this.secretName, namespace: args.namespace, labels },
      type: "Opaque",
      // Marked secret explicitly, so the state holds ciphertext whatever the caller passed.
      stringData: pulumi.secret(
        pulumi.all([args.user, args.password, args.database, args.sslmode]).apply(([PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE]) => ({
          PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE,
        })),
      ),
    }, { parent: this });

    this.registerOutputs({ host: this.host, port: this.port, secretName: this.secretName });
  }
}
