// The controller's KubeConfig, with one connection pool per cluster and user. @kubernetes/client-node 2.0.1 builds
// a new undici dispatcher, so a new TCP and TLS connection, for every request (kubernetes-client/javascript#2893);
// measured under 100 objects at once, reusing it cut the time to all Ready and the controller's CPU and memory (see
// docs/adr/0010).
import * as k8s from "@kubernetes/client-node";

type CreateDispatcher = (cluster: k8s.Cluster | null, agentOptions: unknown) => unknown;

/**
 * Loads the default configuration (in-cluster, or KUBECONFIG) and makes every API client built from it share one
 * dispatcher per cluster and user. Bearer tokens travel in headers, not in the dispatcher, so a refreshed
 * ServiceAccount token is still picked up.
 */
export function pooledKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  const target = kc as unknown as { createDispatcher: CreateDispatcher };
  const create = target.createDispatcher.bind(kc);
  const dispatchers = new Map<string, unknown>();
  target.createDispatcher = (cluster, agentOptions) => {
    const key = JSON.stringify([cluster?.name, kc.getCurrentUser()?.name]);
    if (!dispatchers.has(key)) dispatchers.set(key, create(cluster, agentOptions));
    return dispatchers.get(key);
  };
  return kc;
}
