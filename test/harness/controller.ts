// Runs the controller as a process against a test cluster, with the ServiceAccount and RBAC rules the Pulumi
// program grants it (so the tests also prove those permissions suffice), and Postgres credentials in its env.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { CRD_NAME } from "../../crd/pgdatabase";
import { CRD_NAME as ROLE_CRD_NAME } from "../../crd/pgrole";
import { CRD_NAME as SERVER_CRD_NAME } from "../../crd/pgserver";
import { freePort, type TestPostgres } from "./postgres";
import type { TestCluster } from "./cluster";
import { clusterStackConfig, createCliStack, REPO, type StackConfig } from "./project";
import { CONTROLLER_NODE_FLAGS } from "../../infra/operator";
import { tie } from "./leash";

export const NAMESPACE = "pg-kopf";
/** Where the tests' PgRoles live: the program grants the controller their Secrets there, and tells it so. */
export const ROLE_NAMESPACES = ["default"];
const SA = "pg-kopf-controller";

/**
 * Installs the cluster side with the real `pulumi up` of the project: the CRD, the namespace, the ServiceAccount and
 * its RBAC, the Postgres Service and Secret, and the Deployment scaled to zero (the tests run the controller as a
 * process). Needs a cluster started with workloads, so the Deployment settles. Returns the ServiceAccount's
 * kubeconfig, so the process has exactly the permissions the program grants; the stack's directory goes at exit.
 * `omit`: keys of the usual config left out (adminPassword, for a Kerberos controller).
 */
export function installController(cluster: TestCluster, pg: TestPostgres, extra: StackConfig = {}, omit: readonly string[] = []): string {
  const config = clusterStackConfig(pg, [], {
    replicas: { value: "0" },
    roleNamespaces: { value: JSON.stringify(ROLE_NAMESPACES) },
    ...extra,
  });
  const stack = createCliStack("controller", pg, Object.fromEntries(Object.entries(config).filter(([key]) => !omit.includes(key))), {
    KUBECONFIG: cluster.kubeconfig,
  });
  process.once("exit", () => stack.destroyDir());
  stack.run(["up", "--yes", "--skip-preview"]);
  for (const crd of [CRD_NAME, ROLE_CRD_NAME, SERVER_CRD_NAME])
    cluster.kubectl(["wait", "--for=condition=Established", `crd/${crd}`, "--timeout=60s"]);
  return cluster.serviceAccountKubeconfig(NAMESPACE, SA);
}

export interface ControllerProcess {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything the process wrote (JSON log lines). */
  output(): string;
  metric(name: string): Promise<number>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startController(
  name: string,
  kubeconfig: string,
  pg: TestPostgres,
  extraEnv: Record<string, string> = {},
  // As the Deployment runs it.
  nodeArgs: readonly string[] = CONTROLLER_NODE_FLAGS,
): Promise<ControllerProcess> {
  const port = await freePort();
  let out = "";
  const child = spawn(process.execPath, [...nodeArgs, join(REPO, "dist", "controller", "main.js")], {
    env: {
      PATH: process.env.PATH,
      KUBECONFIG: kubeconfig,
      // The password travels in the environment, as from the Secret, never on the command line.
      PGHOST: pg.host,
      PGPORT: String(pg.port),
      PGUSER: pg.user,
      PGPASSWORD: pg.password,
      PGDATABASE: "postgres",
      PGSSLMODE: "disable",
      POD_NAME: name,
      POD_NAMESPACE: NAMESPACE,
      HTTP_PORT: String(port),
      ROLE_NAMESPACES: ROLE_NAMESPACES.join(","),
      // A lease long enough to ride out an API server restart (the renew deadline is 2/3 of it, and RBAC answers
      // 403 for a moment after a restart), short enough that a hand-over test does not wait long.
      RESYNC_SECONDS: "5",
      SLOW_RETRY_SECONDS: "2",
      LEASE_DURATION_SECONDS: "10",
      LOG_LEVEL: "info",
      ...extraEnv,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  process.once("exit", () => child.kill("SIGKILL"));
  tie(child.pid);
  const proc: ControllerProcess = {
    name,
    port,
    child,
    output: () => out,
    async metric(metricName: string): Promise<number> {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return text
        .split("\n")
        .filter((l) => l.startsWith(metricName))
        .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
    },
    async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill(signal);
      await exited;
    },
  };
  // Up when it answers on its health port.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`controller ${name} exited: ${out}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return proc;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`controller ${name} did not start: ${out}`);
}
