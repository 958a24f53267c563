// The controller's permissions, as data: exactly what it needs and nothing more. A test asserts these rules, so a
// widening shows up as a visible change in review.
import { GROUP, PLURAL as DATABASES } from "../crd/pgdatabase";
import { PLURAL as ROLES } from "../crd/pgrole";

export interface PolicyRule {
  readonly apiGroups: string[];
  readonly resources: string[];
  readonly verbs: string[];
  readonly resourceNames?: string[];
}

/**
 * Cluster-wide: PgDatabase and PgRole objects may live in any namespace. With roleNamespaces "*", the credentials
 * Secrets' rules too (the controller can then read every Secret in the cluster: say so in review).
 */
export function controllerClusterRules(roleNamespaces: readonly string[] | "*" = []): PolicyRule[] {
  return [
    // Watch and read the resources; patch/update only for our finalizer and the creation-intent annotation.
    { apiGroups: [GROUP], resources: [DATABASES, ROLES], verbs: ["get", "list", "watch", "patch", "update"] },
    { apiGroups: [GROUP], resources: [`${DATABASES}/status`, `${ROLES}/status`], verbs: ["get", "patch", "update"] },
    { apiGroups: [GROUP], resources: [`${DATABASES}/finalizers`, `${ROLES}/finalizers`], verbs: ["update"] },
    // Events on the objects, in their namespaces.
    { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
    ...(roleNamespaces === "*" ? credentialsRules() : []),
  ];
}

/**
 * In each namespace where PgRoles live (pg-kopf:roleNamespaces): their credentials Secrets. Reading by name to find
 * whether a Secret exists and whose it is, listing and watching (only pg-kopf's, by label) to see one deleted or
 * edited, creating and replacing its own. No delete: a PgRole's Secret goes with it, by the garbage collector.
 */
export function credentialsRules(): PolicyRule[] {
  return [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch", "create", "update"] }];
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
