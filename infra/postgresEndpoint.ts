// PostgresEndpoint: how the cluster reaches the admin connection's Postgres (its Service) and the Secret with the
// admin credentials the controller's environment reads (or, for Kerberos, its keytab and krb5.conf).
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { postgresService, type ServiceTarget } from "./postgresService";
import type { ControllerKerberos } from "./settings";

export interface PostgresEndpointArgs {
  readonly namespace: pulumi.Input<string>;
  /** A host IP (e.g. the minikube host's) or a DNS name; exactly one. */
  readonly target: ServiceTarget;
  readonly user: pulumi.Input<string>;
  /** The admin's password; none with Kerberos. */
  readonly password?: pulumi.Input<string>;
  /** Kerberos instead of a password: the keytab goes into a Secret, krb5.conf into a ConfigMap, both mounted. */
  readonly kerberos?: ControllerKerberos;
  readonly database: pulumi.Input<string>;
  readonly sslmode: pulumi.Input<string>;
  /** PEM of the CA that signs the server certificate, for sslmode verify-ca / verify-full. */
  readonly sslRootCert?: string;
  readonly serviceName?: string;
}

/** The Secret key holding the CA certificate, when there is one. */
export const CA_KEY = "ca.crt";
/** The keys of the controller's keytab Secret and krb5.conf ConfigMap. */
export const KEYTAB_KEY = "krb5.keytab";
export const KRB5_CONF_KEY = "krb5.conf";

/** The mounted objects of a Kerberos controller, by name. */
export interface KerberosObjects {
  readonly keytabSecret: pulumi.Output<string>;
  readonly krb5ConfigMap: pulumi.Output<string>;
  readonly gssencmode?: string;
  readonly krbsrvname?: string;
}

export class PostgresEndpoint extends pulumi.ComponentResource {
  /** The in-cluster DNS name of the Service that reaches Postgres. */
  public readonly host: pulumi.Output<string>;
  /**
   * The name the controller dials: the Service's, except with Kerberos and an ExternalName, where it is the external
   * name itself: the server's service principal carries its own name (postgres/<name>@REALM), not the Service's.
   */
  public readonly dialHost: pulumi.Output<string>;
  public readonly port: number;
  /** The credentials Secret's name: generated, and new whenever the credentials change (see below). */
  public readonly secretName: pulumi.Output<string>;
  /** Whether the Secret carries a CA certificate under CA_KEY. */
  public readonly hasCa: boolean;
  /** With Kerberos: the keytab Secret and krb5.conf ConfigMap the controller mounts. */
  public readonly kerberos?: KerberosObjects;

  constructor(name: string, args: PostgresEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pg-kopf:index:PostgresEndpoint", name, {}, opts);
    const serviceName = args.serviceName ?? "postgres";
    this.port = args.target.port;
    this.hasCa = args.sslRootCert !== undefined;
    const labels = { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": "pg-kopf" };
    this.host = postgresService(name, { namespace: args.namespace, target: args.target, serviceName }, this);
    this.dialHost = args.kerberos && "externalName" in args.target ? pulumi.output(args.target.externalName) : this.host;

    // Immutable and named by Pulumi: changed credentials (a rotated password) make a new Secret under a new name,
    // which changes the Deployment's pod template, so the controller restarts with them; no hash of the password
    // needs to appear anywhere.
    const secret = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { namespace: args.namespace, labels },
        type: "Opaque",
        immutable: true,
        // Marked secret explicitly, so the state holds ciphertext whatever the caller passed.
        stringData: pulumi.secret(
          pulumi.all([args.user, args.password, args.database, args.sslmode]).apply(([PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE]) => ({
            PGUSER,
            ...(PGPASSWORD !== undefined ? { PGPASSWORD } : {}),
            PGDATABASE,
            PGSSLMODE,
            ...(args.sslRootCert !== undefined ? { [CA_KEY]: args.sslRootCert } : {}),
          })),
        ),
      },
      { parent: this },
    );
    this.secretName = secret.metadata.name;
    if (args.kerberos) this.kerberos = kerberosObjects(name, args.namespace, args.kerberos, labels, this);

    this.registerOutputs({ host: this.host, port: this.port, secretName: this.secretName });
  }
}

/**
 * The keytab Secret and krb5.conf ConfigMap of a Kerberos controller. Unlike the credentials Secret these keep their
 * names and are changed in place: the kubelet updates mounted files, and libpq reads the keytab again when it fetches
 * the next ticket, so a rotated keytab takes effect without a restart.
 */
function kerberosObjects(
  name: string,
  namespace: pulumi.Input<string>,
  k: ControllerKerberos,
  labels: Record<string, string>,
  parent: pulumi.Resource,
): KerberosObjects {
  const keytab = new k8s.core.v1.Secret(
    `${name}-keytab`,
    {
      metadata: { name: "pg-kopf-keytab", namespace, labels },
      type: "Opaque",
      data: pulumi.secret(k.keytab.apply((b64) => ({ [KEYTAB_KEY]: b64 }))),
    },
    { parent },
  );
  const krb5 = new k8s.core.v1.ConfigMap(
    `${name}-krb5`,
    { metadata: { name: "pg-kopf-krb5", namespace, labels }, data: { [KRB5_CONF_KEY]: k.krb5Conf } },
    { parent },
  );
  return {
    keytabSecret: keytab.metadata.name,
    krb5ConfigMap: krb5.metadata.name,
    ...(k.gssencmode ? { gssencmode: k.gssencmode } : {}),
    ...(k.krbsrvname ? { krbsrvname: k.krbsrvname } : {}),
  };
}
