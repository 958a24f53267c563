// The real node leaves the machine as it found it (docs/adr/0019): after a normal stop and after its harness is killed
// hard, the machine's links, routes, iptables rules, mounts, cgroups, sysctls, hard-coded paths and processes are what
// they were before. While the node runs, the same snapshot differs (so the comparison can fail).
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { startCluster, type TestCluster } from "../harness/cluster";
import { PAUSE_IMAGE } from "../harness/node";
import { REPO } from "../harness/project";

const SYSCTLS = [
  "net.ipv4.ip_forward",
  "net.ipv4.conf.all.route_localnet",
  "net.netfilter.nf_conntrack_max",
  "net.netfilter.nf_conntrack_tcp_timeout_established",
  "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
  "vm.overcommit_memory",
  "vm.panic_on_oom",
  "kernel.panic",
  "kernel.panic_on_oops",
  "kernel.keys.root_maxkeys",
  "kernel.keys.root_maxbytes",
];
const PATHS = [
  "/run/containerd",
  "/run/netns",
  "/var/lib/containerd",
  "/var/lib/kubelet",
  "/var/lib/cni",
  "/var/log/pods",
  "/var/log/containers",
];
const PROCESSES = ["containerd", "containerd-shim", "kubelet", "kube-proxy", "coredns", "pause"];

const sh = (cmd: string) => execFileSync("bash", ["-c", cmd], { encoding: "utf8" });
const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "");

/** What a node could leave on the machine. */
function snapshot() {
  return {
    links: lines(sh("ip -o link show | awk -F': ' '{print $2}'")),
    routes: lines(sh("ip route show table all; ip rule show")),
    // Rules only: counters and the generator's comments change by themselves.
    iptables: lines(sh("iptables-save 2>/dev/null | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'")),
    mounts: lines(readFileSync("/proc/self/mountinfo", "utf8")).map((l) => l.split(" ").slice(3, 5).join(" ")),
    cgroups: lines(sh("find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d \\( -name 'pgkopf*' -o -name 'kubepods*' \\) | sort")),
    sysctls: Object.fromEntries(SYSCTLS.map((k) => [k, sh(`sysctl -n ${k} 2>/dev/null || echo absent`).trim()])),
    paths: PATHS.filter((p) => existsSync(p)),
    slots: lines(sh(`bash ${join(REPO, "scripts", "node.sh")} slots`)),
    // Zombies aside: a killed shim and its pods wait there for the machine's init to reap them (they hold nothing).
    processes: lines(sh(`ps -eo stat=,comm= | awk '$1 !~ /^Z/ {print $2}' | grep -E '^(${PROCESSES.join("|")})' || true`)),
  };
}

/** A pod and a Service, so kube-proxy writes its chains and the CNI plugin its bridge and addresses. */
function runPod(cluster: TestCluster): void {
  cluster.kubectl(
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "sleeper", namespace: "default", labels: { app: "sleeper" } },
          spec: { containers: [{ name: "pause", image: PAUSE_IMAGE, imagePullPolicy: "Never" }] },
        },
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "sleeper", namespace: "default" },
          spec: { selector: { app: "sleeper" }, ports: [{ port: 80 }] },
        },
      ],
    }),
  );
  cluster.kubectl(["wait", "pod/sleeper", "-n", "default", "--for=condition=Ready", "--timeout=60s"]);
}

async function eventually(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("the real node leaves nothing behind", () => {
  test("1. after a normal stop: the machine as before; while it ran, it was not", async () => {
    const before = snapshot();
    const cluster = await startCluster({ realNode: true });
    try {
      runPod(cluster);
      const during = snapshot();
      assert.ok(
        during.links.some((l) => l.startsWith(`pgkopf${cluster.node!.slot.slot}`)),
        "the slot's veth is on the machine while it runs",
      );
      assert.notDeepEqual(during, before);
      assert.equal(
        cluster.kubectl(["get", "pod", "sleeper", "-n", "default", "-o", "jsonpath={.status.phase}"]),
        "Running",
        "a container ran on the node",
      );
      // The machine's sysctls stayed the machine's while kubelet ran.
      assert.deepEqual(during.sysctls, before.sysctls);
    } finally {
      await cluster.shutdown();
    }
    assert.deepEqual(snapshot(), before);
  });

  test("2. after its harness is killed hard (SIGKILL): the machine as before", async () => {
    const before = snapshot();
    const script = `
      const { startCluster } = require(${JSON.stringify(join(REPO, "dist", "test", "harness", "cluster.js"))});
      startCluster({ realNode: true }).then((c) => {
        c.kubectl(["run", "sleeper", "--image=${PAUSE_IMAGE}", "--image-pull-policy=Never", "--restart=Never"]);
        c.kubectl(["wait", "pod/sleeper", "--for=condition=Ready", "--timeout=60s"]);
        process.stdout.write("ready\\n");
        setInterval(() => {}, 1000);
      });`;
    const harness = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      harness.stdout!.on("data", (d) => String(d).includes("ready") && resolve());
      harness.once("exit", (code) => reject(new Error(`the harness exited (${code}) before its node was ready`)));
    });
    assert.notDeepEqual(snapshot().slots, before.slots, "a slot is held while the harness runs");
    harness.kill("SIGKILL");
    // The harness's leash ends the holder, which removes the slot.
    await eventually(
      "the slot to be removed",
      () => spawnSync("bash", [join(REPO, "scripts", "node.sh"), "slots"], { encoding: "utf8" }).stdout.trim() === "",
    );
    await eventually("the machine to be as before", () => JSON.stringify(snapshot()) === JSON.stringify(before), 15_000).catch(
      () => undefined,
    );
    assert.deepEqual(snapshot(), before);
  });
});
