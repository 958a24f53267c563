// The program under Pulumi's mocks: every resource's important fields, for both ways of reaching Postgres, and
// config errors that name the key.
import { before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { pgDatabaseCrd } from "../crd/pgdatabase";
import { pgRoleCrd } from "../crd/pgrole";
import { parsePgServerSpec, pgServerCrd } from "../crd/pgserver";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load } from "js-yaml";
import { type ConfigReader, passwordMap, readSettings } from "./settings";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
}
let registered: Registered[] = [];

before(() => {
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        // Like the kubernetes provider, name objects that have none after the resource, with a random suffix.
        const metadata = args.inputs.metadata
          ? { ...args.inputs.metadata, name: args.inputs.metadata.name ?? `${args.name}-x1y2z3` }
          : undefined;
        return { id: `${args.name}-id`, state: metadata ? { ...args.inputs, metadata } : args.inputs };
      },
      call: (args) => args.inputs,
    },
    "pg-kopf",
    "test",
    true,
  );
});
beforeEach(() => {
  registered = [];
});

const PASSWORD = "s3cret-Pa55word";
function config(values: Record<string, unknown>): ConfigReader {
  return {
    name: "pg-kopf",
    get: (k) => (values[k] === undefined ? undefined : String(values[k])),
    getObject: <T>(k: string) => values[k] as T | undefined,
    getSecret: (k) => (values[k] === undefined ? undefined : pulumi.secret(String(values[k]))),
  };
}
/**
 * What the controller may do everywhere: its two kinds, their status and finalizers, PgServers (read, status),
 * namespaces' labels, and Events.
 */
const CLUSTER_RULES = [
  { apiGroups: ["my.local"], resources: ["pgdatabases", "pgroles"], verbs: ["get", "list", "watch", "patch", "update"] },
  { apiGroups: ["my.local"], resources: ["pgdatabases/status", "pgroles/status"], verbs: ["get", "patch", "update"] },
  { apiGroups: ["my.local"], resources: ["pgdatabases/finalizers", "pgroles/finalizers"], verbs: ["update"] },
  { apiGroups: ["my.local"], resources: ["pgservers"], verbs: ["get", "list", "watch"] },
  { apiGroups: ["my.local"], resources: ["pgservers/status"], verbs: ["get", "patch", "update"] },
  { apiGroups: [""], resources: ["namespaces"], verbs: ["get"] },
  { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
];
/** Where PgRoles live: their credentials Secrets (no delete: they go with their PgRole). */
const SECRET_RULE = { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch", "create", "update"] };
const base = { postgresHostIp: "192.168.65.254", adminPassword: PASSWORD, databases: [{ name: "mynewdb", owner: "app" }] };

async function run(values: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { program } = await import("./program");
  const outputs = await program(config(values));
  // Let the mock monitor receive every registration.
  await new Promise((r) => setTimeout(r, 50));
  return outputs;
}
const one = (type: string) => {
  const found = registered.filter((r) => r.type === type);
  assert.equal(found.length, 1, `exactly one ${type}, got ${found.length}`);
  return found[0].inputs;
};
const output = <T>(o: unknown) => new Promise<T>((resolve) => (o as pulumi.Output<T>).apply(resolve));

describe("with a host IP", () => {
  test("creates the namespace, the CRD and the declared databases", async () => {
    const outputs = await run(base);
    assert.equal(one("kubernetes:core/v1:Namespace").metadata.name, "pg-kopf");
    const crds = registered.filter((r) => r.type === "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition");
    // Registered in whatever order the engine receives them.
    const byKind = Object.fromEntries(crds.map((c) => [c.inputs.spec.names.kind, c.inputs.spec]));
    assert.deepEqual(byKind, { PgDatabase: pgDatabaseCrd().spec, PgRole: pgRoleCrd().spec, PgServer: pgServerCrd().spec });
    const db = one("pulumi-nodejs:dynamic/pg:Database");
    assert.equal(db.name, "mynewdb");
    assert.equal(db.owner, "app");
    assert.equal(db.manager, "pulumi:pg-kopf/test");
    assert.deepEqual(await output(outputs.namespace), "pg-kopf");
    assert.deepEqual(await output(outputs.postgresAddress), "postgres.pg-kopf.svc.cluster.local:5432");
  });

  test("grants the controller exactly these permissions", async () => {
    await run(base);
    assert.deepEqual(one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").rules, CLUSTER_RULES);
    assert.deepEqual(one("kubernetes:rbac.authorization.k8s.io/v1:Role").rules, [
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        verbs: ["get", "update", "patch"],
        resourceNames: ["pg-kopf-controller"],
      },
    ]);
    const crb = one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding");
    assert.deepEqual(crb.subjects, [{ kind: "ServiceAccount", name: "pg-kopf-controller", namespace: "pg-kopf" }]);
    assert.equal(crb.roleRef.kind, "ClusterRole");
    // No roleNamespaces: no Secret anywhere.
    assert.equal(JSON.stringify(registered).includes('"secrets"'), false);
    const env = Object.fromEntries(
      one("kubernetes:apps/v1:Deployment").spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]),
    );
    assert.equal(env.ROLE_NAMESPACES, "");
  });

  test("grants the credentials Secrets only in the namespaces where PgRoles live, and tells the controller which", async () => {
    await run({ ...base, roleNamespaces: ["team-a", "team-b"] });
    assert.deepEqual(one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").rules, CLUSTER_RULES);
    const roles = registered.filter(
      (r) => r.type === "kubernetes:rbac.authorization.k8s.io/v1:Role" && r.inputs.metadata.namespace !== "pg-kopf",
    );
    assert.deepEqual(
      roles.map((r) => [r.inputs.metadata.namespace, r.inputs.rules]),
      ["team-a", "team-b"].map((ns) => [ns, [SECRET_RULE]]),
    );
    const bindings = registered.filter(
      (r) => r.type === "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding" && r.inputs.metadata.namespace !== "pg-kopf",
    );
    assert.deepEqual(
      bindings.map((b) => [b.inputs.metadata.namespace, b.inputs.subjects]),
      ["team-a", "team-b"].map((ns) => [ns, [{ kind: "ServiceAccount", name: "pg-kopf-controller", namespace: "pg-kopf" }]]),
    );
    const env = Object.fromEntries(
      one("kubernetes:apps/v1:Deployment").spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]),
    );
    assert.equal(env.ROLE_NAMESPACES, "team-a,team-b");
  });

  test('with roleNamespaces ["*"], the Secrets rule is cluster-wide', async () => {
    await run({ ...base, roleNamespaces: ["*"] });
    assert.deepEqual(one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").rules, [...CLUSTER_RULES, SECRET_RULE]);
    assert.equal(one("kubernetes:rbac.authorization.k8s.io/v1:Role").metadata.namespace, "pg-kopf");
  });

  test("runs the controller hardened, with credentials only by reference", async () => {
    await run({ ...base, image: "registry.example/pg-kopf", imageTag: "1.2.3", imagePullPolicy: "Always", replicas: "2" });
    const d = one("kubernetes:apps/v1:Deployment");
    assert.equal(d.spec.replicas, 2);
    // A rollout that cannot progress fails pulumi up in five minutes, not the engine's ten.
    assert.equal(d.spec.progressDeadlineSeconds, 300);
    const pod = d.spec.template.spec;
    assert.equal(pod.serviceAccountName, "pg-kopf-controller");
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
    const c = pod.containers[0];
    assert.equal(c.image, "registry.example/pg-kopf:1.2.3");
    assert.equal(c.imagePullPolicy, "Always");
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    });
    assert.equal(c.livenessProbe.httpGet.path, "/healthz");
    assert.equal(c.readinessProbe.httpGet.path, "/readyz");
    assert.deepEqual(c.resources, { requests: { cpu: "50m", memory: "96Mi" }, limits: { memory: "256Mi" } });
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e]));
    assert.equal(env.PGHOST.value, "postgres.pg-kopf.svc.cluster.local");
    assert.equal(env.PGPORT.value, "5432");
    // Lite mode keeps the footprint flat; the heap cap leaves room under the limit for code and buffers.
    assert.deepEqual(c.args, ["--lite-mode", "--max-old-space-size=128", "dist/controller/main.js"]);
    assert.equal(env.NODE_OPTIONS, undefined);
    for (const k of ["PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE"]) {
      assert.deepEqual(env[k].valueFrom, { secretKeyRef: { name: "postgres-credentials-x1y2z3", key: k } });
    }
    assert.ok(!JSON.stringify(d).includes(PASSWORD), "no password in the Deployment");
  });

  test("reaches Postgres through a selector-less Service and an EndpointSlice", async () => {
    await run({ ...base, postgresPort: "6543" });
    const svc = one("kubernetes:core/v1:Service");
    assert.equal(svc.spec.type, "ClusterIP");
    assert.equal(svc.spec.selector, undefined);
    assert.deepEqual(svc.spec.ports, [{ name: "postgres", port: 6543, targetPort: 6543, protocol: "TCP" }]);
    const slice = one("kubernetes:discovery.k8s.io/v1:EndpointSlice");
    assert.equal(slice.metadata.labels["kubernetes.io/service-name"], "postgres");
    assert.deepEqual(slice.endpoints, [{ addresses: ["192.168.65.254"], conditions: { ready: true } }]);
    assert.deepEqual(slice.ports, [{ name: "postgres", port: 6543, protocol: "TCP" }]);
  });

  test("keeps the credentials in an immutable, generated-name Secret Pulumi treats as secret", async () => {
    await run(base);
    const s = one("kubernetes:core/v1:Secret");
    // No fixed name, and immutable: new credentials are a new Secret, so the Deployment's pods roll.
    assert.equal(s.metadata.name, undefined);
    assert.equal(s.immutable, true);
    // The engine receives the whole stringData wrapped as a secret value: the state keeps only ciphertext.
    assert.equal(s.stringData[pulumi.runtime.specialSigKey], pulumi.runtime.specialSecretSig);
    assert.equal(s.stringData.value.PGPASSWORD, PASSWORD);
  });
});

test("with a DNS name, reaches Postgres through an ExternalName Service", async () => {
  const { postgresHostIp: _ip, ...rest } = base;
  await run({ ...rest, postgresExternalName: "db.example.internal" });
  const svc = one("kubernetes:core/v1:Service");
  assert.equal(svc.spec.type, "ExternalName");
  assert.equal(svc.spec.externalName, "db.example.internal");
  assert.equal(registered.filter((r) => r.type.includes("EndpointSlice")).length, 0);
});

test("with manageCluster false, only the databases are declared, and no password is needed", async () => {
  await run({ manageCluster: "false", databases: [{ name: "a" }, { name: "b" }] });
  // (The databases' provider is registered once per program, by the first PgDatabase of this test process.)
  assert.deepEqual(
    registered.map((r) => r.type).filter((t) => !t.startsWith("pulumi:providers:")),
    ["pulumi-nodejs:dynamic/pg:Database", "pulumi-nodejs:dynamic/pg:Database"],
  );
});

test("with a CA for verify-full, the Secret carries it and the controller reads it from a mounted file", async () => {
  const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  await run({ ...base, postgresSslMode: "verify-full", postgresSslRootCert: pem });
  assert.equal(one("kubernetes:core/v1:Secret").stringData.value["ca.crt"], pem);
  const pod = one("kubernetes:apps/v1:Deployment").spec.template.spec;
  const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e]));
  assert.equal(env.PGSSLROOTCERT.value, "/etc/pg-kopf/tls/ca.crt");
  assert.deepEqual(pod.containers[0].volumeMounts[1], { name: "postgres-ca", mountPath: "/etc/pg-kopf/tls", readOnly: true });
  assert.deepEqual(pod.volumes[1].secret.items, [{ key: "ca.crt", path: "ca.crt" }]);
});

test("with postgresAuth kerberos: no password anywhere, the keytab and krb5.conf mounted read-only, tickets in memory", async () => {
  const keytab = Buffer.from("\x05\x02keytab-bytes").toString("base64");
  const krb5Conf = "[libdefaults]\n  default_realm = CORP.EXAMPLE\n";
  const { adminPassword: _, ...noPassword } = base;
  await run({ ...noPassword, postgresAuth: "kerberos", postgresKeytab: keytab, postgresKrb5Conf: krb5Conf, postgresGssEncMode: "require" });
  const secrets = registered.filter((r) => r.type === "kubernetes:core/v1:Secret");
  const credentials = secrets.find((r) => r.inputs.immutable)!.inputs;
  assert.equal(credentials.stringData.value.PGPASSWORD, undefined);
  assert.equal(credentials.stringData.value.PGUSER, "postgres");
  const keytabSecret = secrets.find((r) => r.inputs.metadata.name === "pg-kopf-keytab")!.inputs;
  assert.deepEqual(keytabSecret.data.value, { "krb5.keytab": keytab });
  assert.ok(!keytabSecret.immutable, "changed in place: a rotated keytab reaches the running pod");
  assert.deepEqual(one("kubernetes:core/v1:ConfigMap").data, { "krb5.conf": krb5Conf });
  const pod = one("kubernetes:apps/v1:Deployment").spec.template.spec;
  const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
  assert.equal(env.PGPASSWORD, undefined);
  assert.deepEqual(
    [env.PGKOPF_AUTH, env.KRB5_CLIENT_KTNAME, env.KRB5_CONFIG, env.KRB5CCNAME, env.PGGSSENCMODE],
    ["kerberos", "/etc/pg-kopf/kerberos/krb5.keytab", "/etc/pg-kopf/krb5/krb5.conf", "MEMORY:pg-kopf", "require"],
  );
  const mounts = pod.containers[0].volumeMounts.filter((m: any) => m.name === "keytab" || m.name === "krb5");
  assert.ok(mounts.length === 2 && mounts.every((m: any) => m.readOnly));
  assert.equal(pod.volumes.find((v: any) => v.name === "keytab").secret.defaultMode, 0o440);
});

test("with postgresAuth kerberos and an ExternalName, the controller dials the external name its principal carries", async () => {
  const { adminPassword: _, postgresHostIp: __, ...rest } = base;
  await run({
    ...rest,
    postgresExternalName: "pg1.corp.example",
    postgresAuth: "kerberos",
    postgresKeytab: Buffer.from("kt").toString("base64"),
    postgresKrb5Conf: "[realms]\n",
  });
  const env = Object.fromEntries(
    one("kubernetes:apps/v1:Deployment").spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]),
  );
  assert.equal(env.PGHOST, "pg1.corp.example");
});

describe("invalid config fails with the key", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      "missing password",
      { postgresHostIp: "10.0.0.1" },
      /pg-kopf:adminPassword: missing; the controller's Secret needs it: pulumi config set --secret/,
    ],
    ["bad sslmode", { ...base, postgresSslMode: "on" }, /pg-kopf:postgresSslMode: "on" is not an sslmode; use one of disable/],
    [
      "verify-full without a CA",
      { ...base, postgresSslMode: "verify-full" },
      /pg-kopf:postgresSslRootCert: sslmode verify-full needs the CA/,
    ],
    [
      "a CA path instead of PEM",
      { ...base, postgresSslMode: "verify-ca", postgresSslRootCert: "/etc/ca.crt" },
      /pg-kopf:postgresSslRootCert: is not a PEM certificate/,
    ],
    ["bad port", { ...base, postgresPort: "70000" }, /pg-kopf:postgresPort: "70000" is not a TCP port/],
    ["both addresses", { ...base, postgresExternalName: "db.example" }, /pg-kopf:postgresHostIp: set either .* not both/],
    ["no address", { adminPassword: PASSWORD }, /pg-kopf:postgresHostIp: say how the cluster reaches Postgres/],
    ["IP that is a name", { ...base, postgresHostIp: "db.local" }, /pg-kopf:postgresHostIp: "db.local" is not an IPv4 address/],
    ["bad pull policy", { ...base, imagePullPolicy: "Sometimes" }, /pg-kopf:imagePullPolicy: use one of Always, IfNotPresent, Never/],
    ["database without name", { ...base, databases: [{ owner: "x" }] }, /pg-kopf:databases\[0\]: each entry needs at least a name/],
    [
      "a server not declared",
      { ...base, roles: [{ name: "r", server: "nowhere" }] },
      /pg-kopf:roles\[0\]\.server: server "nowhere" is not declared; declare it with pulumi config set --path 'pg-kopf:servers.nowhere.host' <host> \(at pg-kopf:servers.nowhere\)/,
    ],
    [
      "a server entry with a password",
      { ...base, servers: { reports: { host: "r", password: "x" } }, databases: [{ name: "d", server: "reports" }] },
      /pg-kopf:databases\[0\]\.server: unknown; use host, port, user, database, sslMode, sslRootCert, connectTimeout, auth, gssEncMode, krbSrvName, keytab, krb5Conf, allowedNamespaces, maxConnections, pooler \(the password goes in the password file\)/,
    ],
    [
      "a declared server and no serverPasswords",
      { ...base, servers: { reports: { host: "r", sslMode: "require" } } },
      /pg-kopf:serverPasswords: missing; .* --path 'pg-kopf:serverPasswords.reports' <password>/,
    ],
    ["a server named default", { ...base, servers: { default: { host: "r" } } }, /pg-kopf:servers.default: "default" cannot name a server/],
    [
      "verify-full (a named server's default) without a CA",
      { ...base, servers: { reports: { host: "r" } } },
      /pg-kopf:servers.reports.sslRootCert: sslMode verify-full needs the PEM of the CA/,
    ],
    [
      "one Postgres declared as two servers",
      { ...base, servers: { a: { host: "db", sslMode: "require" }, b: { host: "db", port: 5432, sslMode: "require" } } },
      /pg-kopf:servers.b.host: db:5432 is server "a" already: one Postgres is one server/,
    ],
    [
      "a server that is the admin connection",
      { ...base, adminHost: "db", adminPort: "6432", servers: { a: { host: "db", port: 6432, sslMode: "require" } } },
      /pg-kopf:servers.a.host: db:6432 is the admin connection \(pg-kopf:adminHost\) already/,
    ],
    [
      "allowedNamespaces not a list of namespaces",
      { ...base, servers: { reports: { host: "r", sslMode: "require", allowedNamespaces: "team-a" } } },
      /pg-kopf:servers.reports.allowedNamespaces: expected a list of namespaces/,
    ],
    [
      "a rollout deadline too short to start a pod",
      { ...base, rolloutDeadlineSeconds: "5" },
      /pg-kopf:rolloutDeadlineSeconds: use a whole number of seconds from 10 to 3600/,
    ],
    ["an unknown postgresAuth", { ...base, postgresAuth: "gss" }, /pg-kopf:postgresAuth: "gss" is not an authentication method/],
    [
      "kerberos without a keytab",
      { postgresHostIp: "10.0.0.1", postgresAuth: "kerberos", postgresKrb5Conf: "[realms]" },
      /pg-kopf:postgresKeytab: missing; .*base64 -w0/,
    ],
    [
      "kerberos without krb5.conf",
      { postgresHostIp: "10.0.0.1", postgresAuth: "kerberos", postgresKeytab: "a2V5" },
      /pg-kopf:postgresKrb5Conf: missing/,
    ],
    [
      "kerberos and a password",
      { ...base, postgresAuth: "kerberos", postgresKeytab: "a2V5", postgresKrb5Conf: "[realms]" },
      /pg-kopf:adminPassword: not used with pg-kopf:postgresAuth kerberos/,
    ],
    ["role namespace not a name", { ...base, roleNamespaces: ["Team A"] }, /pg-kopf:roleNamespaces\[0\]: "Team A" is not a namespace name/],
    [
      "* among namespaces",
      { ...base, roleNamespaces: ["a", "*"] },
      /pg-kopf:roleNamespaces\[1\]: "\*" is not a namespace name; .* \["\*"\] alone/,
    ],
    ["pooler without a host", { ...base, pooler: { port: 6432 } }, /pg-kopf:pooler: expected \{"host": /],
    ["pooler port not a port", { ...base, pooler: { host: "pgbouncer", port: 0 } }, /pg-kopf:pooler.port: "0" is not a TCP port/],
  ];
  for (const [label, values, message] of cases) {
    test(label, async () => {
      await assert.rejects(run(values), message);
    });
  }
});

test("a pooler in front of the server (pg-kopf:pooler, a server's pooler): the controller's POOLER_HOST/PORT, a PgServer's spec.pooler", async () => {
  await run({
    ...base,
    pooler: { host: "pgbouncer.db.svc" },
    servers: { batch: { host: "10.1.2.3", sslMode: "require", pooler: { host: "10.1.2.4", port: 6433 } } },
    serverPasswords: JSON.stringify({ batch: "b4tch-Pa55" }),
  });
  const env = Object.fromEntries(
    one("kubernetes:apps/v1:Deployment").spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]),
  );
  assert.equal(env.POOLER_HOST, "pgbouncer.db.svc");
  assert.equal(env.POOLER_PORT, "6432");
  const spec = registered.find((r) => r.type.endsWith("PgServer"))?.inputs.spec;
  assert.deepEqual(spec.pooler, { host: "10.1.2.4", port: 6433 });
  assert.equal(parsePgServerSpec(spec).ok, true);
});

describe("each server of pg-kopf:servers is made known to the controller", () => {
  const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  const SERVER_PASSWORD = "r3ports-Pa55";
  const servers = {
    reports: { host: "reports.db.internal", port: 6432, user: "admin", sslRootCert: pem, allowedNamespaces: ["team-a"], maxConnections: 2 },
    batch: { host: "10.1.2.3", sslMode: "require", allowedNamespaces: ["*"] },
  };
  const values = { ...base, servers, serverPasswords: JSON.stringify({ reports: SERVER_PASSWORD, batch: "b4tch-Pa55" }) };

  test("a PgServer each, whose spec the controller parses as written, and a Service reaching it", async () => {
    const outputs = await run(values);
    const pgServers = registered.filter((r) => r.type === "kubernetes:my.local/v1:PgServer");
    const byName = Object.fromEntries(pgServers.map((r) => [r.inputs.metadata.name, r.inputs.spec]));
    assert.deepEqual(byName.reports, {
      host: "reports.db.internal",
      port: 6432,
      sslMode: "verify-full",
      ca: { configMapName: "pg-kopf-server-reports-ca", key: "ca.crt" },
      credentialsSecret: { name: "pg-kopf-server-reports" },
      maintenanceDatabase: "postgres",
      maxConnections: 2,
      allowedNamespaces: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["team-a"] }] },
    });
    assert.deepEqual(byName.batch.allowedNamespaces, {});
    for (const spec of Object.values(byName)) assert.equal(parsePgServerSpec(spec).ok, true, JSON.stringify(spec));
    const services = Object.fromEntries(
      registered.filter((r) => r.type === "kubernetes:core/v1:Service").map((r) => [r.inputs.metadata.name, r.inputs.spec]),
    );
    assert.equal(services["postgres-reports"].externalName, "reports.db.internal");
    assert.equal(services["postgres-batch"].type, "ClusterIP");
    assert.deepEqual(outputs.servers, ["reports", "batch"]);
  });

  test("its admin Secret (secret in the state) and CA ConfigMap, which the controller may read by name and no other", async () => {
    await run(values);
    const secret = registered.find((r) => r.type === "kubernetes:core/v1:Secret" && r.inputs.metadata.name === "pg-kopf-server-reports");
    assert.ok(secret);
    assert.equal(secret.inputs.type, "kubernetes.io/basic-auth");
    assert.equal(secret.inputs.stringData[pulumi.runtime.specialSigKey], pulumi.runtime.specialSecretSig);
    assert.deepEqual(secret.inputs.stringData.value, { username: "admin", password: SERVER_PASSWORD });
    assert.equal(one("kubernetes:core/v1:ConfigMap").data["ca.crt"], pem);
    assert.deepEqual(one("kubernetes:rbac.authorization.k8s.io/v1:Role").rules.slice(0, 2), [
      { apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: ["pg-kopf-server-batch", "pg-kopf-server-reports"] },
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get"], resourceNames: ["pg-kopf-server-reports-ca"] },
    ]);
    assert.ok(!JSON.stringify(registered.filter((r) => r.type.endsWith("PgServer"))).includes(SERVER_PASSWORD));
  });
  test("a Kerberos server: its keytab in the Secret (secret in the state), krb5.conf from its file in a ConfigMap, no password", async () => {
    const conf = join(mkdtempSync(join(tmpdir(), "pg-kopf-krb5-")), "krb5.conf");
    writeFileSync(conf, "[realms]\n  CORP.EXAMPLE = { kdc = kdc.corp.example }\n");
    const ad = {
      host: "pg.corp.example",
      user: "pgkopf_admin",
      auth: "kerberos",
      krb5Conf: conf,
      gssEncMode: "require",
      sslMode: "disable",
    };
    const keytab = Buffer.from("\x05\x02keytab").toString("base64");
    await run({ ...base, servers: { ad }, serverKeytabs: JSON.stringify({ ad: keytab }) });
    const spec = registered.find((r) => r.type.endsWith("PgServer"))?.inputs.spec;
    assert.deepEqual(spec.kerberos, {
      user: "pgkopf_admin",
      keytab: { secretName: "pg-kopf-server-ad", key: "krb5.keytab" },
      krb5Conf: { configMapName: "pg-kopf-server-ad-krb5", key: "krb5.conf" },
      gssEncMode: "require",
    });
    assert.equal(spec.credentialsSecret, undefined);
    assert.equal(parsePgServerSpec(spec).ok, true, JSON.stringify(spec));
    const secret = registered.find((r) => r.type === "kubernetes:core/v1:Secret" && r.inputs.metadata.name === "pg-kopf-server-ad");
    assert.equal(secret?.inputs.data[pulumi.runtime.specialSigKey], pulumi.runtime.specialSecretSig);
    assert.deepEqual(secret?.inputs.data.value, { "krb5.keytab": keytab });
    const krb5 = registered.find((r) => r.type === "kubernetes:core/v1:ConfigMap" && r.inputs.metadata.name === "pg-kopf-server-ad-krb5");
    assert.match(krb5?.inputs.data["krb5.conf"], /CORP\.EXAMPLE/);
    assert.deepEqual(one("kubernetes:rbac.authorization.k8s.io/v1:Role").rules.slice(0, 2), [
      { apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: ["pg-kopf-server-ad"] },
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get"], resourceNames: ["pg-kopf-server-ad-krb5"] },
    ]);
    // Without its keytab, the key to set is named.
    await assert.rejects(run({ ...base, servers: { ad } }), /pg-kopf:serverKeytabs: missing; .*serverKeytabs\.ad/);
  });
});

test("serverPasswords: every declared server has one, and each names a declared server", () => {
  const what = { key: "serverPasswords", of: "server", list: "servers" };
  const check = (p: object) => passwordMap("pg-kopf", what, JSON.stringify(p), ["reports"], ["reports"]);
  assert.throws(() => check({ reports: "x", other: "y" }), /pg-kopf:serverPasswords.other: names no server declared in pg-kopf:servers/);
  assert.throws(() => check({}), /pg-kopf:serverPasswords.reports: missing; the controller's Secret for server "reports"/);
  assert.throws(() => check({ reports: "" }), /pg-kopf:serverPasswords.reports: expected a non-empty string/);
  assert.deepEqual(check({ reports: "x" }), { reports: "x" });
});

test("the dev stack's config (Pulumi.dev.yaml) is valid as shipped, with the secret set by the user", () => {
  const file = load(readFileSync(join(__dirname, "..", "..", "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
  const values = Object.fromEntries(Object.entries(file.config).map(([k, v]) => [k.replace(/^pg-kopf:/, ""), v]));
  const s = readSettings(config({ ...values, adminPassword: PASSWORD }));
  assert.deepEqual(s.roleNamespaces, ["default"]);
  assert.deepEqual(s.postgres, { hostIp: "192.168.65.254", port: 5432 });
  assert.deepEqual(
    s.databases.map((d) => d.name),
    ["mynewdb"],
  );
});
