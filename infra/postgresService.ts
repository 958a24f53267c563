// How the cluster reaches a Postgres outside it: a Service named for it, selector-less with an EndpointSlice for a
// host IP, or an ExternalName for a DNS name (so apps in the cluster have one stable name for it either way).
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";

/** A host IP (e.g. the minikube host's) or a DNS name, and the port. */
export type ServiceTarget = { readonly hostIp: string; readonly port: number } | { readonly externalName: string; readonly port: number };

/**
 * Declares the Service `serviceName` (and its EndpointSlice for an IP) under `parent`, resources named after `name`.
 * Returns the Service's in-cluster DNS name.
 */
export function postgresService(
  name: string,
  args: { readonly namespace: pulumi.Input<string>; readonly target: ServiceTarget; readonly serviceName: string },
  parent: pulumi.Resource,
): pulumi.Output<string> {
  const { serviceName } = args;
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
      { parent },
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
      { parent },
    );
  } else {
    new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: serviceName, namespace: args.namespace, labels },
        spec: { type: "ExternalName", externalName: args.target.externalName, ports },
      },
      { parent },
    );
  }
  return pulumi.interpolate`${serviceName}.${args.namespace}.svc.cluster.local`;
}
