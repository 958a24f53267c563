// Runs pg-kopf locally, end to end, with nothing but this repository: a throwaway PostgreSQL 15, a Kubernetes
// control plane with a fake node, the real `pulumi up` of the project (every cluster object and the databases the
// local stack declares, created by the engine), the controller as a process with the ServiceAccount the program
// made, and the sample PgDatabase. Then tears it all down, or with --keep leaves it running until Ctrl-C.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startPostgres, type TestPostgres } from "./local/postgres";
import { startCluster, type TestCluster } from "./local/cluster";
import { startController, NAMESPACE, type ControllerProcess } from "./local/controller";
import { clusterStackConfig, createCliStack, REPO, type CliStack } from "./local/project";

const keep = process.argv.includes("--keep");
const say = (m: string) => process.stdout.write(`[pg-kopf] ${m}\n`);

async function main(): Promise<void> {
  let pg: TestPostgres | undefined;
  let cluster: TestCluster | undefined;
  let stack: CliStack | undefined;
  let controller: ControllerProcess | undefined;
  const teardown = async () => {
    await controller?.kill("SIGTERM");
    cluster?.stop();
    pg?.destroy();
    stack?.destroyDir();
  };
  try {
    const started = Date.now();
    say("starting PostgreSQL 15 and a Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK node)");
    [pg, cluster] = await Promise.all([startPostgres(), startCluster({ workloads: true })]);
    say(`PostgreSQL on ${pg.host}:${pg.port}; API server on ${cluster.server}`);
    say(
      "pulumi up (the project's Pulumi.yaml, stack local): namespace, CRD, RBAC, Secret, Service, controller Deployment, role app_owner, databases app and analytics",
    );
    stack = createCliStack(
      "local",
      pg,
      clusterStackConfig(
        pg,
        [
          { name: "app", owner: "app_owner", extensions: ["citext"] },
          { name: "analytics", reclaimPolicy: "delete" },
        ],
        // The app's login role, its password generated and kept as a secret stack output.
        { roles: { value: JSON.stringify([{ name: "app_owner", connectionLimit: 20, config: { statement_timeout: "30s" } }]) } },
      ),
      { KUBECONFIG: cluster.kubeconfig },
    );
    process.stdout.write(stack.run(["up", "--yes", "--skip-preview"]));
    say("starting the controller as a process, with the ServiceAccount pulumi up made");
    const kubeconfig = cluster.serviceAccountKubeconfig(NAMESPACE, "pg-kopf-controller");
    controller = await startController("pg-kopf-controller-local", kubeconfig, pg, { RESYNC_SECONDS: "30" });
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
      await teardown();
      return;
    }
    const pgpass = join(cluster.dir, "pgpass");
    pg.writePasswordFile(pgpass);
    say(`running. KUBECONFIG=${cluster.kubeconfig}  PGPASSFILE=${pgpass} psql -h ${pg.host} -p ${pg.port} -U ${pg.user} postgres`);
    // The stack's environment (its passphrase among it) goes to a private file, not to the terminal.
    const envFile = join(stack.dir, "env.sh");
    const exported = Object.entries(stack.env).filter(([k]) => k.startsWith("PULUMI_") || k === "KUBECONFIG" || k === "PGPASSFILE");
    writeFileSync(envFile, exported.map(([k, v]) => `export ${k}=${JSON.stringify(v)}\n`).join(""), { mode: 0o600 });
    say(`the stack: source ${envFile} && pulumi preview --diff --stack local --config-file ${join(stack.dir, "Pulumi.local.yaml")}`);
    say(`controller namespace ${NAMESPACE}; metrics on http://127.0.0.1:${controller.port}/metrics. Ctrl-C stops everything.`);
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
    await teardown();
  } catch (err) {
    await teardown();
    throw err;
  }
}

main().catch((err) => {
  process.stderr.write(`[pg-kopf] failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
