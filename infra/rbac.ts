// The controller's permissions, as data: exactly what it needs and nothing more. A test asserts these rules, so a
// widening shows up as a visible change in review.
import { GROUP, PLURAL as DATABASES } from "../crd/pgdatabase";
import { PLURAL as ROLES } from "../crd/pgrole";
import { PLURAL as SERVERS } from "../crd/pgserver";

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
    // PgServers: read, and their status written (no finalizer: the controller never changes a server's objects).
    { apiGroups: [GROUP], resources: [SERVERS], verbs: ["get", "list", "watch"] },
    { apiGroups: [GROUP], resources: [`${SERVERS}/status`], verbs: ["get", "patch", "update"] },
    // A namespace's labels, to match a PgServer's allowedNamespaces selector. Read only, by name.
    { apiGroups: [""], resources: ["namespaces"], verbs: ["get"] },
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
 * In the controller's own namespace: its leader-election Lease, by name, and each declared server's admin Secret and
 * CA ConfigMap, by name (read again at each check). No other Secret: the default server's credentials reach the
 * process as environment variables and files that the kubelet fills from its Secret.
 */
export function controllerNamespaceRules(
  leaseName: string,
  servers: { secrets: string[]; configMaps: string[] } = { secrets: [], configMaps: [] },
): PolicyRule[] {
  // An empty resourceNames would mean every object: a rule only when there are names.
  const byName = (resource: string, names: string[]): PolicyRule[] =>
    names.length ? [{ apiGroups: [""], resources: [resource], verbs: ["get"], resourceNames: [...names].sort() }] : [];
  return [
    ...byName("secrets", servers.secrets),
    ...byName("configmaps", servers.configMaps),
    // create cannot be limited by name (the object does not exist yet); everything else is.
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "update", "patch"], resourceNames: [leaseName] },
  ];
}
