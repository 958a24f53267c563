// A real Kubernetes node for the local cluster: containerd and runc run the pods, kubelet v1.34 registers the node,
// kube-proxy programs the Services, CoreDNS answers cluster names. Everything runs inside a slot that
// scripts/node.sh holds (a private network and mount namespace, one cgroup per controller, a veth to the machine):
// its files, routes, iptables chains and mounts never reach the machine, and end with the slot however it ends
// (docs/adr/0019-a-node-in-its-own-namespaces.md). The settings below are the ones this kind of machine needs; each
// says why.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { nodeReady, waitFor, writeCertKubeconfig } from "./kube";
import { tie, untie } from "./leash";
import { REPO } from "./project";

const NODE_SH = join(REPO, "scripts", "node.sh");
export const CLUSTER_DNS = "10.96.0.10";
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10";
/** What kubelet's protectKernelDefaults wants of the kernel (pkg/kubelet/cm setupKernelTunables). */
const KUBELET_SYSCTLS: Record<string, number> = {
  "vm/overcommit_memory": 1,
  "vm/panic_on_oom": 0,
  "kernel/panic": 10,
  "kernel/panic_on_oops": 1,
  "kernel/keys/root_maxkeys": 1000000,
  "kernel/keys/root_maxbytes": 25000000,
};

/** A slot scripts/node.sh holds: the node's namespaces and cgroups, and the addresses on both ends of its veth. */
export interface NodeSlot {
  readonly slot: number;
  /** The machine's end of the veth: the API server and Postgres listen here for the node's pods. */
  readonly host: string;
  /** The node's own address (its InternalIP). */
  readonly node: string;
  /** The pod range on the node's bridge. */
  readonly pods: string;
  readonly gateway: string;
  /** Runs a command inside the slot's namespaces (synchronously); returns stdout, throws with stderr. */
  exec(args: string[], input?: string): string;
  /** Starts a long-running process inside the slot, its output in `log`. */
  launch(args: string[], log: string): ChildProcess;
  /** Ends the slot: every process in it, its namespaces, veth and cgroups. */
  release(): Promise<void>;
}

/** Takes a free slot and holds it until release() (or until this process ends, however it ends). */
export async function holdSlot(): Promise<NodeSlot> {
  if (process.getuid?.() !== 0)
    throw new Error(
      "a real node needs root (network and mount namespaces, cgroups, containerd): run as root, or use the KWOK node (npm start -- --fake-node)",
    );
  const holder = spawn("bash", [NODE_SH, "hold"], { stdio: ["pipe", "pipe", "pipe"] });
  // SIGTERM: the holder removes what the slot holds before it exits.
  tie(holder.pid, "SIGTERM");
  let stderr = "";
  holder.stderr!.on("data", (d) => {
    stderr += d;
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: holder.stdout! });
    rl.once("line", resolve);
    holder.once("exit", (code) => reject(new Error(`scripts/node.sh hold ended (${code}): ${stderr}`)));
  });
  const fields = Object.fromEntries(line.split(" ").map((kv) => kv.split("=", 2) as [string, string]));
  const slot = Number(fields.slot);
  const exited = new Promise<void>((resolve) => holder.once("exit", () => resolve()));
  return {
    slot,
    host: fields.host,
    node: fields.node,
    pods: fields.pods,
    gateway: fields.gateway,
    exec(args: string[], input?: string): string {
      const r = spawnSync("bash", [NODE_SH, "exec", String(slot), ...args], { input, encoding: "utf8", maxBuffer: 64 << 20 });
      if (r.status !== 0) throw new Error(`${args.join(" ")} (in the node) failed (${r.status}): ${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    launch(args: string[], log: string): ChildProcess {
      const out = openSync(log, "a");
      // Not tied: the slot's end kills whatever runs in it.
      return spawn("bash", [NODE_SH, "exec", String(slot), ...args], { stdio: ["ignore", out, out] });
    },
    async release(): Promise<void> {
      if (holder.exitCode === null) {
        holder.stdin!.end();
        await exited;
      }
      untie(holder.pid);
    },
  };
}

/** What the node needs from the control plane. */
export interface ControlPlane {
  readonly dir: string;
  readonly server: string;
  readonly caFile: string;
  /** Signs a client certificate for `subject`; returns the paths of its certificate and key. */
  clientCertificate(name: string, subject: string, extraExt?: string): { cert: string; key: string };
  kubectl(args: string[], input?: string): string;
}

export interface RealNode {
  readonly name: string;
  readonly slot: NodeSlot;
  readonly dir: string;
  /** Imports an OCI archive into the node's containerd, where kubelet finds it (imagePullPolicy Never or IfNotPresent). */
  loadImage(archive: string): void;
  /** Lists the images the node's containerd holds. */
  images(): string[];
  /** The last lines of a component's log (containerd, kubelet, kube-proxy, coredns). */
  tail(component: string, lines?: number): string;
  stop(): Promise<void>;
}

function containerdConfig(dir: string): string {
  // TOML by hand: four tables, no library needed for it. Root and state live on the slot's private tmpfs.
  return `version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
# Plugins with nothing to do here, skipped so containerd starts at once.
disabled_plugins = ["io.containerd.internal.v1.tracing", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # Root here may not raise a process's OOM score adjustment below its own: containers get at least containerd's.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${join(dir, "cni")}"
`;
}

function cniConfig(slot: NodeSlot): string {
  // A bridge with the gateway on it and host-local addresses. No masquerade: pods reach the machine (the API
  // server, Postgres) by their own address, routed back through the veth; nothing leaves for other networks.
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: "pg-kopf",
    plugins: [
      {
        type: "bridge",
        bridge: "cni0",
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: "host-local", ranges: [[{ subnet: slot.pods, gateway: slot.gateway }]], routes: [{ dst: "0.0.0.0/0" }] },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  });
}

function kubeletConfig(slot: NodeSlot, plane: ControlPlane, serving: { cert: string; key: string }, resolvConf: string): object {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // No systemd here; the pods' cgroups under the slot's own root, which scripts/node.sh removes with the slot.
    cgroupDriver: "cgroupfs",
    cgroupRoot: `/pgkopf${slot.slot}`,
    // This machine mounts cgroup v1 controllers (with a unified hierarchy beside them).
    failCgroupV1: false,
    // The kernel's sysctls are the machine's, shared with everything else on it: kubelet must not change them.
    protectKernelDefaults: true,
    // Root here lacks CAP_SYS_RESOURCE: kubelet may not lower its own OOM score adjustment.
    oomScoreAdj: 0,
    containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock",
    address: slot.node,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    tlsCertFile: serving.cert,
    tlsPrivateKeyFile: serving.key,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: plane.caFile } },
    authorization: { mode: "Webhook" },
    clusterDNS: [CLUSTER_DNS],
    clusterDomain: "cluster.local",
    resolvConf,
    failSwapOn: false,
    // The node's file systems are tmpfs of the slot: evict only when memory runs out, not for their fill level.
    evictionHard: { "memory.available": "100Mi", "nodefs.available": "0%", "imagefs.available": "0%" },
    imageGCHighThresholdPercent: 100,
    serializeImagePulls: false,
    maxPods: 30,
    staticPodPath: "",
  };
}

function kubeProxyConfig(slot: NodeSlot, name: string, kubeconfigFile: string): object {
  return {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "iptables",
    clientConnection: { kubeconfig: kubeconfigFile },
    hostnameOverride: name,
    clusterCIDR: slot.pods,
    bindAddress: slot.node,
    healthzBindAddress: "127.0.0.1:10256",
    metricsBindAddress: "127.0.0.1:10249",
    // The conntrack table size and timeouts are the machine's (not per network namespace): left as they are.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
    // NodePorts on 127.0.0.1 would need route_localnet; no test uses them.
    iptables: { localhostNodePorts: false },
  };
}

/** The kubeconfig files each component reads, written into the node's folder. */
interface NodeFiles {
  readonly kubelet: string;
  readonly kubeProxy: string;
  readonly coredns: string;
}

/**
 * Writes every component's configuration. Each authenticates as Kubernetes expects it to: the node as
 * system:node:<name> (the Node authorizer and NodeRestriction check what it may touch), kube-proxy as
 * system:kube-proxy (bound by default RBAC), CoreDNS as system:coredns (dnsObjects binds it).
 */
function writeNodeFiles(slot: NodeSlot, plane: ControlPlane, name: string, dir: string): NodeFiles {
  mkdirSync(join(dir, "cni"), { recursive: true });
  writeFileSync(join(dir, "containerd.toml"), containerdConfig(dir));
  writeFileSync(join(dir, "cni", "10-pg-kopf.conflist"), cniConfig(slot));
  // Pods with dnsPolicy Default get this; cluster names go to CoreDNS (ClusterFirst).
  const resolvConf = join(dir, "resolv.conf");
  writeFileSync(resolvConf, `nameserver ${slot.node}\n`);
  const client = (component: string, subject: string) =>
    writeCertKubeconfig(join(dir, `${component}.kubeconfig`), plane.server, plane.caFile, plane.clientCertificate(component, subject));
  const files = {
    kubelet: client("kubelet", `/CN=system:node:${name}/O=system:nodes`),
    kubeProxy: client("kube-proxy", "/CN=system:kube-proxy"),
    coredns: client("coredns", "/CN=system:coredns"),
  };
  const serving = plane.clientCertificate(
    "kubelet-serving",
    `/CN=${name}`,
    `subjectAltName=IP:${slot.node}\nextendedKeyUsage=serverAuth\n`,
  );
  writeFileSync(join(dir, "kubelet.yaml"), JSON.stringify(kubeletConfig(slot, plane, serving, resolvConf)));
  writeFileSync(join(dir, "kube-proxy.yaml"), JSON.stringify(kubeProxyConfig(slot, name, files.kubeProxy)));
  writeFileSync(
    join(dir, "Corefile"),
    `.:53 {\n  bind ${slot.node}\n  errors\n  kubernetes cluster.local in-addr.arpa ip6.arpa {\n    kubeconfig ${files.coredns}\n    pods insecure\n    fallthrough in-addr.arpa ip6.arpa\n  }\n  cache 5\n}\n`,
  );
  return files;
}

/** The sandbox image, made once (scripts/image.sh pause) and loaded before kubelet asks for it. */
function loadPauseImage(dir: string, loadImage: (archive: string) => void): void {
  const pauseArchive = join(dir, "pause.tar");
  for (const args of [["pause"], ["archive", PAUSE_IMAGE, pauseArchive]]) {
    const r = spawnSync("bash", [join(REPO, "scripts", "image.sh"), ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`scripts/image.sh ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  }
  loadImage(pauseArchive);
}

/**
 * kubelet checks that these machine-wide sysctls hold the values it wants and, protecting the kernel's defaults,
 * refuses to start otherwise; changing them would change the whole machine. Inside the slot's mount namespace each
 * is a file holding that value, bound over the /proc/sys entry: kubelet reads it, the machine keeps its own
 * (containers mount their own /proc and see the real ones).
 */
function showKubeletItsSysctls(slot: NodeSlot, dir: string): void {
  for (const [key, value] of Object.entries(KUBELET_SYSCTLS)) {
    const file = join(dir, `sysctl-${key.replaceAll("/", ".")}`);
    writeFileSync(file, `${value}\n`);
    slot.exec(["mount", "--bind", "-o", "ro", file, `/proc/sys/${key}`]);
  }
}

const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

/** Starts the node's components in `slot` against `plane`, and waits until the node is Ready. */
export async function startNode(slot: NodeSlot, plane: ControlPlane): Promise<RealNode> {
  const name = `pg-kopf-node-${slot.slot}`;
  const dir = join(plane.dir, "node");
  const logOf = (component: string) => join(dir, `${component}.log`);
  const tail = (component: string, lines = 20) => {
    try {
      return readFileSync(logOf(component), "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  };
  const allTails = () => ["containerd", "kubelet", "kube-proxy", "coredns"].map((c) => `--- ${c}\n${tail(c)}`).join("\n");
  const files = writeNodeFiles(slot, plane, name, dir);
  // kube-dns is the Service pods resolve through (CoreDNS runs on the node itself: no selector, one EndpointSlice).
  plane.kubectl(["apply", "-f", "-"], JSON.stringify(dnsObjects(slot.node)));

  const containerd = slot.launch(["containerd", "--config", join(dir, "containerd.toml")], logOf("containerd"));
  const answers = () => {
    if (exited(containerd)) throw new Error(`containerd exited\n${tail("containerd")}`);
    return spawnSync("bash", [NODE_SH, "exec", String(slot.slot), "ctr", "--namespace", "k8s.io", "version"]).status === 0;
  };
  await waitFor("containerd", answers, 30_000, allTails);
  const loadImage = (archive: string) => {
    slot.exec(["ctr", "--namespace", "k8s.io", "images", "import", archive]);
  };
  loadPauseImage(dir, loadImage);
  showKubeletItsSysctls(slot, dir);
  const processes = {
    containerd,
    kubelet: slot.launch(
      [
        "kubelet",
        `--config=${join(dir, "kubelet.yaml")}`,
        `--kubeconfig=${files.kubelet}`,
        `--hostname-override=${name}`,
        `--node-ip=${slot.node}`,
        "--v=1",
      ],
      logOf("kubelet"),
    ),
    "kube-proxy": slot.launch(["kube-proxy", `--config=${join(dir, "kube-proxy.yaml")}`, "--v=1"], logOf("kube-proxy")),
    coredns: slot.launch(["coredns", "-conf", join(dir, "Corefile")], logOf("coredns")),
  };
  const runningAndReady = () => {
    for (const [n, c] of Object.entries(processes)) if (exited(c)) throw new Error(`${n} exited\n${tail(n, 40)}`);
    return nodeReady(plane.kubectl, name);
  };
  await waitFor(`node ${name} to be Ready`, runningAndReady, 120_000, allTails);
  const images = () =>
    slot
      .exec(["ctr", "--namespace", "k8s.io", "images", "list", "--quiet"])
      .split("\n")
      .filter((l) => l && !l.startsWith("sha256:"));
  return { name, slot, dir, loadImage, images, tail, stop: () => slot.release() };
}

function dnsObjects(address: string): object {
  return {
    apiVersion: "v1",
    kind: "List",
    items: [
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: "system:coredns" },
        rules: [
          { apiGroups: [""], resources: ["services", "namespaces", "pods"], verbs: ["list", "watch"] },
          { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
        ],
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "system:coredns" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:coredns" },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "system:coredns" }],
      },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "kube-dns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
        spec: {
          clusterIP: CLUSTER_DNS,
          ports: [
            { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
            { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
          ],
        },
      },
      {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { name: "kube-dns-node", namespace: "kube-system", labels: { "kubernetes.io/service-name": "kube-dns" } },
        addressType: "IPv4",
        endpoints: [{ addresses: [address], conditions: { ready: true } }],
        ports: [
          { name: "dns", port: 53, protocol: "UDP" },
          { name: "dns-tcp", port: 53, protocol: "TCP" },
        ],
      },
    ],
  };
}
