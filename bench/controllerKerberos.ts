// The controller on a Kerberos server beside a password one: 100 PgDatabases at once on each, in alternated rounds,
// one controller process: its own server (a Postgres 15 by SCRAM) and a PgServer with its own keytab Secret and
// krb5.conf ConfigMap (a Postgres 15 whose pg_hba.conf asks for gss, a throwaway MIT KDC). Prints seconds to all
// Ready, p50 and p99, and the Kerberos/password ratio of each round.
// Usage: npm run bench:controller-kerberos   (BENCH_BURST objects per burst, default 100; BENCH_ROUNDS, default 3)
import { existsSync } from "node:fs";
import { KubeClient } from "../controller/kube/client";
import { fromKubeconfig } from "../controller/kube/config";
import { startCluster } from "../test/harness/cluster";
import { installController, NAMESPACE, startController } from "../test/harness/controller";
import { startRealm } from "../test/harness/kerberos";
import { MANAGED_ADMIN, startPostgres, type TestPostgres } from "../test/harness/postgres";
import { assertReady, type BenchObject, createAll, objects, percentile, ReadyLog, removeAll } from "./objects";

const BURST = Number(process.env.BENCH_BURST ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const NS = "bench";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  // As bench:controller: CREATE DATABASE on tmpfs, so its cost is small and alike for both servers.
  if (!process.env.TMPDIR && existsSync("/dev/shm")) process.env.TMPDIR = "/dev/shm";
  const realm = await startRealm();
  const password = await startPostgres();
  const kerberos = await startPostgres({ gss: { realm } });
  const cluster = await startCluster({ workloads: true });
  const kube = new KubeClient(fromKubeconfig(cluster.kubeconfig));
  try {
    const kubeconfig = installController(cluster, password);
    cluster.kubectl(["create", "namespace", NS]);
    const apply = (obj: object) => cluster.kubectl(["apply", "-f", "-"], JSON.stringify(obj));
    const keytab = realm.addPrincipal(MANAGED_ADMIN);
    cluster.kubectl(["create", "secret", "generic", "krb-keytab", "-n", NAMESPACE, `--from-file=krb5.keytab=${keytab}`]);
    cluster.kubectl(["create", "configmap", "krb-krb5", "-n", NAMESPACE, `--from-file=krb5.conf=${realm.krb5Conf}`]);
    apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "bench-krb", namespace: NAMESPACE },
      rules: [
        { apiGroups: [""], resources: ["secrets"], resourceNames: ["krb-keytab"], verbs: ["get"] },
        { apiGroups: [""], resources: ["configmaps"], resourceNames: ["krb-krb5"], verbs: ["get"] },
      ],
    });
    apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "bench-krb", namespace: NAMESPACE },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "bench-krb" },
      subjects: [{ kind: "ServiceAccount", name: "pg-kopf-controller", namespace: NAMESPACE }],
    });
    apply({
      apiVersion: "my.local/v1",
      kind: "PgServer",
      metadata: { name: "krb" },
      spec: {
        host: "localhost",
        port: kerberos.port,
        sslMode: "disable",
        kerberos: { user: MANAGED_ADMIN, keytab: { secretName: "krb-keytab" }, krb5Conf: { configMapName: "krb-krb5" } },
        allowedNamespaces: {},
      },
    });
    const controller = await startController("bench-kerberos", kubeconfig, password, { WATCH_NAMESPACE: NS, LOG_LEVEL: "info" });
    while ((await controller.metric("pgkopf_leader")) !== 1) await sleep(100);
    while (cluster.kubectl(["get", "pgserver", "krb", "-o", "jsonpath={.status.conditions[0].reason}"]) !== "Reachable") await sleep(200);

    // The harness's own queries go as the bootstrap superuser (by SCRAM on both servers).
    const superQuery = (pg: TestPostgres) => ({ query: <T>(sql: string) => pg.superQuery<T>(sql) });
    const contestants: { label: string; server?: string; pg: TestPostgres }[] = [
      { label: "password (SCRAM)", pg: password },
      { label: "Kerberos (GSSAPI)", server: "krb", pg: kerberos },
    ];
    console.log(`${BURST} PgDatabases at once on each server, ${ROUNDS} rounds alternated; seconds to all Ready (p50 / p99)`);
    const totals: Record<string, number[]> = { "password (SCRAM)": [], "Kerberos (GSSAPI)": [] };
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? contestants : [...contestants].reverse();
      const line: string[] = [];
      for (const c of order) {
        const prefix = `r${round}-${c.server ?? "pw"}`;
        const list: BenchObject[] = objects(prefix, BURST).map((o) => ({ ...o, ...(c.server ? { server: c.server } : {}) }));
        const log = new ReadyLog(controller.output, NS);
        const started = Date.now();
        await createAll(kube, NS, list);
        await log.until(list.map((o) => o.name));
        const seconds = (Date.now() - started) / 1000;
        await assertReady(
          kube,
          NS,
          list.map((o) => o.name),
        );
        const latencies = [...log.readyAt.values()].map((t) => (t - started) / 1000).sort((a, b) => a - b);
        totals[c.label].push(seconds);
        line.push(`${c.label} ${seconds.toFixed(2)} s (${percentile(latencies, 50).toFixed(2)} / ${percentile(latencies, 99).toFixed(2)})`);
        await removeAll(cluster, kube, superQuery(c.pg), NS, list);
      }
      const ratio = totals["Kerberos (GSSAPI)"][round - 1] / totals["password (SCRAM)"][round - 1];
      console.log(`round ${round}: ${line.join(", ")}; Kerberos/password x${ratio.toFixed(2)}`);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const [pw, krb] = [median(totals["password (SCRAM)"]), median(totals["Kerberos (GSSAPI)"])];
    console.log(`median: password ${pw.toFixed(2)} s, Kerberos ${krb.toFixed(2)} s, Kerberos/password x${(krb / pw).toFixed(2)}`);
    await controller.kill();
  } finally {
    kube.close();
    cluster.stop();
    password.destroy();
    kerberos.destroy();
    realm.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
