// Runs pg-kopf locally, end to end, with nothing but this repository: a throwaway PostgreSQL 15, a Kubernetes
// control plane with a fake node, `pulumi up` of the local stack (the databases it declares), the controller as a
// process with its least-privilege ServiceAccount, and the sample PgDatabase. Then tears it all down, or with
// --keep leaves it running until Ctrl-C.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startPostgres, type TestPostgres } from "./local/postgres";
import { startCluster, type TestCluster } from "./local/cluster";
import { installController, startController, NAMESPACE, type ControllerProcess } from "./local/controller";
import { createTestStack, localStackConfig, REPO, type TestStack } from "./local/pulumi";

const keep = process.argv.includes("--keep");
const say = (m: string) => process.stdout.write(`[pg-kopf] ${m}\n`);

async function main(): Promise<void> {
  let pg: TestPostgres | undefined;
  let cluster: TestCluster | undefined;
  let stack: TestStack | undefined;
  let controller: ControllerProcess | undefined;
  const teardown = async () => {
    await controller?.kill("SIGTERM");
    cluster?.stop();
    pg?.destroy();
    stack?.destroyDir();
  };
  try {
    say("starting PostgreSQL 15");
    pg = await startPostgres();
    await pg.query("CREATE ROLE app_owner");
    say(`PostgreSQL on ${pg.host}:${pg.port}`);

    say("starting a Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK node)");
    cluster = await startCluster({ workloads: true });

    say("pulumi up: the local stack declares the databases app and analytics");
    stack = await createTestStack(
      "local",
      localStackConfig(pg, [{ name: "app", owner: "app_owner", extensions: ["citext"] }, { name: "analytics", reclaimPolicy: "delete" }]),
    );
    const up = await stack.stack.up({ onOutput: (o) => process.stdout.write(o) });
    say(`pulumi up: ${JSON.stringify(up.summary.resourceChanges)}`);

    say("starting the controller with its ServiceAccount");
    const kubeconfig = installController(cluster, pg);
    controller = await startController("pg-kopf-controller-local", kubeconfig, pg, { RESYNC_SECONDS: "30" });

    say("kubectl apply -f examples/mynewdb.yaml");
    cluster.kubectl(["apply", "-f", join(REPO, "examples", "mynewdb.yaml")]);
    cluster.kubectl(["wait", "pgdb/mynewdb", "-n", "default", "--for=condition=Ready", "--timeout=60s"]);
    process.stdout.write(cluster.kubectl(["get", "pgdb", "-A"]));

    const dbs = await pg.query<{ datname: string; owner: string; comment: string | null }>(
      "SELECT datname, pg_get_userbyid(datdba) AS owner, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE NOT datistemplate ORDER BY datname",
    );
    say("databases in PostgreSQL:");
    for (const d of dbs) process.stdout.write(`  ${d.datname.padEnd(12)} owner ${d.owner.padEnd(10)} ${d.comment ?? ""}\n`);

    if (!keep) {
      say("done; tearing down (run with -- --keep to leave it running)");
      await teardown();
      return;
    }
    const pgpass = join(cluster.dir, "pgpass");
    writeFileSync(pgpass, `${pg.host}:${pg.port}:*:${pg.user}:${pg.password}\n`, { mode: 0o600 });
    say(`running. KUBECONFIG=${cluster.kubeconfig}  PGPASSFILE=${pgpass} psql -h ${pg.host} -p ${pg.port} -U ${pg.user} postgres`);
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
