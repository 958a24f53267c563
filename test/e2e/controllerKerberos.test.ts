// The controller through a Kerberos-only Postgres: the program (real `pulumi up`, postgresAuth kerberos) puts the
// keytab in a Secret and krb5.conf in a ConfigMap; the controller, a process with the program's RBAC, reads them as
// the Deployment mounts them (files, tickets in memory, no password) and reconciles PgDatabases. Its tickets live
// 3 seconds, so each new connection after that fetches one from the keytab: a keytab rotated in its Secret takes
// effect without a restart, and the old key no longer works.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type TestCluster, startCluster } from "../harness/cluster";
import { type ControllerProcess, installController, NAMESPACE, startController } from "../harness/controller";
import { startArgvSampler } from "../harness/argv";
import { startRealm, type TestRealm } from "../harness/kerberos";
import { MANAGED_ADMIN, startPostgres, type TestPostgres } from "../harness/postgres";
import { customObjects, ready, eventually as waitFor } from "./customObjects";
import * as core from "../../core";

const NS = "default";
let realm: TestRealm;
let pg: TestPostgres;
let cluster: TestCluster;
let controller: ControllerProcess;
let firstKeytab: string;
/** Every process's command line while `pulumi up` of the program ran. */
let commandLines: string[];
/** A second Postgres, in a realm (a KDC) of its own, reached through a PgServer with its own keytab and krb5.conf. */
let otherRealm: TestRealm;
let otherPg: TestPostgres;
/** Where the pod would have its two volumes: the files the kubelet writes from the Secret and the ConfigMap. */
const mounted = mkdtempSync(join(tmpdir(), "pg-kopf-mounted-"));

const tail = () => controller.output().split("\n").slice(-15).join("\n");
const eventually = <T>(what: string, probe: () => T | Promise<T>, timeoutMs?: number) => waitFor(what, probe, tail, timeoutMs);
const databases = () => customObjects(cluster, "PgDatabase", "pgdb", NS, tail);
const dbExists = async (name: string) => (await pg.superQuery("SELECT 1 FROM pg_database WHERE datname = $1", [name])).length === 1;

/** Writes the keytab Secret's and the krb5.conf ConfigMap's data to the mounted files, as the kubelet syncs them. */
function syncMounts(): void {
  const keytab = cluster.kubectl(["get", "secret", "pg-kopf-keytab", "-n", NAMESPACE, "-o", "jsonpath={.data.krb5\\.keytab}"]);
  writeFileSync(join(mounted, "krb5.keytab"), Buffer.from(keytab, "base64"), { mode: 0o440 });
  const conf = cluster.kubectl(["get", "configmap", "pg-kopf-krb5", "-n", NAMESPACE, "-o", "jsonpath={.data.krb5\\.conf}"]);
  writeFileSync(join(mounted, "krb5.conf"), conf);
}

before(async () => {
  realm = await startRealm();
  pg = await startPostgres({ gss: { realm } });
  // Short tickets: every connection a few seconds later needs a new one from the keytab.
  const keytab = realm.addPrincipal(MANAGED_ADMIN, { maxLifeSeconds: 3 });
  firstKeytab = keytab;
  cluster = await startCluster({ workloads: true });
  // The keytab passes through the program's config (a secret): never through a command line.
  const sampler = startArgvSampler();
  const kubeconfig = installController(
    cluster,
    pg,
    {
      postgresAuth: { value: "kerberos" },
      postgresKeytab: { value: readFileSync(keytab).toString("base64"), secret: true },
      postgresKrb5Conf: { value: readFileSync(realm.krb5Conf, "utf8") },
    },
    ["adminPassword"],
  );
  commandLines = await sampler.stop();
  syncMounts();
  otherRealm = await startRealm();
  otherPg = await startPostgres({ gss: { realm: otherRealm } });
  controller = await startController("controller-kerberos", kubeconfig, pg, {
    SERVER_CHECK_SECONDS: "1",
    // As the Deployment sets them (infra/operator.ts kerberosEnv), with the files where this test mounted them; the
    // host is the name in the server's principal.
    PGHOST: "localhost",
    PGPASSWORD: "",
    PGKOPF_AUTH: "kerberos",
    KRB5_CLIENT_KTNAME: join(mounted, "krb5.keytab"),
    KRB5_CONFIG: join(mounted, "krb5.conf"),
    KRB5CCNAME: "MEMORY:pg-kopf",
  });
  await eventually("the controller to lead", async () => (await controller.metric("pgkopf_leader")) === 1);
});
after(async () => {
  await controller?.kill();
  cluster?.stop();
  pg?.destroy();
  realm?.stop();
  otherPg?.destroy();
  otherRealm?.stop();
});

const apply = (obj: object) => cluster.kubectl(["apply", "-f", "-"], JSON.stringify(obj));
const server = (name: string) => JSON.parse(cluster.kubectl(["get", "pgserver", name, "-o", "json"]));
const untilServer = (name: string, reason: string) =>
  eventually(`PgServer ${name} ${reason}`, () => (ready(server(name))?.reason === reason ? server(name) : undefined));
/** A keytab into its Secret from a file, as a user would (the bytes never on a command line). */
const keytabSecret = (name: string, keytab: string) =>
  cluster.kubectl([
    "create",
    "secret",
    "generic",
    name,
    "-n",
    NAMESPACE,
    `--from-file=krb5.keytab=${keytab}`,
    "--dry-run=client",
    "-o",
    "json",
  ]);

describe("the controller through a Kerberos-only Postgres", () => {
  test("1. the program's objects carry the keytab and krb5.conf, and no password; a PgDatabase is reconciled", async () => {
    const credentials = JSON.parse(cluster.kubectl(["get", "secrets", "-n", NAMESPACE, "-o", "json"])).items.filter((s: any) =>
      s.metadata.name.startsWith("postgres-credentials"),
    );
    assert.equal(credentials.length, 1);
    assert.deepEqual(Object.keys(credentials[0].data).sort(), ["PGDATABASE", "PGSSLMODE", "PGUSER"]);
    const keytab = readFileSync(firstKeytab).toString("base64");
    assert.ok(
      commandLines.some((line) => /pulumi/.test(line)),
      "the sampler saw pulumi run",
    );
    assert.ok(!commandLines.some((line) => line.includes(keytab) || line.includes(keytab.slice(0, 24))), "no keytab on any command line");
    databases().apply("orders", { name: "krb_orders", schemas: [{ name: "app" }] });
    const obj = await databases().untilReady("orders");
    assert.equal(ready(obj).reason, "Reconciled");
    assert.ok(await dbExists("krb_orders"));
  });

  test("2. a PgServer in another realm with its own keytab Secret and krb5.conf ConfigMap: Ready, its objects reconciled; a rotated keytab used at once", async () => {
    // Short tickets here too: after the rotation, only the new key can get the next one.
    const otherAdmin = otherRealm.addPrincipal(MANAGED_ADMIN, { maxLifeSeconds: 3 });
    cluster.kubectl(["apply", "-f", "-"], keytabSecret("ad-east-keytab", otherAdmin));
    cluster.kubectl(["create", "configmap", "ad-east-krb5", "-n", NAMESPACE, `--from-file=krb5.conf=${otherRealm.krb5Conf}`]);
    // The program grants the controller its own objects only; a PgServer's owner grants it theirs.
    apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "pg-kopf-ad-east", namespace: NAMESPACE },
      rules: [
        { apiGroups: [""], resources: ["secrets"], resourceNames: ["ad-east-keytab"], verbs: ["get"] },
        { apiGroups: [""], resources: ["configmaps"], resourceNames: ["ad-east-krb5"], verbs: ["get"] },
      ],
    });
    apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "pg-kopf-ad-east", namespace: NAMESPACE },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pg-kopf-ad-east" },
      subjects: [{ kind: "ServiceAccount", name: "pg-kopf-controller", namespace: NAMESPACE }],
    });
    apply({
      apiVersion: "my.local/v1",
      kind: "PgServer",
      metadata: { name: "ad-east" },
      spec: {
        host: "localhost",
        port: otherPg.port,
        sslMode: "disable",
        kerberos: { user: MANAGED_ADMIN, keytab: { secretName: "ad-east-keytab" }, krb5Conf: { configMapName: "ad-east-krb5" } },
        allowedNamespaces: {},
      },
    });
    const east = await untilServer("ad-east", "Reachable");
    assert.match(ready(east).message, new RegExp(`as ${MANAGED_ADMIN} by Kerberos`));
    databases().apply("east-orders", { name: "krb_east_orders", server: "ad-east" });
    await databases().untilReady("east-orders");
    const onEast = async (name: string) => (await otherPg.superQuery("SELECT 1 FROM pg_database WHERE datname = $1", [name])).length === 1;
    assert.ok(await onEast("krb_east_orders"));
    assert.equal(await dbExists("krb_east_orders"), false, "not on the controller's own server");
    // Rotated: the old key is gone from the realm; the next check connects with the new keytab, without a restart.
    const pid = controller.child.pid;
    cluster.kubectl(["apply", "-f", "-"], keytabSecret("ad-east-keytab", otherRealm.rotate(MANAGED_ADMIN)));
    await new Promise((r) => setTimeout(r, 3_500));
    databases().apply("east-invoices", { name: "krb_east_invoices", server: "ad-east" });
    await databases().untilReady("east-invoices");
    assert.ok(await onEast("krb_east_invoices"));
    assert.equal(controller.child.pid, pid, "no restart");
    // A Secret without the keytab: the server says which key, and what to run.
    apply({
      apiVersion: "my.local/v1",
      kind: "PgServer",
      metadata: { name: "ad-west" },
      spec: {
        host: "localhost",
        port: otherPg.port,
        sslMode: "disable",
        kerberos: { user: MANAGED_ADMIN, keytab: { secretName: "ad-east-keytab", key: "other.keytab" } },
      },
    });
    const west = await untilServer("ad-west", "CredentialsNotFound");
    assert.match(ready(west).message, /has no keytab under the key other\.keytab: kubectl create secret generic ad-east-keytab/);
  });

  test("3. a keytab rotated in its Secret is used by the running controller; the old key no longer works", async () => {
    const pid = controller.child.pid;
    const rotated = realm.rotate(MANAGED_ADMIN);
    // The patch from a file: a keytab is a credential, never a command-line argument.
    const patch = join(mounted, "patch.json");
    writeFileSync(patch, JSON.stringify({ data: { "krb5.keytab": readFileSync(rotated).toString("base64") } }), { mode: 0o600 });
    cluster.kubectl(["patch", "secret", "pg-kopf-keytab", "-n", NAMESPACE, "--type", "merge", "--patch-file", patch]);
    syncMounts();
    // Past the ticket's life: the next connection (into the new database, for its schema) fetches a new one.
    await new Promise((r) => setTimeout(r, 3_500));
    databases().apply("invoices", { name: "krb_invoices", schemas: [{ name: "app" }] });
    await databases().untilReady("invoices");
    assert.ok(await dbExists("krb_invoices"));
    assert.equal(controller.child.pid, pid, "no restart");
    assert.equal(controller.child.exitCode, null);
    // The old keytab is refused by the KDC now: the controller could only have used the new one.
    Object.assign(process.env, { KRB5_CONFIG: realm.krb5Conf, KRB5_CLIENT_KTNAME: firstKeytab, KRB5CCNAME: "MEMORY:old-key" });
    await assert.rejects(
      core.withClient(pg.settings({ host: "localhost", auth: "kerberos" }), undefined, async () => undefined),
      core.AuthenticationFailed,
    );
  });
});
