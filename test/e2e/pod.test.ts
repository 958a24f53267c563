// The controller as a cluster runs it: the image built from the Dockerfile, run by a real kubelet (containerd, runc)
// as the pod of the Deployment `pulumi up` makes, reaching a TLS-only Postgres through the program's Service and
// EndpointSlice with verify-full and the CA from the mounted Secret (test/harness/controllerPod.ts, node.ts).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { NAMESPACE } from "../harness/controller";
import { type ControllerPod, IMAGE, POSTGRES_SERVICE_HOST, startControllerPod } from "../harness/controllerPod";
import { REPO } from "../harness/project";

const TAG = "pod-e2e";
const DEPLOYMENT = "pg-kopf-controller";
let env: ControllerPod;

interface Pod {
  metadata: { name: string; deletionTimestamp?: string; labels: Record<string, string> };
  spec: { nodeName: string; containers: { image: string }[] };
  status: {
    podIP?: string;
    phase: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { ready: boolean; restartCount: number; image: string }[];
  };
}

const kubectl = (...args: string[]) => env.cluster.kubectl(args);
const json = <T>(...args: string[]) => JSON.parse(kubectl(...args, "-o", "json")) as T;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/** The controller's pods that are not going away. */
const livePods = () =>
  json<{ items: Pod[] }>("get", "pods", "-n", NAMESPACE, "-l", `app.kubernetes.io/name=${DEPLOYMENT}`).items.filter(
    (p) => !p.metadata.deletionTimestamp,
  );
const ready = (p: Pod) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
const leaseHolder = () => json<{ spec: { holderIdentity?: string } }>("get", "lease", DEPLOYMENT, "-n", NAMESPACE).spec.holderIdentity;

/** Runs a script with the image's node inside the running controller container (the image has no shell). */
const inPod = (pod: string, script: string) =>
  kubectl("exec", "-n", NAMESPACE, pod, "-c", "controller", "--", "/nodejs/bin/node", "-e", script);

function pgDatabase(name: string): string {
  return JSON.stringify({ apiVersion: "my.local/v1", kind: "PgDatabase", metadata: { name, namespace: "default" }, spec: { name } });
}

async function readyDatabase(name: string): Promise<void> {
  env.cluster.kubectl(["apply", "-f", "-"], pgDatabase(name));
  kubectl("wait", `pgdb/${name}`, "-n", "default", "--for=condition=Ready", "--timeout=60s");
  const rows = await env.pg.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
  assert.equal(rows.length, 1, `database ${name} exists in Postgres`);
}

before(async () => {
  env = await startControllerPod({
    tag: TAG,
    stack: "pod",
    tls: true,
    // A bad rollout fails the up in seconds here (the default is five minutes).
    config: { rolloutDeadlineSeconds: { value: "15" } },
  });
});

after(async () => {
  await env?.teardown();
});

describe("the controller's image on a real node", () => {
  test("1. the Deployment is Available: its pod runs the built image on the node, Ready by its probes", () => {
    const deployment = json<{ status: { availableReplicas?: number; conditions: { type: string; status: string }[] } }>(
      "get",
      "deployment",
      DEPLOYMENT,
      "-n",
      NAMESPACE,
    );
    assert.equal(deployment.status.availableReplicas, 1);
    assert.ok(deployment.status.conditions.some((c) => c.type === "Available" && c.status === "True"));
    const [pod] = livePods();
    assert.equal(pod.spec.nodeName, env.cluster.node!.name);
    assert.equal(pod.spec.containers[0].image, `${IMAGE}:${TAG}`);
    const images = env.cluster.node!.images();
    assert.ok(images.includes(`docker.io/library/${IMAGE}:${TAG}`), `the node's images: ${images.join(", ")}`);
    assert.ok(ready(pod), "Ready: the readiness probe passes");
    assert.equal(pod.status.containerStatuses![0].restartCount, 0, "the liveness probe never failed");
    assert.ok(
      pod.status.podIP?.startsWith(env.cluster.node!.slot.pods.replace(/0\/24$/, "")),
      `pod IP ${pod.status.podIP} on the node's bridge`,
    );
    // The probes' endpoints, asked through the API server's proxy to the pod.
    assert.equal(kubectl("get", "--raw", `/api/v1/namespaces/${NAMESPACE}/pods/${pod.metadata.name}:8080/proxy/readyz`).trim(), "ok");
  });

  test("2. the container runs as declared: user 65532, no capabilities, no new privileges, seccomp, read-only root", () => {
    const [pod] = livePods();
    const facts = JSON.parse(
      inPod(
        pod.metadata.name,
        `const fs = require("fs");
         const status = Object.fromEntries(fs.readFileSync("/proc/self/status", "utf8").trim().split("\\n").map((l) => l.split(/:\\s+/)));
         const writable = (p) => { try { fs.writeFileSync(p, "x"); fs.unlinkSync(p); return "yes"; } catch (e) { return e.code; } };
         console.log(JSON.stringify({ uid: status.Uid, gid: status.Gid, capEff: status.CapEff, capBnd: status.CapBnd,
           noNewPrivs: status.NoNewPrivs, seccomp: status.Seccomp, app: writable("/app/probe"), root: writable("/probe"),
           tmp: writable("/tmp/probe") }));`,
      ),
    );
    assert.deepEqual(facts, {
      uid: "65532\t65532\t65532\t65532",
      gid: "65532\t65532\t65532\t65532",
      capEff: "0000000000000000",
      capBnd: "0000000000000000",
      noNewPrivs: "1",
      // 2: a seccomp filter (RuntimeDefault) is in force.
      seccomp: "2",
      app: "EROFS",
      root: "EROFS",
      tmp: "yes",
    });
  });

  test("3. it reaches Postgres by the Service's name through the EndpointSlice, with verify-full and the mounted CA", async () => {
    const [pod] = livePods();
    const logs = kubectl("logs", "-n", NAMESPACE, pod.metadata.name);
    const started = logs.split("\n").find((l) => l.includes('"msg":"started"'));
    assert.ok(started, logs);
    assert.match(started, new RegExp(`"postgres":"${POSTGRES_SERVICE_HOST.replaceAll(".", "\\.")}:${env.pg.port}"`));
    assert.match(started, /"sslmode":"verify-full"/);
    await readyDatabase("from-the-pod");
    // Its connections come from the pod's address, over TLS.
    const rows = await env.pg.query<{ ssl: boolean; client: string }>(
      "SELECT s.ssl, host(a.client_addr) AS client FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.client_addr = $1::inet",
      [pod.status.podIP],
    );
    assert.ok(rows.length >= 1, "the controller holds a connection");
    assert.ok(
      rows.every((r) => r.ssl),
      JSON.stringify(rows),
    );
  });

  test("4. the examples become Ready, and their databases and roles exist in Postgres", async () => {
    for (const file of ["mynewdb.yaml", join("roles", "shop.yaml")]) kubectl("apply", "-f", join(REPO, "examples", file));
    for (const name of ["mynewdb", "shop"]) kubectl("wait", `pgdb/${name}`, "-n", "default", "--for=condition=Ready", "--timeout=90s");
    for (const name of ["shop-app", "shop-reporting"])
      kubectl("wait", `pgrole/${name}`, "-n", "default", "--for=condition=Ready", "--timeout=90s");
    const dbs = await env.pg.query<{ datname: string; stamp: string | null }>(
      "SELECT datname, shobj_description(oid, 'pg_database') AS stamp FROM pg_database WHERE datname IN ('mynewdb', 'shop') ORDER BY 1",
    );
    assert.deepEqual(
      dbs.map((d) => d.datname),
      ["mynewdb", "shop"],
    );
    for (const d of dbs) assert.match(d.stamp ?? "", /default\/(mynewdb|shop)/, "stamped with the object that owns it");
    const roles = await env.pg.query("SELECT rolname FROM pg_roles WHERE rolname IN ('shop_app', 'shop_reporting')");
    assert.equal(roles.length, 2);
    // The PgRole's credentials Secret, written by the pod.
    const secret = json<{ data: Record<string, string> }>("get", "secret", "shop-app-credentials", "-n", "default");
    assert.ok(secret.data.password, "a password in the credentials Secret");
  });

  test("5. kubectl rollout restart hands the Lease over to the new pod, which then serves", async () => {
    const [old] = livePods();
    assert.equal(leaseHolder(), old.metadata.name);
    const restarted = Date.now();
    kubectl("rollout", "restart", `deployment/${DEPLOYMENT}`, "-n", NAMESPACE);
    kubectl("rollout", "status", `deployment/${DEPLOYMENT}`, "-n", NAMESPACE, "--timeout=120s");
    const holder = await eventually("the new pod to hold the Lease", () => {
      const h = leaseHolder();
      return h && h !== old.metadata.name ? h : undefined;
    });
    const handover = (Date.now() - restarted) / 1000;
    const [now] = livePods();
    assert.equal(holder, now.metadata.name);
    assert.notEqual(now.metadata.name, old.metadata.name);
    await readyDatabase("after-rollout");
    process.stdout.write(`# rollout restart to the new pod's Lease: ${handover.toFixed(1)} s\n`);
  });

  test("6. the pod rides out an API server restart, without a restart of its own", async () => {
    const [pod] = livePods();
    await env.cluster.restartApiServer();
    await readyDatabase("after-apiserver-restart");
    const [same] = livePods();
    assert.equal(same.metadata.name, pod.metadata.name);
    assert.equal(same.status.containerStatuses![0].restartCount, 0);
  });

  test("7. a wrong image tag fails pulumi up with the rollout's reason; the running pod serves on; the right tag recovers", async () => {
    const [serving] = livePods();
    env.stack.setConfig("imageTag", "no-such-tag");
    const failed = env.stack.tryRun(["up", "--yes", "--skip-preview"]);
    assert.notEqual(failed.status, 0, failed.output);
    assert.match(failed.output, /ProgressDeadlineExceeded/);
    assert.match(failed.output, /ErrImageNeverPull|not present with pull policy of Never/);
    assert.match(failed.output, /no-such-tag/);
    // maxUnavailable 0: the old pod stays, keeps the Lease and keeps reconciling.
    assert.equal(leaseHolder(), serving.metadata.name);
    await readyDatabase("during-bad-rollout");
    env.stack.setConfig("imageTag", TAG);
    env.stack.run(["up", "--yes", "--skip-preview"]);
    const pods = await eventually("one Ready pod of the right image", () => {
      const live = livePods();
      return live.length === 1 && ready(live[0]) && live[0].spec.containers[0].image === `${IMAGE}:${TAG}` ? live : undefined;
    });
    assert.equal(pods.length, 1);
    await readyDatabase("after-fix");
  });
});
