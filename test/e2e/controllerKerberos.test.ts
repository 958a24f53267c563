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
  syncMounts();
  controller = await startController("controller-kerberos", kubeconfig, pg, {
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
});

describe("the controller through a Kerberos-only Postgres", () => {
  test("1. the program's objects carry the keytab and krb5.conf, and no password; a PgDatabase is reconciled", async () => {
    const credentials = JSON.parse(cluster.kubectl(["get", "secrets", "-n", NAMESPACE, "-o", "json"])).items.filter((s: any) =>
      s.metadata.name.startsWith("postgres-credentials"),
    );
    assert.equal(credentials.length, 1);
    assert.deepEqual(Object.keys(credentials[0].data).sort(), ["PGDATABASE", "PGSSLMODE", "PGUSER"]);
    databases().apply("orders", { name: "krb_orders", schemas: [{ name: "app" }] });
    const obj = await databases().untilReady("orders");
    assert.equal(ready(obj).reason, "Reconciled");
    assert.ok(await dbExists("krb_orders"));
  });

  test("2. a keytab rotated in its Secret is used by the running controller; the old key no longer works", async () => {
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
