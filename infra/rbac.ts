// The controller's permissions, as data: exactly what it needs and nothing more. A test asserts these rules, so a
// widening shows up as a visible change in review.
import { GROUP, PLURAL } from "../crd/pgdatabase";

export interface PolicyRule {
  readonly apiGroups: string[];
  readonly resources: string[];
  readonly verbs: string[];
  readonly resourceNames?: string[];
}

/** Cluster-wide: PgDatabase objects may live in any namespace. */
export function controllerClusterRules(): PolicyRule[] {
  return [
    // Watch and read the resources; patch/update only for our finalizer and the creation-intent annotation.
    { apiGroups: [GROUP], resources: [PLURAL], verbs: ["get", "list", "watch", "patch", "update"] },
    { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ["get", "patch", "update"] },
    { apiGroups: [GROUP], resources: [`${PLURAL}/finalizers`], verbs: ["update"] },
    // Events on the PgDatabase objects, in their namespaces.
    { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
  ];
}

/**
 * In the controller's own namespace: its leader-election Lease, by name. No Secret access: the credentials reach
 * the process as environment variables and files that the kubelet fills from the Secret.
 */
export function controllerNamespaceRules(leaseName: string): PolicyRule[] {
  return [
    // create cannot be limited by name (the object does not exist yet); everything else is.
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "update", "patch"], resourceNames: [leaseName] },
  ];
}
