// PgKopfOperator: the in-cluster controller and everything it needs: ServiceAccount, least-privilege RBAC, the
// pgdatabases.my.local, pgroles.my.local and pgservers.my.local CRDs, and the Deployment.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { pgDatabaseCrd } from "../crd/pgdatabase";
import { pgRoleCrd } from "../crd/pgrole";
import { pgServerCrd } from "../crd/pgserver";
import { controllerClusterRules, controllerNamespaceRules, credentialsRules } from "./rbac";
import { CA_KEY, KEYTAB_KEY, type KerberosObjects, KRB5_CONF_KEY } from "./postgresEndpoint";

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
  /** Kerberos instead of a password: the keytab Secret and krb5.conf ConfigMap, mounted read-only. */
  readonly kerberos?: KerberosObjects;
  /** Where PgRoles live, so where the controller may write their credentials Secrets ("*": everywhere). */
  readonly roleNamespaces: readonly string[] | "*";
  /** A pooler in front of the server: where its roles' Secrets point (POOLER_HOST, POOLER_PORT). */
  readonly pooler?: { readonly host: string; readonly port: number };
  /** What the controller reads for the declared servers (ClusterServer), by name, in its namespace. */
  readonly serverObjects?: { secrets: string[]; configMaps: string[] };
}

/** Where the controller finds the CA certificate from the Secret. */
const CA_DIR = "/etc/pg-kopf/tls";
/** Where the controller finds its keytab and krb5.conf (Kerberos). */
const KEYTAB_DIR = "/etc/pg-kopf/kerberos";
const KRB5_DIR = "/etc/pg-kopf/krb5";

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

type Labels = Record<string, string>;
interface Crds {
  readonly database: k8s.apiextensions.v1.CustomResourceDefinition;
  readonly role: k8s.apiextensions.v1.CustomResourceDefinition;
  readonly server: k8s.apiextensions.v1.CustomResourceDefinition;
}

/**
 * The three CRDs. Kept on destroy: deleting a CRD deletes every object of its kind in the cluster, and with them
 * (reclaimPolicy delete) databases and roles of teams that never asked for it. Remove the objects first, then the
 * CRD by hand.
 */
function createCrds(name: string, parent: pulumi.Resource): Crds {
  const crd = (suffix: string, spec: object) =>
    new k8s.apiextensions.v1.CustomResourceDefinition(`${name}-${suffix}`, spec as k8s.apiextensions.v1.CustomResourceDefinitionArgs, {
      parent,
      retainOnDelete: true,
    });
  return { database: crd("crd", pgDatabaseCrd()), role: crd("role-crd", pgRoleCrd()), server: crd("server-crd", pgServerCrd()) };
}

/** A binding of `role` to the controller's ServiceAccount. */
function bindToController(
  resourceName: string,
  kind: "ClusterRole" | "Role",
  metadata: k8s.types.input.meta.v1.ObjectMeta,
  role: pulumi.Input<string>,
  sa: k8s.core.v1.ServiceAccount,
  namespace: pulumi.Input<string>,
  parent: pulumi.Resource,
): void {
  const args = {
    metadata,
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind, name: role },
    subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace }],
  };
  if (kind === "ClusterRole") new k8s.rbac.v1.ClusterRoleBinding(resourceName, args, { parent });
  else new k8s.rbac.v1.RoleBinding(resourceName, args, { parent });
}

/**
 * The controller's ServiceAccount and its least-privilege RBAC: cluster-wide what it watches, in its namespace its
 * Lease, Events and the declared servers' objects, and the credentials Secrets in each namespace where PgRoles live
 * (nowhere else).
 */
function createControllerRbac(name: string, args: PgKopfOperatorArgs, labels: Labels, parent: pulumi.Resource): k8s.core.v1.ServiceAccount {
  const sa = new k8s.core.v1.ServiceAccount(
    `${name}-sa`,
    { metadata: { name: CONTROLLER_NAME, namespace: args.namespace, labels } },
    { parent },
  );
  // Cluster-scoped names carry the namespace, so two installations in one cluster do not collide.
  const clusterMeta = { name: pulumi.interpolate`${CONTROLLER_NAME}-${args.namespace}`, labels };
  const clusterRole = new k8s.rbac.v1.ClusterRole(
    `${name}-clusterrole`,
    { metadata: clusterMeta, rules: controllerClusterRules(args.roleNamespaces) },
    { parent },
  );
  bindToController(`${name}-clusterrolebinding`, "ClusterRole", clusterMeta, clusterRole.metadata.name, sa, args.namespace, parent);
  const meta = { name: CONTROLLER_NAME, namespace: args.namespace, labels };
  const role = new k8s.rbac.v1.Role(
    `${name}-role`,
    { metadata: meta, rules: controllerNamespaceRules(CONTROLLER_NAME, args.serverObjects) },
    { parent },
  );
  bindToController(`${name}-rolebinding`, "Role", meta, role.metadata.name, sa, args.namespace, parent);
  for (const ns of args.roleNamespaces === "*" ? [] : args.roleNamespaces) {
    const credentialsMeta = { name: pulumi.interpolate`${CONTROLLER_NAME}-${args.namespace}-credentials`, namespace: ns, labels };
    const credentials = new k8s.rbac.v1.Role(
      `${name}-credentials-${ns}`,
      { metadata: credentialsMeta, rules: credentialsRules() },
      { parent },
    );
    bindToController(`${name}-credentials-${ns}`, "Role", credentialsMeta, credentials.metadata.name, sa, args.namespace, parent);
  }
  return sa;
}

/** The controller's environment: Postgres from the Secret (never inline), who it is, what it may touch. */
function controllerEnv(args: PgKopfOperatorArgs): k8s.types.input.core.v1.EnvVar[] {
  const fromSecret = (key: string) => ({ name: key, valueFrom: { secretKeyRef: { name: args.secretName, key } } });
  return [
    { name: "PGHOST", value: args.postgresHost },
    { name: "PGPORT", value: String(args.postgresPort) },
    fromSecret("PGUSER"),
    ...(args.kerberos ? kerberosEnv(args.kerberos) : [fromSecret("PGPASSWORD")]),
    fromSecret("PGDATABASE"),
    fromSecret("PGSSLMODE"),
    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    { name: "LEASE_NAME", value: CONTROLLER_NAME },
    { name: "HTTP_PORT", value: String(HTTP_PORT) },
    { name: "ROLE_NAMESPACES", value: args.roleNamespaces === "*" ? "*" : args.roleNamespaces.join(",") },
    ...(args.hasCa ? [{ name: "PGSSLROOTCERT", value: `${CA_DIR}/${CA_KEY}` }] : []),
    ...(args.pooler
      ? [
          { name: "POOLER_HOST", value: args.pooler.host },
          { name: "POOLER_PORT", value: String(args.pooler.port) },
        ]
      : []),
  ];
}

/**
 * A Kerberos controller's environment: libpq and MIT Kerberos read the keytab and krb5.conf from the mounted files,
 * and keep tickets in memory (the root filesystem is read-only). No password.
 */
function kerberosEnv(k: KerberosObjects): k8s.types.input.core.v1.EnvVar[] {
  return [
    { name: "PGKOPF_AUTH", value: "kerberos" },
    { name: "KRB5_CLIENT_KTNAME", value: `${KEYTAB_DIR}/${KEYTAB_KEY}` },
    { name: "KRB5_CONFIG", value: `${KRB5_DIR}/${KRB5_CONF_KEY}` },
    { name: "KRB5CCNAME", value: "MEMORY:pg-kopf" },
    ...(k.gssencmode ? [{ name: "PGGSSENCMODE", value: k.gssencmode }] : []),
    ...(k.krbsrvname ? [{ name: "PGKRBSRVNAME", value: k.krbsrvname }] : []),
  ];
}

/** The controller's container: hardened (non-root, read-only root, no capabilities), probed, memory-bounded. */
function controllerContainer(args: PgKopfOperatorArgs): k8s.types.input.core.v1.Container {
  const probe = (path: string, periodSeconds: number) => ({
    httpGet: { path, port: "http" },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold: 3,
  });
  return {
    name: "controller",
    image: `${args.image}:${args.imageTag}`,
    imagePullPolicy: args.imagePullPolicy,
    args: CONTROLLER_ARGS,
    ports: [{ name: "http", containerPort: HTTP_PORT }],
    env: controllerEnv(args),
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
      ...(args.kerberos
        ? [
            { name: "keytab", mountPath: KEYTAB_DIR, readOnly: true },
            { name: "krb5", mountPath: KRB5_DIR, readOnly: true },
          ]
        : []),
    ],
  };
}

function controllerPodSpec(args: PgKopfOperatorArgs, sa: k8s.core.v1.ServiceAccount): k8s.types.input.core.v1.PodSpec {
  return {
    serviceAccountName: sa.metadata.name,
    terminationGracePeriodSeconds: 30,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    },
    containers: [controllerContainer(args)],
    volumes: [
      { name: "tmp", emptyDir: { sizeLimit: "16Mi" } },
      ...(args.hasCa ? [{ name: "postgres-ca", secret: { secretName: args.secretName, items: [{ key: CA_KEY, path: CA_KEY }] } }] : []),
      ...(args.kerberos
        ? [
            // Readable by the controller's group only (fsGroup): a keytab is a credential.
            { name: "keytab", secret: { secretName: args.kerberos.keytabSecret, defaultMode: 0o440 } },
            { name: "krb5", configMap: { name: args.kerberos.krb5ConfigMap } },
          ]
        : []),
    ],
  };
}

function controllerDeployment(
  name: string,
  args: PgKopfOperatorArgs,
  labels: Labels,
  sa: k8s.core.v1.ServiceAccount,
  crds: Crds,
  parent: pulumi.Resource,
): k8s.apps.v1.Deployment {
  const rolloutDeadline = args.rolloutDeadlineSeconds ?? DEFAULT_ROLLOUT_DEADLINE_SECONDS;
  const wait = `${rolloutDeadline + ROLLOUT_WAIT_MARGIN_SECONDS}s`;
  return new k8s.apps.v1.Deployment(
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
        template: { metadata: { labels }, spec: controllerPodSpec(args, sa) },
      },
    },
    // A replacement (a move to another namespace) stops the old controller before the new one starts: each leads
    // through a Lease in its own namespace, so the two must never run at once.
    {
      parent,
      dependsOn: [crds.database, crds.role, crds.server],
      deleteBeforeReplace: true,
      // The engine's wait ends a little after the rollout's deadline, so it has seen the Deployment's own verdict
      // (ProgressDeadlineExceeded) and the pods' reasons, which it reports; the provider alone would wait ten minutes.
      customTimeouts: { create: wait, update: wait },
    },
  );
}

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
    const crds = createCrds(name, this);
    const sa = createControllerRbac(name, args, labels, this);
    const deployment = controllerDeployment(name, args, labels, sa, crds, this);
    this.deploymentName = deployment.metadata.name;
    this.crdName = crds.database.metadata.name;
    this.roleCrdName = crds.role.metadata.name;
    this.serverCrdName = crds.server.metadata.name;
    this.crds = [crds.database, crds.role, crds.server];
    this.registerOutputs({
      deploymentName: this.deploymentName,
      crdName: this.crdName,
      roleCrdName: this.roleCrdName,
      serverCrdName: this.serverCrdName,
    });
  }
}
