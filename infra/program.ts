// The Pulumi program: reads the stack config and wires the namespace, the Postgres endpoint, the operator and the
// declared databases. Returns the stack outputs.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { PgDatabase, PgRole } from "../provider";
import { PostgresEndpoint } from "./postgresEndpoint";
import { PgKopfOperator } from "./operator";
import { ClusterServer, serverObjectNames } from "./clusterServer";
import { readSettings, type ConfigReader } from "./settings";

type Settings = ReturnType<typeof readSettings>;

export async function program(config: ConfigReader = new pulumi.Config()): Promise<Record<string, unknown>> {
  const s = readSettings(config);
  const roles = declareRoles(s);
  const databases = declareDatabases(s, roles);
  const outputs: Record<string, unknown> = {
    databases: databases.map((d) => d.name),
    ...(roles.size > 0
      ? {
          roles: [...roles.values()].map((r) => r.name),
          // Secret: the passwords apps log in with (given in config, or generated at creation).
          rolePasswords: pulumi.secret(
            pulumi
              .all([...roles.values()].map((r) => pulumi.all([r.name, r.password])))
              // A Kerberos role has no password.
              .apply((pairs) => Object.fromEntries(pairs.filter(([, password]) => password !== undefined))),
          ),
        }
      : {}),
  };
  return s.manageCluster ? { ...outputs, ...declareCluster(s) } : outputs;
}

/** The declared roles, by name; only a role with an entry in rolePasswords gets that password, the others generate one. */
function declareRoles(s: Settings): Map<string, PgRole> {
  return new Map(
    s.roles.map((r) => {
      const password = s.rolePasswords?.apply((p) => p[r.name]);
      return [r.name, new PgRole(`role-${r.name}`, { ...(r as Record<string, unknown>), ...(password ? { password } : {}) } as never)];
    }),
  );
}

/** The declared databases; one that names a declared role (its owner, or in access) comes after it, and goes before it. */
function declareDatabases(s: Settings, roles: Map<string, PgRole>): PgDatabase[] {
  return s.databases.map((d) => {
    const named = [d.owner, ...(Array.isArray(d.access) ? d.access.map((a: { role?: unknown }) => a?.role) : [])];
    const dependsOn = [...new Set(named)].filter((r): r is string => typeof r === "string" && roles.has(r)).map((r) => roles.get(r)!);
    return new PgDatabase(`db-${d.name}`, d as never, dependsOn.length ? { dependsOn } : {});
  });
}

/** The cluster side: namespace, Postgres endpoint, the operator, and each declared server; returns its outputs. */
function declareCluster(s: Settings): Record<string, unknown> {
  // Never deleted, by destroy or by a move to another pg-kopf:namespace: it may hold what the program did not make
  // (hand-made PgServers and their Secrets, PgDatabases, the controller's Lease). A kept namespace is taken up again
  // by a later up that names it (Pulumi.yaml: kubernetes:upsertExistingObjects). See docs/adr/0018.
  const ns = new k8s.core.v1.Namespace(
    "namespace",
    { metadata: { name: s.namespace, labels: { "app.kubernetes.io/part-of": "pg-kopf" } } },
    { retainOnDelete: true },
  );
  const postgres = new PostgresEndpoint("postgres", {
    namespace: ns.metadata.name,
    target: s.postgres,
    user: s.adminUser,
    ...(s.adminPassword ? { password: s.adminPassword } : {}),
    ...(s.postgresKerberos ? { kerberos: s.postgresKerberos } : {}),
    database: s.adminDatabase,
    sslmode: s.postgresSslMode,
    sslRootCert: s.postgresSslRootCert,
  });
  const operator = new PgKopfOperator(
    "operator",
    {
      namespace: ns.metadata.name,
      image: s.image,
      imageTag: s.imageTag,
      imagePullPolicy: s.imagePullPolicy,
      replicas: s.replicas,
      rolloutDeadlineSeconds: s.rolloutDeadlineSeconds,
      postgresHost: postgres.dialHost,
      postgresPort: postgres.port,
      secretName: postgres.secretName,
      hasCa: postgres.hasCa,
      ...(postgres.kerberos ? { kerberos: postgres.kerberos } : {}),
      roleNamespaces: s.roleNamespaces,
      ...(s.pooler ? { pooler: s.pooler } : {}),
      serverObjects: {
        secrets: s.servers.map((d) => serverObjectNames(d.name).secret),
        configMaps: s.servers.flatMap((d) => [
          ...(d.sslRootCert ? [serverObjectNames(d.name).configMap] : []),
          ...(d.kerberos?.krb5Conf ? [serverObjectNames(d.name).krb5ConfigMap] : []),
        ]),
      },
    },
    { dependsOn: [postgres] },
  );
  // Each server of pg-kopf:servers, for the controller too: PgDatabases and PgRoles in the cluster may name it.
  for (const server of s.servers) {
    new ClusterServer(
      `server-${server.name}`,
      {
        namespace: ns.metadata.name,
        server,
        ...(server.kerberos
          ? { keytab: s.serverKeytabs!.apply((k) => k[server.name]) }
          : { password: s.serverPasswords!.apply((p) => p[server.name]) }),
      },
      { dependsOn: operator.crds },
    );
  }
  return {
    namespace: ns.metadata.name,
    controller: operator.deploymentName,
    crd: operator.crdName,
    roleCrd: operator.roleCrdName,
    serverCrd: operator.serverCrdName,
    ...(s.servers.length ? { servers: s.servers.map((d) => d.name) } : {}),
    postgresAddress: pulumi.interpolate`${postgres.host}:${postgres.port}`,
  };
}
