// The whole Pulumi program through the real engine, as users run it: the plain `pulumi` CLI in the repository (its
// Pulumi.yaml, the nodejs language host, the kubernetes plugin) against a real kube-apiserver with a KWOK node and a
// real PostgreSQL 15. Every cluster object and database is created, changed, refreshed and destroyed by the engine.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startPostgres, type TestPostgres } from "../harness/postgres";
import { startCluster, type TestCluster } from "../harness/cluster";
import { clusterStackConfig, createCliStack, REPO, type CliStack } from "../harness/project";
import { compare, normalize } from "./golden";
import { allText } from "./tree";
import { Client } from "pg";
import { clientConfig } from "../../core/connect";

const NS = "pg-kopf";
let pg: TestPostgres;
let cluster: TestCluster;
let s: CliStack;
const declared = [
  { name: "app", owner: "app_owner" },
  { name: "scratch", reclaimPolicy: "delete" },
];

const exists = async (name: string) => (await pg.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])).length === 1;
const get = (what: string, path: string) => cluster.kubectl(["get", what, "-n", NS, "-o", `jsonpath=${path}`]);
const up = () => s.run(["up", "--yes", "--skip-preview"]);
/** npm run release, as a user runs it, against the test cluster. */
const release = (...args: string[]) => {
  const r = spawnSync("bash", [join(REPO, "scripts", "release.sh"), ...args], {
    env: { ...process.env, KUBECONFIG: cluster.kubeconfig },
    encoding: "utf8",
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
};
const secretNames = () =>
  cluster
    .kubectl(["get", "secrets", "-n", NS, "-l", "app.kubernetes.io/name=postgres", "-o", "jsonpath={.items[*].metadata.name}"])
    .split(" ")
    .filter(Boolean);

before(async () => {
  [pg, cluster] = await Promise.all([startPostgres(), startCluster({ workloads: true })]);
  await pg.query("CREATE ROLE app_owner");
  const config = clusterStackConfig(pg, declared, { roleNamespaces: { value: JSON.stringify(["default"]) } });
  // (PULUMI_DEBUG_COMMANDS: for up's --event-log, which records the order of the engine's steps.)
  s = createCliStack("e2e", pg, config, { KUBECONFIG: cluster.kubeconfig, PULUMI_DEBUG_COMMANDS: "true" });
});
after(() => {
  cluster?.stop();
  pg?.destroy();
  s?.destroyDir();
});

describe("pulumi up of the whole program with the plain CLI", () => {
  test("1. up from empty creates every cluster object and database; the Deployment rolls out; outputs are right", async () => {
    up();
    for (const kind of [
      "namespace/pg-kopf",
      "crd/pgdatabases.my.local",
      "crd/pgroles.my.local",
      "crd/pgservers.my.local",
      "clusterrole/pg-kopf-controller-pg-kopf",
      "clusterrolebinding/pg-kopf-controller-pg-kopf",
    ]) {
      cluster.kubectl(["get", kind]);
    }
    for (const kind of [
      "serviceaccount/pg-kopf-controller",
      "role/pg-kopf-controller",
      "rolebinding/pg-kopf-controller",
      "service/postgres",
      "endpointslice/postgres-external",
      "deployment/pg-kopf-controller",
    ]) {
      cluster.kubectl(["get", kind, "-n", NS]);
    }
    // The credentials Secrets' grant, where PgRoles live.
    cluster.kubectl([
      "get",
      "role/pg-kopf-controller-pg-kopf-credentials",
      "rolebinding/pg-kopf-controller-pg-kopf-credentials",
      "-n",
      "default",
    ]);
    assert.equal(secretNames().length, 1);
    assert.equal(get("deployment/pg-kopf-controller", "{.status.availableReplicas}"), "1");
    assert.equal(get("deployment/pg-kopf-controller", "{.spec.template.spec.containers[0].image}"), "pg-kopf-controller:local");
    // The CRDs the engine installed accept every example.
    cluster.kubectl(["apply", "--dry-run=server", "--recursive", "-f", join(REPO, "examples")]);
    assert.ok(await exists("app"));
    assert.ok(await exists("scratch"));
    const outputs = JSON.parse(s.run(["stack", "output", "--json"]));
    assert.deepEqual(outputs, {
      controller: "pg-kopf-controller",
      crd: "pgdatabases.my.local",
      roleCrd: "pgroles.my.local",
      serverCrd: "pgservers.my.local",
      databases: ["app", "scratch"],
      namespace: "pg-kopf",
      postgresAddress: `postgres.pg-kopf.svc.cluster.local:${pg.port}`,
    });
  });

  test("1b. the ServiceAccount the engine made can do exactly what the controller needs, as the authorizer sees it", () => {
    const sa = `system:serviceaccount:${NS}:pg-kopf-controller`;
    const can = (args: string[]) => {
      try {
        return cluster.kubectl(["auth", "can-i", "--as", sa, ...args]).trim();
      } catch (e) {
        return String((e as { stdout?: string }).stdout ?? "").trim();
      }
    };
    const allowed = [
      ["watch", "pgdatabases.my.local", "--all-namespaces"],
      ["watch", "pgroles.my.local", "--all-namespaces"],
      ["patch", "pgroles.my.local/status", "-n", "default"],
      // The credentials Secrets, where PgRoles live (pg-kopf:roleNamespaces).
      ["watch", "secrets", "-n", "default"],
      ["create", "secrets", "-n", "default"],
      ["update", "secrets", "-n", "default"],
      ["patch", "pgdatabases.my.local/status", "-n", "default"],
      ["update", "pgdatabases.my.local/finalizers", "-n", "default"],
      ["create", "events", "-n", "default"],
      ["update", "leases.coordination.k8s.io/pg-kopf-controller", "-n", NS],
      // PgServers: read, and their status; a namespace's labels, by name.
      ["watch", "pgservers.my.local"],
      ["patch", "pgservers.my.local", "--subresource=status"],
      ["get", "namespaces/default"],
    ];
    const refused = [
      ["delete", "pgdatabases.my.local", "-n", "default"],
      ["create", "pgdatabases.my.local", "-n", "default"],
      // The credentials reach the pod through the kubelet; the controller itself reads no Secret.
      ["get", `secrets/${secretNames()[0]}`, "-n", NS],
      ["list", "secrets", "-n", NS],
      ["get", "secrets", "-n", "kube-system"],
      ["list", "secrets", "--all-namespaces"],
      // A PgRole's Secret goes with it, by the garbage collector.
      ["delete", "secrets", "-n", "default"],
      ["update", "leases.coordination.k8s.io/someone-else", "-n", NS],
      ["create", "deployments.apps", "-n", NS],
      ["get", "customresourcedefinitions.apiextensions.k8s.io"],
      // A server is the platform team's to declare; the controller only reports on it.
      ["create", "pgservers.my.local"],
      ["update", "pgservers.my.local"],
      ["delete", "pgservers.my.local"],
      ["list", "namespaces"],
      ["get", "configmaps", "-n", NS],
    ];
    assert.deepEqual(
      allowed.map(can),
      allowed.map(() => "yes"),
    );
    assert.deepEqual(
      refused.map(can),
      refused.map(() => "no"),
    );
  });

  test("2. a second up changes nothing, the preview shows no changes, and a refresh reports none", () => {
    s.run(["preview", "--diff", "--expect-no-changes"]);
    s.run(["up", "--yes", "--expect-no-changes"]);
    // Regression: the first refresh after an up reported every new database as updated (-plannedSql).
    s.run(["refresh", "--yes", "--expect-no-changes"]);
  });

  test("3a. an image tag and a rotated admin password: previewed, applied in place, pods restarted with the new Secret", async () => {
    const rotated = `rotated-${pg.password}`;
    await pg.query(`ALTER ROLE ${pg.user} PASSWORD '${rotated}'`);
    s.setAdminPassword(rotated);
    s.setConfig("adminPassword", rotated, true);
    s.setConfig("imageTag", "v2");
    const [oldSecret] = secretNames();
    const preview = s.run(["preview", "--diff"]);
    compare(
      "preview-cluster.txt",
      normalize(
        preview.replaceAll(String(pg.port), "<port>").replace(/postgres-credentials-[0-9a-z]{8}/g, "postgres-credentials-<suffix>"),
      ),
    );
    assert.ok(!preview.includes(rotated) && !preview.includes(pg.password), "no password in the preview");
    // Regression: the rotated password locked the stack out (refresh reused the recorded provider config).
    up();
    assert.equal(get("deployment/pg-kopf-controller", "{.spec.template.spec.containers[0].image}"), "pg-kopf-controller:v2");
    const [newSecret] = secretNames();
    assert.notEqual(newSecret, oldSecret, "new credentials are a new Secret");
    assert.equal(secretNames().length, 1, "the old Secret is gone");
    assert.equal(Buffer.from(get(`secret/${newSecret}`, "{.data.PGPASSWORD}"), "base64").toString(), rotated);
    assert.equal(
      get("deployment/pg-kopf-controller", "{.spec.template.spec.containers[0].env[?(@.name=='PGPASSWORD')].valueFrom.secretKeyRef.name}"),
      newSecret,
    );
    cluster.kubectl(["rollout", "status", "deployment/pg-kopf-controller", "-n", NS, "--timeout=60s"]);
    const pods = JSON.parse(cluster.kubectl(["get", "pods", "-n", NS, "-o", "json"])).items;
    assert.ok(pods.every((p: { spec: { containers: { image: string }[] } }) => p.spec.containers[0].image === "pg-kopf-controller:v2"));
    s.run(["preview", "--expect-no-changes"]);
    // Back to the password the test's own queries use (the Secret keeps the rotated one).
    const admin = new Client({ ...clientConfig(pg.settings()), password: rotated });
    await admin.connect();
    await admin.query(`ALTER ROLE ${pg.user} PASSWORD '${pg.password}'`);
    await admin.end();
    s.setAdminPassword(pg.password);
  });

  test("3b. replicas and an added database are applied in place", async () => {
    s.setConfig("replicas", "2");
    s.setConfig("databases", JSON.stringify([...declared, { name: "added" }]));
    up();
    cluster.kubectl(["rollout", "status", "deployment/pg-kopf-controller", "-n", NS, "--timeout=60s"]);
    assert.equal(get("deployment/pg-kopf-controller", "{.status.availableReplicas}"), "2");
    assert.ok(await exists("added"));
  });

  test("3c. the Postgres endpoint switches from a host IP to a DNS name and back", () => {
    s.run(["config", "rm", "pg-kopf:postgresHostIp"]);
    s.setConfig("postgresExternalName", "db.example.internal");
    up();
    assert.equal(get("service/postgres", "{.spec.type} {.spec.externalName}"), "ExternalName db.example.internal");
    assert.throws(() => cluster.kubectl(["get", "endpointslice/postgres-external", "-n", NS]));
    s.run(["config", "rm", "pg-kopf:postgresExternalName"]);
    s.setConfig("postgresHostIp", "192.0.2.20");
    up();
    assert.equal(get("service/postgres", "{.spec.type}"), "ClusterIP");
    assert.equal(get("endpointslice/postgres-external", "{.endpoints[0].addresses[0]}"), "192.0.2.20");
  });

  // Regression: a new pg-kopf:namespace replaced the Namespace, so up deleted the old one with Secrets the program
  // never made; and the new controller started while the old one still led through its own namespace's Lease.
  test("3d. a namespace move keeps the old namespace and what it holds; the old controller is gone before the new starts", () => {
    cluster.kubectl(["create", "secret", "generic", "hand-made", "-n", NS, "--from-literal=password=theirs"]);
    s.setConfig("namespace", "pg-kopf-moved");
    const preview = s.run(["preview", "--diff"]);
    assert.match(preview, /\+-\s*kubernetes:apps\/v1:Deployment: \(replace\)/);
    assert.match(preview, /namespace\s*: "pg-kopf" => "pg-kopf-moved"/);
    const events = join(s.dir, "move-events.jsonl");
    s.run(["up", "--yes", "--skip-preview", "--event-log", events]);
    // The old Deployment's deletion (foreground: its pods gone) ends before the new one is created.
    const steps = readFileSync(events, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .flatMap((e) => {
        const step = e.resourcePreEvent?.metadata ?? e.resOutputsEvent?.metadata;
        const replacing = step?.type === "kubernetes:apps/v1:Deployment" && /-replace/.test(step.op);
        return replacing ? [`${e.resourcePreEvent ? "start" : "end"} ${step.op}`] : [];
      });
    assert.deepEqual(steps, ["start delete-replaced", "end delete-replaced", "start create-replacement", "end create-replacement"]);
    assert.throws(() => cluster.kubectl(["get", "deployment/pg-kopf-controller", "-n", NS]));
    cluster.kubectl(["rollout", "status", "deployment/pg-kopf-controller", "-n", "pg-kopf-moved", "--timeout=60s"]);
    assert.equal(cluster.kubectl(["get", "namespace", NS, "-o", "jsonpath={.status.phase}"]), "Active");
    assert.equal(Buffer.from(get("secret/hand-made", "{.data.password}"), "base64").toString(), "theirs");
    // Back again: the kept namespace is taken up, not refused as already existing; the other one is kept too.
    s.setConfig("namespace", NS);
    up();
    cluster.kubectl(["rollout", "status", "deployment/pg-kopf-controller", "-n", NS, "--timeout=60s"]);
    cluster.kubectl(["get", "namespace", "pg-kopf-moved"]);
    assert.equal(Buffer.from(get("secret/hand-made", "{.data.password}"), "base64").toString(), "theirs");
    s.run(["preview", "--expect-no-changes"]);
  });

  test("4. refresh shows an out-of-band change to the Deployment, and the next up repairs it", () => {
    cluster.kubectl(["scale", "deployment/pg-kopf-controller", "-n", NS, "--replicas=3"]);
    const refresh = s.run(["refresh", "--yes", "--diff"]);
    assert.match(refresh, /~ kubernetes:apps\/v1:Deployment: \(update\)/);
    assert.match(refresh, /replicas\s*: 2 => 3/);
    up();
    assert.equal(get("deployment/pg-kopf-controller", "{.spec.replicas}"), "2");
  });

  test("5. the state holds no admin password in plaintext, Secret data included", () => {
    const exported = s.run(["stack", "export"]);
    const raw = allText(s.backendDir);
    for (const password of [pg.password, `rotated-${pg.password}`]) {
      assert.ok(!exported.includes(password), "exported deployment");
      assert.ok(!raw.includes(password), "raw state files");
      assert.ok(!exported.includes(Buffer.from(password).toString("base64")), "base64 in the export");
    }
    assert.match(exported, /"ciphertext"/);
  });

  // Regression: the engine printed the admin password in its Configure log at -v=9, because the dynamic provider
  // was configured with the whole stack config and its host accepts no secrets. What remains at this verbosity is
  // the engine's own trace of the Kubernetes Secret resource's properties, which it prints for any secret input of
  // any resource; pg-kopf's provider path carries no password at all.
  test("6. at the highest verbosity, no password outside the engine's trace of the Secret resource", () => {
    const { output } = s.tryRun(["preview", "--diff", "-v=11", "--logtostderr", "--logflow"]);
    assert.ok(output.length > 100_000, "verbose output was produced");
    const leaks = output.split("\n").filter((l) => l.includes(pg.password));
    const outsideSecret = leaks.filter((l) => !/kubernetes:core\/v1:Secret|Provider\[kubernetes\]/.test(l));
    assert.deepEqual(
      outsideSecret.map((l) => l.replaceAll(pg.password, "<password>").slice(0, 300)),
      [],
    );
    assert.ok(!leaks.some((l) => /Configure|pulumi-nodejs/.test(l)), "the databases' provider saw the password");
  });

  test("7. destroy removes the cluster objects, keeps retained databases and the CRD with live objects", async () => {
    cluster.kubectl(["apply", "-n", "default", "-f", join(REPO, "examples", "mynewdb.yaml")]);
    // While a controller runs, releasing its objects is refused: it carries out their deletions itself.
    const early = release();
    assert.equal(early.status, 1);
    assert.match(early.output, /a pg-kopf controller still runs \(pg-kopf\/pg-kopf-controller\)/);
    s.run(["destroy", "--yes", "--skip-preview"]);
    assert.throws(() => cluster.kubectl(["get", "deployment/pg-kopf-controller", "-n", NS]));
    assert.ok(await exists("app"), "retain keeps the database");
    assert.ok(!(await exists("scratch")), "delete drops it");
    // The CRDs are left, and so is every PgDatabase object: deleting a CRD would delete them all.
    cluster.kubectl(["get", "crd/pgdatabases.my.local", "crd/pgroles.my.local", "crd/pgservers.my.local"]);
    cluster.kubectl(["get", "pgdb/mynewdb", "-n", "default"]);
    // And the namespace, which may hold what the program did not make.
    cluster.kubectl(["get", `namespace/${NS}`, "secret/hand-made", "-n", NS]);
  });

  // Regression: after destroy, objects carrying the controller's finalizer hung on delete, and a controller started
  // again would drop every reclaimPolicy: delete database whose object was being deleted. Release lets them go.
  test("7b. after destroy, release lets objects go with Postgres untouched, and up again takes up what destroy kept", async () => {
    await pg.query('CREATE DATABASE "held"');
    const finalizer = (kind: string) => [`${kind}.my.local/finalizer`];
    const held = (kind: string, name: string, spec: object) =>
      JSON.stringify({
        apiVersion: "my.local/v1",
        kind,
        metadata: { name, namespace: "default", finalizers: finalizer(kind === "PgRole" ? "pgroles" : "pgdatabases") },
        spec,
      });
    cluster.kubectl(["apply", "-f", "-"], held("PgDatabase", "held", { name: "held", reclaimPolicy: "delete" }));
    cluster.kubectl(["apply", "-f", "-"], held("PgRole", "kept-role", { name: "kept_role" }));
    cluster.kubectl(["delete", "pgdb/held", "-n", "default", "--wait=false"]);
    assert.match(cluster.kubectl(["get", "pgdb/held", "-n", "default", "-o", "jsonpath={.metadata.deletionTimestamp}"]), /\d{4}-/);
    const dry = release("--dry-run");
    assert.equal(dry.status, 0, dry.output);
    assert.match(dry.output, /would release PgDatabase default\/held: was being deleted/);
    cluster.kubectl(["get", "pgdb/held", "-n", "default"]);
    const done = release();
    assert.equal(done.status, 0, done.output);
    assert.match(done.output, /released PgDatabase default\/held: was being deleted and is gone now; Postgres untouched/);
    assert.match(done.output, /released PgRole default\/kept-role: no longer waits for a controller when deleted/);
    assert.match(done.output, /2 object\(s\) released/);
    assert.throws(() => cluster.kubectl(["get", "pgdb/held", "-n", "default"]));
    assert.equal(cluster.kubectl(["get", "pgrole/kept-role", "-n", "default", "-o", "jsonpath={.metadata.finalizers}"]), "");
    assert.ok(await exists("held"), "release drops nothing, whatever the reclaimPolicy");
    cluster.kubectl(["delete", "pgrole/kept-role", "-n", "default", "--timeout=30s"]);
    // Up again: the kept CRDs and namespace are taken up instead of failing "already exists".
    up();
    cluster.kubectl(["rollout", "status", "deployment/pg-kopf-controller", "-n", NS, "--timeout=60s"]);
    s.run(["preview", "--expect-no-changes"]);
  });
});
