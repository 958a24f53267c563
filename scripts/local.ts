// Runs pg-kopf locally, end to end, with nothing but this repository: a throwaway PostgreSQL 15, a Kubernetes
// control plane with a real node (containerd, kubelet, kube-proxy, CoreDNS: test/harness/node.ts), the controller's
// image built from the Dockerfile, the real `pulumi up` of the project (every cluster object and the databases the
// local stack declares, created by the engine) whose Deployment runs that image as a pod, and the sample PgDatabase.
// Then tears it all down, or with --keep leaves it running until Ctrl-C. With --fake-node: a KWOK node instead (no
// root needed) and the controller as a process with the ServiceAccount the program made.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startPostgres, type TestPostgres } from "../test/harness/postgres";
import { startCluster, type TestCluster } from "../test/harness/cluster";
import { startController, NAMESPACE, type ControllerProcess } from "../test/harness/controller";
import { startControllerPod, type ControllerPod } from "../test/harness/controllerPod";
import { clusterStackConfig, createCliStack, REPO, type CliStack, type StackConfig } from "../test/harness/project";

const keep = process.argv.includes("--keep");
const fakeNode = process.argv.includes("--fake-node");
const say = (m: string) => process.stdout.write(`[pg-kopf] ${m}\n`);

/** What the local stack declares: two databases and the app's login role (its password a secret stack output). */
const DATABASES = [
  { name: "app", owner: "app_owner", extensions: ["citext"] },
  { name: "analytics", reclaimPolicy: "delete" },
];
const ROLES: StackConfig = {
  roles: { value: JSON.stringify([{ name: "app_owner", connectionLimit: 20, config: { statement_timeout: "30s" } }]) },
};

interface Running {
  readonly pg: TestPostgres;
  readonly cluster: TestCluster;
  readonly stack: CliStack;
  /** How to see the controller's log. */
  readonly logs: string;
  teardown(): Promise<void>;
}

async function onRealNode(): Promise<Running> {
  say(
    "building the controller's image from the Dockerfile; starting a Kubernetes control plane and a real node (containerd, kubelet, kube-proxy, CoreDNS)",
  );
  say(
    "then PostgreSQL 15, and pulumi up (the project's Pulumi.yaml, stack local): namespace, CRDs, RBAC, Secret, Service, the controller's Deployment, role app_owner, databases app and analytics",
  );
  const pod: ControllerPod = await startControllerPod({ tag: "local", stack: "local", databases: DATABASES, config: ROLES });
  say(`image ${pod.timings.image} s, cluster and node ${pod.timings.cluster} s, pulumi up ${pod.timings.up} s`);
  process.stdout.write(pod.cluster.kubectl(["get", "pods", "-n", NAMESPACE, "-o", "wide"]));
  return {
    pg: pod.pg,
    cluster: pod.cluster,
    stack: pod.stack,
    logs: `KUBECONFIG=${pod.cluster.kubeconfig} kubectl logs -n ${NAMESPACE} deployment/pg-kopf-controller -f`,
    teardown: () => pod.teardown(),
  };
}

async function onFakeNode(): Promise<Running> {
  say("starting PostgreSQL 15 and a Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK node)");
  const [pg, cluster] = await Promise.all([startPostgres(), startCluster({ workloads: true })]);
  let controller: ControllerProcess | undefined;
  let stack: CliStack | undefined;
  const teardown = async () => {
    await controller?.kill("SIGTERM");
    cluster.stop();
    pg.destroy();
    stack?.destroyDir();
  };
  try {
    say(`PostgreSQL on ${pg.host}:${pg.port}; API server on ${cluster.server}`);
    stack = createCliStack("local", pg, clusterStackConfig(pg, DATABASES, ROLES), { KUBECONFIG: cluster.kubeconfig });
    process.stdout.write(stack.run(["up", "--yes", "--skip-preview"]));
    say("starting the controller as a process, with the ServiceAccount pulumi up made");
    const kubeconfig = cluster.serviceAccountKubeconfig(NAMESPACE, "pg-kopf-controller");
    controller = await startController("pg-kopf-controller-local", kubeconfig, pg, { RESYNC_SECONDS: "30" });
    return {
      pg,
      cluster,
      stack,
      logs: `the controller's log is this terminal's; metrics on http://127.0.0.1:${controller.port}/metrics`,
      teardown,
    };
  } catch (err) {
    await teardown();
    throw err;
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const run = fakeNode ? await onFakeNode() : await onRealNode();
  const { pg, cluster, stack } = run;
  try {
    say("kubectl apply -f examples/mynewdb.yaml");
    cluster.kubectl(["apply", "-f", join(REPO, "examples", "mynewdb.yaml")]);
    cluster.kubectl(["wait", "pgdb/mynewdb", "-n", "default", "--for=condition=Ready", "--timeout=60s"]);
    process.stdout.write(cluster.kubectl(["get", "pgdb", "-A"]));
    process.stdout.write(cluster.kubectl(["get", "deployment,service,endpointslice,secret", "-n", NAMESPACE]));
    const dbs = await pg.query<{ datname: string; owner: string; comment: string | null }>(
      "SELECT datname, pg_get_userbyid(datdba) AS owner, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE NOT datistemplate ORDER BY datname",
    );
    say("databases in PostgreSQL:");
    for (const d of dbs) process.stdout.write(`  ${d.datname.padEnd(12)} owner ${d.owner.padEnd(10)} ${d.comment ?? ""}\n`);
    const roles = await pg.query<{ rolname: string; rolcanlogin: boolean; comment: string | null }>(
      "SELECT rolname, rolcanlogin, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = 'app_owner'",
    );
    say("roles in PostgreSQL:");
    for (const r of roles)
      process.stdout.write(`  ${r.rolname.padEnd(12)} ${r.rolcanlogin ? "login" : "nologin"}      ${r.comment ?? ""}\n`);
    say(`up and running in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (!keep) {
      say("done; tearing down (run with -- --keep to leave it running)");
      await run.teardown();
      return;
    }
    const pgpass = join(stack.dir, "pgpass-psql");
    pg.writePasswordFile(pgpass);
    say(`running. KUBECONFIG=${cluster.kubeconfig}  PGPASSFILE=${pgpass} psql -h ${pg.host} -p ${pg.port} -U ${pg.user} postgres`);
    // The stack's environment (its passphrase among it) goes to a private file, not to the terminal.
    const envFile = join(stack.dir, "env.sh");
    const exported = Object.entries(stack.env).filter(([k]) => k.startsWith("PULUMI_") || k === "KUBECONFIG" || k === "PGPASSFILE");
    writeFileSync(envFile, exported.map(([k, v]) => `export ${k}=${JSON.stringify(v)}\n`).join(""), { mode: 0o600 });
    say(`the stack: source ${envFile} && pulumi preview --diff --stack local --config-file ${join(stack.dir, "Pulumi.local.yaml")}`);
    say(`the controller: ${run.logs}`);
    say("Ctrl-C stops everything.");
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
    await run.teardown();
  } catch (err) {
    await run.teardown();
    throw err;
  }
}

main().catch((err) => {
  process.stderr.write(`[pg-kopf] failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
