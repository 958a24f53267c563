// A throwaway Kubernetes control plane built from the toolchain: etcd, kube-apiserver (RBAC on), and optionally
// kube-controller-manager, kube-scheduler and a KWOK fake node, so Deployments roll out without a container
// runtime. Certificates and an admin kubeconfig are made on the spot; everything stops on stop() or exit.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { tie, untie } from "./leash";
import { mkdtempSync, writeFileSync, rmSync, readFileSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./postgres";
import { makeCa, signLeaf } from "./pki";
import { kubeconfigFor, nodeReady, waitFor } from "./kube";
import { holdSlot, type NodeSlot, type RealNode, startNode } from "./node";

export interface TestCluster {
  readonly dir: string;
  readonly server: string;
  /** kubeconfig of a cluster administrator (system:masters). */
  readonly kubeconfig: string;
  /** Runs kubectl as the administrator; returns stdout, throws with stderr on failure. */
  kubectl(args: string[], input?: string): string;
  /** A kubeconfig that authenticates as a ServiceAccount, with a fresh token. */
  serviceAccountKubeconfig(namespace: string, name: string): string;
  /** The real node, when the cluster was started with one. */
  readonly node?: RealNode;
  /** Stops and restarts kube-apiserver only (same etcd, same port). */
  restartApiServer(): Promise<void>;
  /** Stops the API server (etcd and the rest keep running) until startApiServer. */
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  /** Stops everything; a real node's slot is removed in the background (see shutdown). */
  stop(): void;
  /** Stops everything and waits until a real node's slot is gone. */
  shutdown(): Promise<void>;
}

export interface ClusterOptions {
  /** Also run controller-manager, scheduler and a KWOK fake node, so workloads roll out. */
  readonly workloads?: boolean;
  /**
   * Workloads on a real node (containerd, kubelet, kube-proxy, CoreDNS: test/harness/node.ts) instead of the fake
   * one: pods run. The API server then listens on the node slot's machine address, which pods reach.
   */
  readonly realNode?: boolean;
}

function makePki(dir: string, address: string): void {
  makeCa(dir, "pg-kopf-test-ca");
  signLeaf(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    `subjectAltName=IP:${address},DNS:localhost,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1\nextendedKeyUsage=serverAuth\n`,
  );
  signLeaf(dir, "admin", "/CN=admin/O=system:masters", "extendedKeyUsage=clientAuth\n");
  // How the API server authenticates to a real node's kubelet (logs, exec, port-forward).
  signLeaf(dir, "kubelet-client", "/CN=kube-apiserver-kubelet-client/O=system:masters", "extendedKeyUsage=clientAuth\n");
  execFileSync("openssl", ["genrsa", "-out", "sa.key", "2048"], { cwd: dir, stdio: "pipe" });
  execFileSync("openssl", ["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], { cwd: dir, stdio: "pipe" });
}

/** The control plane's processes by name, each logging to `<dir>/<name>.log` and tied to this process's leash. */
class Processes {
  private readonly children = new Map<string, ChildProcess>();

  constructor(private readonly dir: string) {}

  launch(name: string, cmd: string, args: string[]): ChildProcess {
    const log = openSync(join(this.dir, `${name}.log`), "a");
    const child = spawn(cmd, args, { stdio: ["ignore", log, log] });
    tie(child.pid);
    child.on("error", (err) => writeFileSync(join(this.dir, `${name}.log`), `failed to start: ${err.message}\n`, { flag: "a" }));
    this.children.set(name, child);
    return child;
  }

  kill(name: string): void {
    const c = this.children.get(name);
    if (c && c.exitCode === null) c.kill("SIGKILL");
    untie(c?.pid);
    this.children.delete(name);
  }

  /** Every process, the last started first. */
  killAll(): void {
    for (const name of [...this.children.keys()].reverse()) this.kill(name);
  }

  /** The last lines of every log, for an error message. */
  logs(): string {
    return [...this.children.keys()].map((n) => `--- ${n}\n${tail(join(this.dir, `${n}.log`))}`).join("\n");
  }
}

/** Where the control plane listens. */
interface Ports {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly api: number;
}

function etcdArgs(dir: string, ports: Ports): string[] {
  return [
    "--name=default",
    `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=http://127.0.0.1:${ports.etcdClient}`,
    `--advertise-client-urls=http://127.0.0.1:${ports.etcdClient}`,
    `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
    `--initial-cluster=default=http://127.0.0.1:${ports.etcdPeer}`,
    "--unsafe-no-fsync",
    "--log-level=warn",
  ];
}

function apiServerArgs(dir: string, ports: Ports, address: string, realNode: boolean): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    `--bind-address=${address}`,
    `--advertise-address=${address}`,
    `--secure-port=${ports.api}`,
    `--tls-cert-file=${join(dir, "apiserver.crt")}`,
    `--tls-private-key-file=${join(dir, "apiserver.key")}`,
    `--client-ca-file=${join(dir, "ca.crt")}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${join(dir, "sa.pub")}`,
    `--service-account-signing-key-file=${join(dir, "sa.key")}`,
    "--service-cluster-ip-range=10.96.0.0/16",
    ...(realNode
      ? [
          // A real kubelet: it may touch only its own node and pods, and the API server reaches it (logs, exec)
          // by its InternalIP with a client certificate.
          "--authorization-mode=Node,RBAC",
          "--enable-admission-plugins=NodeRestriction",
          `--kubelet-client-certificate=${join(dir, "kubelet-client.crt")}`,
          `--kubelet-client-key=${join(dir, "kubelet-client.key")}`,
          "--kubelet-preferred-address-types=InternalIP",
        ]
      : ["--authorization-mode=RBAC"]),
    "--allow-privileged=true",
    "--profiling=false",
    "--enable-priority-and-fairness=false",
    `--cert-dir=${dir}`,
  ];
}

/** kube-controller-manager and kube-scheduler, so Deployments roll out. */
function startWorkloadControllers(processes: Processes, dir: string, kubeconfig: string): void {
  const auth = [`--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`];
  const local = ["--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0"];
  processes.launch("kube-controller-manager", "kube-controller-manager", [
    ...auth,
    `--service-account-private-key-file=${join(dir, "sa.key")}`,
    `--root-ca-file=${join(dir, "ca.crt")}`,
    ...local,
    "--controllers=*,-nodeipam",
    // The KWOK node reports its status about once a minute, close to the default grace period (50 s): without
    // slack the node flaps NotReady, its pods lose Ready, and a Deployment's rollout stalls until the next report.
    "--node-monitor-grace-period=10m",
  ]);
  processes.launch("kube-scheduler", "kube-scheduler", [...auth, ...local]);
}

/** The KWOK fake node: pods are "running" on it without a container runtime. */
async function startFakeNode(processes: Processes, kubeconfig: string, kubectl: TestCluster["kubectl"]): Promise<void> {
  // biome-ignore format: kwok's options, read as one line
  processes.launch("kwok", "kwok", [`--kubeconfig=${kubeconfig}`, "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake", "--cidr=10.244.0.1/24", "--node-ip=10.244.0.1", "--server-address="]);
  const node = {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: "kwok-node-0", annotations: { "kwok.x-k8s.io/node": "fake" }, labels: { type: "kwok", "kubernetes.io/os": "linux" } },
  };
  kubectl(["apply", "-f", "-"], JSON.stringify(node));
  await waitFor("the fake node to be Ready", () => nodeReady(kubectl, "kwok-node-0"), 60_000);
}

function apiServerReady(kubectl: TestCluster["kubectl"]): boolean {
  try {
    return kubectl(["get", "--raw", "/readyz"]).trim() === "ok";
  } catch {
    return false;
  }
}

function kubectlFor(kubeconfig: string): TestCluster["kubectl"] {
  return (args: string[], input?: string) =>
    execFileSync("kubectl", ["--kubeconfig", kubeconfig, ...args], {
      input,
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
}

/** The real node, its certificates signed by the cluster's CA in `dir`. */
function realNodeOf(slot: NodeSlot, dir: string, server: string, kubectl: TestCluster["kubectl"]): Promise<RealNode> {
  return startNode(slot, {
    dir,
    server,
    caFile: join(dir, "ca.crt"),
    clientCertificate(name: string, subject: string, extraExt = "extendedKeyUsage=clientAuth\n") {
      signLeaf(dir, name, subject, extraExt);
      return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    },
    kubectl,
  });
}

/** Starts the control plane. Needs the toolchain's etcd, kube-* and kwok on PATH, and kubectl. */
export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), "pg-kopf-cluster-"));
  const slot = options.realNode ? await holdSlot() : undefined;
  const address = slot?.host ?? "127.0.0.1";
  makePki(dir, address);
  const ports: Ports = { etcdClient: await freePort(), etcdPeer: await freePort(), api: await freePort() };
  const server = `https://${address}:${ports.api}`;
  const kubeconfig = join(dir, "admin.kubeconfig");
  const admin = { "client-certificate": join(dir, "admin.crt"), "client-key": join(dir, "admin.key") };
  writeFileSync(kubeconfig, kubeconfigFor(server, join(dir, "ca.crt"), admin));
  const processes = new Processes(dir);
  let stopped = false;
  let released: Promise<void> = Promise.resolve();
  const stop = () => {
    if (stopped) return;
    stopped = true;
    // The node first (its kubelet would otherwise report to an API server that is gone), then the control plane.
    released = slot?.release() ?? released;
    processes.killAll();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", stop);
  const kubectl = kubectlFor(kubeconfig);
  const ready = () => apiServerReady(kubectl);
  const startApiServer = async () => {
    processes.launch("kube-apiserver", "kube-apiserver", apiServerArgs(dir, ports, address, slot !== undefined));
    await waitFor("kube-apiserver /readyz", ready, 90_000);
  };
  let node: RealNode | undefined;
  try {
    processes.launch("etcd", "etcd", etcdArgs(dir, ports));
    await startApiServer();
    if (options.workloads || slot) startWorkloadControllers(processes, dir, kubeconfig);
    if (slot) node = await realNodeOf(slot, dir, server, kubectl);
    else if (options.workloads) await startFakeNode(processes, kubeconfig, kubectl);
  } catch (err) {
    const logs = processes.logs();
    stop();
    await released;
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  const stopApiServer = async () => {
    processes.kill("kube-apiserver");
    await waitFor("kube-apiserver to stop", () => !ready(), 10_000);
  };
  return {
    dir,
    server,
    kubeconfig,
    kubectl,
    node,
    stop,
    async shutdown(): Promise<void> {
      stop();
      await released;
    },
    serviceAccountKubeconfig(namespace: string, name: string): string {
      const token = kubectl(["create", "token", name, "-n", namespace, "--duration=2h"]).trim();
      const file = join(dir, `sa-${namespace}-${name}.kubeconfig`);
      writeFileSync(file, kubeconfigFor(server, join(dir, "ca.crt"), { token }), { mode: 0o600 });
      return file;
    },
    async restartApiServer(): Promise<void> {
      await stopApiServer();
      await startApiServer();
    },
    stopApiServer,
    startApiServer,
  };
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-15).join("\n");
  } catch {
    return "(no log)";
  }
}
