// ClusterServer: one server of pg-kopf:servers made known to the in-cluster controller: the Service apps reach it
// by, the admin Secret and the CA ConfigMap the controller reads (again at every check: editing them takes effect
// without a restart), and the PgServer object that PgDatabases and PgRoles name.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { isIPv4 } from "node:net";
import { DEFAULT_CA_KEY, DEFAULT_KEYTAB_KEY, DEFAULT_KRB5_CONF_KEY, GROUP, KIND, type PgServerSpec, VERSION } from "../crd/pgserver";
import { postgresService } from "./postgresService";
import type { ServerDeclaration } from "./settings";

export interface ClusterServerArgs {
  readonly namespace: pulumi.Input<string>;
  readonly server: ServerDeclaration;
  /** The admin's password; or, for a Kerberos server, its keytab (base64). */
  readonly password?: pulumi.Input<string>;
  readonly keytab?: pulumi.Input<string>;
}

/** The names of what the controller reads for a server: the program grants it get on exactly these. */
export function serverObjectNames(server: string): { secret: string; configMap: string; krb5ConfigMap: string } {
  return { secret: `pg-kopf-server-${server}`, configMap: `pg-kopf-server-${server}-ca`, krb5ConfigMap: `pg-kopf-server-${server}-krb5` };
}

/** The PgServer's spec for a declared server: what the provider's connection says, in the CRD's words. Pure. */
export function pgServerSpec(server: ServerDeclaration): PgServerSpec {
  const names = serverObjectNames(server.name);
  return {
    host: server.host,
    port: server.port,
    sslMode: server.sslMode,
    ...(server.sslRootCert ? { ca: { configMapName: names.configMap, key: DEFAULT_CA_KEY } } : {}),
    ...(server.kerberos
      ? {
          kerberos: {
            user: server.user,
            keytab: { secretName: names.secret, key: DEFAULT_KEYTAB_KEY },
            ...(server.kerberos.krb5Conf ? { krb5Conf: { configMapName: names.krb5ConfigMap, key: DEFAULT_KRB5_CONF_KEY } } : {}),
            ...(server.kerberos.gssEncMode ? { gssEncMode: server.kerberos.gssEncMode } : {}),
            ...(server.kerberos.krbSrvName ? { krbSrvName: server.kerberos.krbSrvName } : {}),
          },
        }
      : { credentialsSecret: { name: names.secret } }),
    maintenanceDatabase: server.database,
    ...(server.pooler ? { pooler: { host: server.pooler.host, port: server.pooler.port } } : {}),
    ...(server.maxConnections ? { maxConnections: server.maxConnections } : {}),
    ...(server.connectTimeout ? { connectTimeoutSeconds: Math.ceil(server.connectTimeout) } : {}),
    ...(server.allowedNamespaces === undefined
      ? {}
      : {
          allowedNamespaces:
            server.allowedNamespaces === "*"
              ? {}
              : {
                  matchExpressions: [
                    { key: "kubernetes.io/metadata.name", operator: "In" as const, values: [...server.allowedNamespaces] },
                  ],
                },
        }),
  };
}

export class ClusterServer extends pulumi.ComponentResource {
  /** The in-cluster DNS name of the Service that reaches the server. */
  public readonly serviceHost: pulumi.Output<string>;

  constructor(name: string, args: ClusterServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-kopf:index:ClusterServer", name, {}, opts);
    const { server } = args;
    const names = serverObjectNames(server.name);
    const labels = { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": "pg-kopf", "pg-kopf/server": server.name };
    const target = isIPv4(server.host) ? { hostIp: server.host, port: server.port } : { externalName: server.host, port: server.port };
    this.serviceHost = postgresService(name, { namespace: args.namespace, target, serviceName: `postgres-${server.name}` }, this);

    // A stable name, edited in place: the controller reads it again at each check, so a new password or keytab needs
    // no restart. Marked secret explicitly, so the state holds ciphertext whatever the caller passed.
    const secret = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { name: names.secret, namespace: args.namespace, labels },
        ...(server.kerberos
          ? { type: "Opaque", data: pulumi.secret(pulumi.output(args.keytab).apply((keytab) => ({ [DEFAULT_KEYTAB_KEY]: keytab ?? "" }))) }
          : {
              type: "kubernetes.io/basic-auth",
              stringData: pulumi.secret(
                pulumi.output(args.password).apply((password) => ({ username: server.user, password: password ?? "" })),
              ),
            }),
      },
      { parent: this },
    );
    const krb5 = server.kerberos?.krb5Conf
      ? new k8s.core.v1.ConfigMap(
          `${name}-krb5`,
          {
            metadata: { name: names.krb5ConfigMap, namespace: args.namespace, labels },
            data: { [DEFAULT_KRB5_CONF_KEY]: server.kerberos.krb5Conf },
          },
          { parent: this },
        )
      : undefined;
    const ca = server.sslRootCert
      ? new k8s.core.v1.ConfigMap(
          `${name}-ca`,
          { metadata: { name: names.configMap, namespace: args.namespace, labels }, data: { [DEFAULT_CA_KEY]: server.sslRootCert } },
          { parent: this },
        )
      : undefined;
    new k8s.apiextensions.CustomResource(
      `${name}-pgserver`,
      { apiVersion: `${GROUP}/${VERSION}`, kind: KIND, metadata: { name: server.name, labels }, spec: pgServerSpec(server) },
      { parent: this, dependsOn: [secret, ...(ca ? [ca] : []), ...(krb5 ? [krb5] : [])] },
    );
    this.registerOutputs({ serviceHost: this.serviceHost });
  }
}
