// The pgservers.my.local CustomResourceDefinition (cluster-scoped): a Postgres server the controller may manage
// databases and roles on, how to reach it (TLS, CA, admin credentials from a Secret), how many connections it gets,
// and which namespaces may use it. The schema, its defaults, its rules and the parse the controller acts on.
import { type Static, Type } from "@sinclair/typebox";
import { SSL_MODES } from "../core/connect";
import { GSS_ENC_MODES } from "../core/kerberos";
import type { FieldFailure } from "../core/errors";
import { schemaFailures } from "../core/schema";
import { DEFAULT_SERVER } from "./server";
import { customResourceDefinition, GROUP, type Schema, toStructural } from "./structural";
import { ServerStatusFields, statusSchema } from "./status";

export { GROUP, VERSION } from "./structural";
export const KIND = "PgServer";
export const PLURAL = "pgservers";
export const CRD_NAME = `${PLURAL}.${GROUP}`;

const OBJECT_NAME = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
const objectName = (description: string) => Type.String({ minLength: 1, maxLength: 253, pattern: OBJECT_NAME, description });
const namespaceName = Type.Optional(
  Type.String({
    minLength: 1,
    maxLength: 63,
    pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    description: "Its namespace; default: the controller's own.",
  }),
);

/** The key of the CA certificate in its Secret or ConfigMap when `ca.key` does not say. */
export const DEFAULT_CA_KEY = "ca.crt";
/** The keys of a Kerberos server's keytab (in its Secret) and krb5.conf (in its ConfigMap) when theirs do not say. */
export const DEFAULT_KEYTAB_KEY = "krb5.keytab";
export const DEFAULT_KRB5_CONF_KEY = "krb5.conf";
/** PgBouncer's port. */
export const DEFAULT_POOLER_PORT = 6432;

const KerberosSchema = Type.Object(
  {
    user: Type.String({
      minLength: 1,
      maxLength: 63,
      description:
        "The admin role the keytab's principal logs in as: the principal as the server's pg_hba.conf (include_realm, krb_realm, map=) and pg_ident.conf map it.",
    }),
    keytab: Type.Object(
      {
        secretName: objectName("The Secret holding the keytab (its bytes, as kubectl create secret generic --from-file gives them)."),
        namespace: namespaceName,
        key: Type.Optional(Type.String({ minLength: 1, description: `The key holding it (default ${DEFAULT_KEYTAB_KEY}).` })),
      },
      {
        additionalProperties: false,
        description:
          "The client keytab of the admin's principal. Read again at each check: a rotated keytab takes effect without a restart; tickets are renewed from it.",
      },
    ),
    krb5Conf: Type.Optional(
      Type.Object(
        {
          configMapName: objectName("The ConfigMap holding krb5.conf."),
          namespace: namespaceName,
          key: Type.Optional(Type.String({ minLength: 1, description: `The key holding it (default ${DEFAULT_KRB5_CONF_KEY}).` })),
        },
        {
          additionalProperties: false,
          description: "The realm's krb5.conf (its KDCs). Default: the controller's own (KRB5_CONFIG).",
        },
      ),
    ),
    gssEncMode: Type.Optional(
      Type.Union(
        GSS_ENC_MODES.map((m) => Type.Literal(m)),
        { description: "libpq's gssencmode: GSSAPI encryption instead of TLS (default prefer)." },
      ),
    ),
    krbSrvName: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 63,
        pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description: "The service of the server's principal, <service>/<spec.host>@REALM (libpq's krbsrvname; default postgres).",
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      "Authenticate the admin by Kerberos (GSSAPI) with a keytab instead of a password (then no credentialsSecret). spec.host must be the host name in the server's service principal, not an address.",
  },
);

const LabelSelectorSchema = Type.Object(
  {
    matchLabels: Type.Optional(Type.Record(Type.String(), Type.String())),
    matchExpressions: Type.Optional(
      Type.Array(
        Type.Object(
          {
            key: Type.String({ minLength: 1 }),
            operator: Type.Union([Type.Literal("In"), Type.Literal("NotIn"), Type.Literal("Exists"), Type.Literal("DoesNotExist")]),
            values: Type.Optional(Type.Array(Type.String())),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      "The namespaces whose PgDatabases and PgRoles may use this server, by their labels (a label selector; {} selects every namespace; one namespace by its kubernetes.io/metadata.name label). Default: only the controller's own namespace.",
  },
);
export type LabelSelector = Static<typeof LabelSelectorSchema>;

export const PgServerSpecSchema = Type.Object(
  {
    host: Type.String({
      minLength: 1,
      maxLength: 253,
      description: "DNS name or IP address of the server. With sslMode verify-full, a name its certificate lists.",
    }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: "TCP port (default 5432)." })),
    sslMode: Type.Optional(
      Type.Union(
        SSL_MODES.map((m) => Type.Literal(m)),
        { description: "libpq's sslmode (default verify-full: encrypted, and the certificate's CA and host name checked)." },
      ),
    ),
    ca: Type.Optional(
      Type.Object(
        {
          secretName: Type.Optional(objectName("A Secret holding the CA certificate (PEM).")),
          configMapName: Type.Optional(objectName("A ConfigMap holding the CA certificate (PEM).")),
          namespace: namespaceName,
          key: Type.Optional(Type.String({ minLength: 1, description: `The key holding the PEM (default ${DEFAULT_CA_KEY}).` })),
        },
        {
          additionalProperties: false,
          description:
            "The CA that signs the server's certificate, for verify-ca and verify-full, from a Secret or a ConfigMap (one of them). Read again at each check: a new CA takes effect without a restart.",
        },
      ),
    ),
    credentialsSecret: Type.Optional(
      Type.Object(
        { name: objectName("The Secret's name."), namespace: namespaceName },
        {
          additionalProperties: false,
          description:
            "The Secret with the admin credentials, keys username and password. Read again at each check: a new password takes effect without a restart. Required unless kerberos says otherwise.",
        },
      ),
    ),
    kerberos: Type.Optional(KerberosSchema),
    maintenanceDatabase: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 63,
        description: "The database to connect to for CREATE and DROP DATABASE (default postgres).",
      }),
    ),
    maxConnections: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description:
          "At most this many connections to the maintenance database at once, the controller's pool for this server (default 4).",
      }),
    ),
    connectTimeoutSeconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 60,
        description: "How long a connection attempt may take before the server counts as unreachable (default 5).",
      }),
    ),
    allowedNamespaces: Type.Optional(LabelSelectorSchema),
    pooler: Type.Optional(
      Type.Object(
        {
          host: Type.String({ minLength: 1, maxLength: 253, description: "DNS name or IP address apps reach the pooler by." }),
          port: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 65535,
              default: DEFAULT_POOLER_PORT,
              description: `TCP port (default ${DEFAULT_POOLER_PORT}).`,
            }),
          ),
        },
        {
          additionalProperties: false,
          description:
            "A connection pooler in front of the server (PgBouncer): the roles' Secrets point at it (host, port, uri, jdbc-uri, pgpass, the templates' {{ host }} and {{ port }}), the server's own address under direct-host, direct-port, direct-uri, direct-jdbc-uri, direct-pgpass ({{ direct_host }}, {{ direct_port }}) for migrations. The controller itself connects to spec.host.",
        },
      ),
    ),
  },
  { additionalProperties: false },
);
export type PgServerSpec = Static<typeof PgServerSpecSchema>;

/** The defaults, written into the CRD so `kubectl get -o yaml` shows what is in effect. */
export const SERVER_DEFAULTS = {
  port: 5432,
  sslMode: "verify-full",
  maintenanceDatabase: "postgres",
  maxConnections: 4,
  connectTimeoutSeconds: 5,
} as const;
export type ResolvedServerSpec = PgServerSpec & Required<Pick<PgServerSpec, keyof typeof SERVER_DEFAULTS>>;

const rules = [
  {
    rule: "!(self.sslMode in ['verify-ca', 'verify-full']) || has(self.ca)",
    message: "spec.ca: sslMode verify-ca and verify-full need the CA that signs the server's certificate; name its Secret or ConfigMap",
  },
  {
    rule: "!has(self.ca) || (has(self.ca.secretName) != has(self.ca.configMapName))",
    message: "spec.ca: name either secretName or configMapName (one of them)",
  },
  {
    rule: "has(self.credentialsSecret) != has(self.kerberos)",
    message:
      "spec.credentialsSecret: name the Secret with the admin's username and password, or authenticate by Kerberos with spec.kerberos (one of them)",
  },
];

/**
 * A PgServer's spec, validated, with the defaults applied; each failure names its field. What the controller acts
 * on; the CRD's schema and rules refuse the same earlier.
 */
export function parsePgServerSpec(input: unknown): { ok: true; spec: ResolvedServerSpec } | { ok: false; failures: FieldFailure[] } {
  const failures = schemaFailures(PgServerSpecSchema, input ?? {}, () => undefined);
  if (failures.length > 0) return { ok: false, failures };
  const spec = { ...SERVER_DEFAULTS, ...(input as PgServerSpec) } as ResolvedServerSpec;
  if ((spec.sslMode === "verify-ca" || spec.sslMode === "verify-full") && !spec.ca)
    failures.push({ field: "ca", message: rules[0].message.replace(/^spec\.ca: /, "") });
  if (spec.ca && Boolean(spec.ca.secretName) === Boolean(spec.ca.configMapName))
    failures.push({ field: "ca", message: rules[1].message.replace(/^spec\.ca: /, "") });
  if (Boolean(spec.credentialsSecret) === Boolean(spec.kerberos))
    failures.push({ field: "credentialsSecret", message: rules[2].message.replace(/^spec\.credentialsSecret: /, "") });
  return failures.length > 0 ? { ok: false, failures } : { ok: true, spec };
}

/** The spec part of the CRD schema: structural, with defaults and rules. */
export function serverSpecSchema(): Schema {
  const spec = toStructural(JSON.parse(JSON.stringify(PgServerSpecSchema)) as Schema);
  const props = spec.properties as Record<string, Schema>;
  for (const [key, value] of Object.entries(SERVER_DEFAULTS)) props[key] = { ...props[key], default: value };
  spec["x-kubernetes-validations"] = rules;
  return spec;
}

/** The whole CustomResourceDefinition object. Pure. */
export function pgServerCrd(): Schema {
  return customResourceDefinition(
    { kind: KIND, plural: PLURAL, singular: "pgserver", shortNames: ["pgsrv"] },
    "A PostgreSQL server that PgDatabases and PgRoles may name (spec.server): where it is, how to reach it, and who may use it.",
    [
      { name: "Host", type: "string", jsonPath: ".spec.host" },
      { name: "Port", type: "integer", jsonPath: ".spec.port" },
      { name: "Version", type: "string", jsonPath: ".status.version" },
    ],
    serverSpecSchema(),
    statusSchema(ServerStatusFields),
    {
      scope: "Cluster",
      rules: [
        {
          rule: `self.metadata.name != '${DEFAULT_SERVER}'`,
          message: `metadata.name: "${DEFAULT_SERVER}" is the server of the controller's own connection (its environment); name this one otherwise`,
        },
      ],
    },
  );
}
