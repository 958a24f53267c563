// PgKopfOperator: the in-cluster controller and everything it needs: ServiceAccount, least-privilege RBAC, the
// pgdatabases.my.local, pgroles.my.local and pgservers.my.local CRDs, and the Deployment.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { pgDatabaseCrd } from "../crd/pgdatabase";
import { pgRoleCrd } from "../crd/pgrole";
import { pgServerCrd } from "../crd/pgserver";
import { controllerClusterRules, controllerNamespaceRules, credentialsRules } from "./rbac";
import { CA_KEY } from "./postgresEndpoint";

export interface PgKopfOperatorArgs {
  readonly namespace: pulumi.Input<string>;
  readonly image: string;
  readonly imageTag: string;
  readonly imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  readonly replicas: number;
  /**
   * How long a rollout may go without progress (the Deployment's progressDeadlineSeconds; default
   * DEFAULT_ROLLOUT_DEADLINE_SECONDS): `pulumi up` waits that long and a little more for the Deployment, then fails
   * with the pods' own reason (a wrong image tag: ErrImagePull) instead of waiting out the provider's ten minutes.
   */
  readonly rolloutDeadlineSeconds?: number;
  /** In-cluster address of Postgres (the PostgresEndpoint Service). */
  readonly postgresHost: pulumi.Input<string>;
  readonly postgresPort: number;
  /** The Secret holding PGUSER, PGPASSWORD, PGDATABASE and PGSSLMODE (and the CA under CA_KEY when hasCa). */
  readonly secretName: pulumi.Input<string>;
  readonly hasCa: boolean;
  /** Where PgRoles live, so where the controller may write their credentials Secrets ("*": everywhere). */
  readonly roleNamespaces: readonly string[] | "*";
  /** What the controller reads for the declared servers (ClusterServer), by name, in its namespace. */
  readonly serverObjects?: { secrets: string[]; configMaps: string[] };
}

/** Where the controller finds the CA certificate from the Secret. */
const CA_DIR = "/etc/pg-kopf/tls";

export const CONTROLLER_NAME = "pg-kopf-controller";
const HTTP_PORT = 8080;
/** The controller is Ready within seconds of its start; five minutes leaves room for a slow image pull. */
export const DEFAULT_ROLLOUT_DEADLINE_SECONDS = 300;
const ROLLOUT_WAIT_MARGIN_SECONDS = 15;

/**
 * The controller's memory, sized from `npm run bench:controller` (docs/adr/0011): see the figures there. V8's lite
 * mode (no optimizing compiler, a compact heap) keeps the footprint flat across bursts at no measured cost in speed;
 * the heap cap keeps the peak well under the limit. The image's CMD and the tests run the process with the same
 * arguments.
 */
export const CONTROLLER_MEMORY = { request: "96Mi", limit: "256Mi" } as const;
export const CONTROLLER_NODE_FLAGS = ["--lite-mode", "--max-old-space-size=128"] as const;
/** The container's arguments (the image's entrypoint is node). */
export const CONTROLLER_ARGS = [...CONTROLLER_NODE_FLAGS, "dist/controller/main.js"];

export class PgKopfOperator extends pulumi.ComponentResource {
  public readonly deploymentName: pulumi.Output<string>;
  public readonly crdName: pulumi.Output<string>;
  public readonly roleCrdName: pulumi.Output<string>;
  public readonly serverCrdName: pulumi.Output<string>;
  /** The CRDs, for resources of their kinds to depend on. */
  public readonly crds: pulumi.Resource[];

  constructor(name: string, args: PgKopfOperatorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-kopf:index:PgKopfOperator", name, {}, opts);
    const labels = { "app.kubernetes.io/name": CONTROLLER_NAME, "app.kubernetes.io/part-of": "pg-kopf" };
    const parent = { parent: this };
    const rolloutDeadline = args.rolloutDeadlineSeconds ?? DEFAULT_ROLLOUT_DEADLINE_SECONDS;

    // Kept on destroy: deleting a CRD deletes every object of its kind in the cluster, and with them (reclaimPolicy
    // delete) databases and roles of teams that never asked for it. Remove the objects first, then the CRD by hand.
    const crd = new k8s.apiextensions.v1.CustomResourceDefinition(
      `${name}-crd`,
      pgDatabaseCrd() as unknown as k8s.apiextensions.v1.CustomResourceDefinitionArgs,
      { parent: this, retainOnDelete: true },
    );
    const roleCrd = new k8s.apiextensions.v1.CustomResourceDefinition(
      `${name}-role-crd`,
      pgRoleCrd() as unknown as k8s.apiextensions.v1.CustomResourceDefinitionArgs,
      { parent: this, retainOnDelete: true },
    );
    const serverCrd = new k8s.apiextensions.v1.CustomResourceDefinition(
      `${name}-server-crd`,
      pgServerCrd() as unknown as k8s.apiextensions.v1.CustomResourceDefinitionArgs,
      { parent: this, retainOnDelete: true },
    );
    const sa = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      { metadata: { name: CONTROLLER_NAME, namespace: args.namespace, labels } },
      parent,
    );

    // Cluster-scoped names carry the namespace, so two installations in one cluster do not collide.
    const clusterRole = new k8s.rbac.v1.ClusterRole(
      `${name}-clusterrole`,
      {
        metadata: { name: pulumi.interpolate`${CONTROLLER_NAME}-${args.namespace}`, labels },
        rules: controllerClusterRules(args.roleNamespaces),
      },
      parent,
    );
    new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-clusterrolebinding`,
      {
        metadata: { name: pulumi.interpolate`${CONTROLLER_NAME}-${args.namespace}`, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: args.namespace }],
      },
      parent,
    );
    const role = new k8s.rbac.v1.Role(
      `${name}-role`,
      {
        metadata: { name: CONTROLLER_NAME, namespace: args.namespace, labels },
        rules: controllerNamespaceRules(CONTROLLER_NAME, args.serverObjects),
      },
      parent,
    );
    new k8s.rbac.v1.RoleBinding(
      `${name}-rolebinding`,
      {
        metadata: { name: CONTROLLER_NAME, namespace: args.namespace, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: args.namespace }],
      },
      parent,
    );

    // The credentials Secrets, in each namespace where PgRoles live: nowhere else.
    for (const ns of args.roleNamespaces === "*" ? [] : args.roleNamespaces) {
      const meta = { name: pulumi.interpolate`${CONTROLLER_NAME}-${args.namespace}-credentials`, namespace: ns, labels };
      const credentials = new k8s.rbac.v1.Role(`${name}-credentials-${ns}`, { metadata: meta, rules: credentialsRules() }, parent);
      new k8s.rbac.v1.RoleBinding(
        `${name}-credentials-${ns}`,
        {
          metadata: meta,
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: credentials.metadata.name },
          subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: args.namespace }],
        },
        parent,
      );
    }

    const fromSecret = (key: string) => ({ name: key, valueFrom: { secretKeyRef: { name: args.secretName, key } } });
    const probe = (path: string, periodSeconds: number) => ({
      httpGet: { path, port: "http" },
      periodSeconds,
      timeoutSeconds: 2,
      failureThreshold: 3,
    });
    const deployment = new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: {
          name: CONTROLLER_NAME,
          namespace: args.namespace,
          labels,
          // The program owns the Deployment: after an out-of-band change (kubectl scale, edit), the next up restores
          // it instead of failing on a server-side apply field conflict.
          // Foreground: deleting the Deployment returns once its pods are gone (see deleteBeforeReplace below).
          annotations: { "pulumi.com/patchForce": "true", "pulumi.com/deletionPropagationPolicy": "foreground" },
        },
        spec: {
          replicas: args.replicas,
          progressDeadlineSeconds: rolloutDeadline,
          selector: { matchLabels: labels },
          // Leader election makes a rolling update safe: the new pod waits for the lease.
          strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: sa.metadata.name,
              terminationGracePeriodSeconds: 30,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 65532,
                runAsGroup: 65532,
                fsGroup: 65532,
                seccompProfile: { type: "RuntimeDefault" },
              },
              containers: [
                {
                  name: "controller",
                  image: `${args.image}:${args.imageTag}`,
                  imagePullPolicy: args.imagePullPolicy,
                  args: CONTROLLER_ARGS,
                  ports: [{ name: "http", containerPort: HTTP_PORT }],
                  env: [
                    { name: "PGHOST", value: args.postgresHost },
                    { name: "PGPORT", value: String(args.postgresPort) },
                    fromSecret("PGUSER"),
                    fromSecret("PGPASSWORD"),
                    fromSecret("PGDATABASE"),
                    fromSecret("PGSSLMODE"),
                    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                    { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                    { name: "LEASE_NAME", value: CONTROLLER_NAME },
                    { name: "HTTP_PORT", value: String(HTTP_PORT) },
                    { name: "ROLE_NAMESPACES", value: args.roleNamespaces === "*" ? "*" : args.roleNamespaces.join(",") },
                    ...(args.hasCa ? [{ name: "PGSSLROOTCERT", value: `${CA_DIR}/${CA_KEY}` }] : []),
                  ],
                  livenessProbe: probe("/healthz", 10),
                  readinessProbe: probe("/readyz", 5),
                  resources: { requests: { cpu: "50m", memory: CONTROLLER_MEMORY.request }, limits: { memory: CONTROLLER_MEMORY.limit } },
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    privileged: false,
                    capabilities: { drop: ["ALL"] },
                  },
                  volumeMounts: [
                    { name: "tmp", mountPath: "/tmp" },
                    ...(args.hasCa ? [{ name: "postgres-ca", mountPath: CA_DIR, readOnly: true }] : []),
                  ],
                },
              ],
              volumes: [
                { name: "tmp", emptyDir: { sizeLimit: "16Mi" } },
                ...(args.hasCa
                  ? [{ name: "postgres-ca", secret: { secretName: args.secretName, items: [{ key: CA_KEY, path: CA_KEY }] } }]
                  : []),
              ],
            },
          },
        },
      },
      // A replacement (a move to another namespace) stops the old controller before the new one starts: each leads
      // through a Lease in its own namespace, so the two must never run at once.
      {
        parent: this,
        dependsOn: [crd, roleCrd, serverCrd],
        deleteBeforeReplace: true,
        // The engine's wait ends a little after the rollout's deadline, so it has seen the Deployment's own verdict
        // (ProgressDeadlineExceeded) and the pods' reasons, which it reports; the provider alone would wait ten minutes.
        customTimeouts: {
          create: `${rolloutDeadline + ROLLOUT_WAIT_MARGIN_SECONDS}s`,
          update: `${rolloutDeadline + ROLLOUT_WAIT_MARGIN_SECONDS}s`,
        },
      },
    );

    this.deploymentName = deployment.metadata.name;
    this.crdName = crd.metadata.name;
    this.roleCrdName = roleCrd.metadata.name;
    this.serverCrdName = serverCrd.metadata.name;
    this.crds = [crd, roleCrd, serverCrd];
    this.registerOutputs({
      deploymentName: this.deploymentName,
      crdName: this.crdName,
      roleCrdName: this.roleCrdName,
      serverCrdName: this.serverCrdName,
    });
  }
}
