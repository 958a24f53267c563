// The controller as the Deployment's pod on a real node (`npm run bench:pod`): the image's size, the pod's memory
// (its container's cgroup, as kubelet reports it: the working set) idle and after 1,000 objects, the time from the
// pod's creation to Ready beside a pod of the pause image on the same node (the floor: what kubelet and containerd
// take anyway), and an object's time to Ready from the pod beside the planner's statements run by psql (the floor).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { KubeClient } from "../controller/kube/client";
import { fromKubeconfig } from "../controller/kube/config";
import { NAMESPACE } from "../test/harness/controller";
import { IMAGE, startControllerPod } from "../test/harness/controllerPod";
import { PAUSE_IMAGE } from "../test/harness/node";
import { REPO } from "../test/harness/project";
import { psqlFloor } from "./measure";
import { createAll, objects, percentile, removeAll } from "./objects";

const TAG = "bench";
const LARGE = Number(process.env.BENCH_POD_OBJECTS ?? 1000);
const SINGLES = 20;
const say = (m: string) => process.stdout.write(`${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

async function main(): Promise<void> {
  const env = await startControllerPod({ tag: TAG, stack: "bench" });
  const { cluster, pg } = env;
  const kubectl = (...args: string[]) => cluster.kubectl(args);
  const node = cluster.node!;
  try {
    const imageBytes = execFileSync("bash", [join(REPO, "scripts", "image.sh"), "files", `${IMAGE}:${TAG}`], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
    })
      .trim()
      .split("\n")
      .reduce((n, line) => n + Number(line.split(" ")[0]), 0);
    say(
      `image ${IMAGE}:${TAG}: ${mib(imageBytes)} MiB of files (image ${env.timings.image} s, cluster and node ${env.timings.cluster} s, pulumi up ${env.timings.up} s)`,
    );

    const pod = () =>
      JSON.parse(kubectl("get", "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=pg-kopf-controller", "-o", "json")).items.find(
        (p: { metadata: { deletionTimestamp?: string } }) => !p.metadata.deletionTimestamp,
      );
    /** The controller container's working set, from kubelet's summary (what `kubectl top` shows). */
    const workingSet = () => {
      const summary = JSON.parse(kubectl("get", "--raw", `/api/v1/nodes/${node.name}/proxy/stats/summary`));
      const name = pod().metadata.name;
      const p = summary.pods.find((x: { podRef: { name: string } }) => x.podRef.name === name);
      return p?.containers?.find((c: { name: string }) => c.name === "controller")?.memory?.workingSetBytes as number | undefined;
    };
    // kubelet's summary is refreshed every few seconds.
    const settledWorkingSet = async () => {
      await sleep(12_000);
      return workingSet() ?? 0;
    };
    const idle = await settledWorkingSet();
    say(`pod memory idle: ${mib(idle)} MiB working set (limit 256 MiB: ${((idle / (256 << 20)) * 100).toFixed(0)}%)`);

    // Start to Ready: a pause pod first (the floor), then the controller's pod after a rollout restart.
    const readyAfter = async (name: string, namespace: string, since: number) => {
      for (;;) {
        const p = JSON.parse(kubectl("get", "pod", name, "-n", namespace, "-o", "json"));
        if (p.status?.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True"))
          return (Date.now() - since) / 1000;
        await sleep(50);
      }
    };
    let started = Date.now();
    kubectl("run", "floor", "-n", "default", `--image=${PAUSE_IMAGE}`, "--image-pull-policy=Never", "--restart=Never");
    const floorStart = await readyAfter("floor", "default", started);
    kubectl("delete", "pod", "floor", "-n", "default", "--wait=false");
    const old = pod().metadata.name;
    started = Date.now();
    kubectl("rollout", "restart", "deployment/pg-kopf-controller", "-n", NAMESPACE);
    let fresh: string | undefined;
    while (!fresh) {
      const names = JSON.parse(kubectl("get", "pods", "-n", NAMESPACE, "-o", "json")).items.map(
        (p: { metadata: { name: string } }) => p.metadata.name,
      );
      fresh = names.find((n: string) => n !== old);
      if (!fresh) await sleep(50);
    }
    const podStart = await readyAfter(fresh, NAMESPACE, started);
    say(
      `pod start to Ready: ${podStart.toFixed(1)} s from the rollout restart (a pause pod: ${floorStart.toFixed(1)} s; ratio ${(podStart / floorStart).toFixed(1)}x)`,
    );
    kubectl("rollout", "status", "deployment/pg-kopf-controller", "-n", NAMESPACE, "--timeout=120s");
    // The new pod leads once the old one has let the Lease go.
    while (JSON.parse(kubectl("get", "lease", "pg-kopf-controller", "-n", NAMESPACE, "-o", "json")).spec.holderIdentity !== fresh)
      await sleep(100);

    // One object at a time, from creation to Ready.
    const kube = new KubeClient(fromKubeconfig(cluster.kubeconfig));
    const singles = objects("single", SINGLES);
    const latencies: number[] = [];
    for (const o of singles) {
      const t = Date.now();
      await createAll(kube, "default", [o], 1);
      // Polled every 10 ms through the API (a kubectl process per check would cost more than the wait).
      for (;;) {
        const obj = await kube.get<{ status?: { conditions?: { type: string; status: string }[] } }>(
          `/apis/my.local/v1/namespaces/default/pgdatabases/${o.name}`,
        );
        if (obj.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) break;
        await sleep(10);
      }
      latencies.push((Date.now() - t) / 1000);
    }
    latencies.sort((a, b) => a - b);
    await removeAll(cluster, kube, pg, "default", singles);
    const floor =
      (await psqlFloor(
        pg,
        objects("floor", SINGLES).map((o) => o.database),
      )) / SINGLES;
    const p50 = percentile(latencies, 50);
    say(
      `object Ready from the pod: p50 ${(p50 * 1000).toFixed(0)} ms, p99 ${(percentile(latencies, 99) * 1000).toFixed(0)} ms over ${SINGLES}, one at a time; psql per database ${(floor * 1000).toFixed(0)} ms; ratio ${(p50 / floor).toFixed(1)}x`,
    );

    // Many at once: memory after they are all Ready.
    const many = objects("many", LARGE);
    const t = Date.now();
    await createAll(kube, "default", many);
    for (;;) {
      const list = await kube.get<{ items: { status?: { conditions?: { type: string; status: string }[] } }[] }>(
        "/apis/my.local/v1/namespaces/default/pgdatabases",
      );
      if (list.items.filter((o) => o.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length >= LARGE) break;
      await sleep(500);
    }
    const allReady = (Date.now() - t) / 1000;
    const loaded = await settledWorkingSet();
    say(
      `${LARGE} objects Ready in ${allReady.toFixed(1)} s; pod memory then: ${mib(loaded)} MiB working set (${mib(loaded - idle)} MiB over idle)`,
    );
  } finally {
    await env.teardown();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exitCode = 1;
});
