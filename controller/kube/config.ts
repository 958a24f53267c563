// Where the Kubernetes API is and how to authenticate to it: in a pod from the ServiceAccount's mounted token and CA,
// elsewhere from a kubeconfig file (KUBECONFIG, else ~/.kube/config), in the order client-go and kubectl use.
import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";

const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";
/** client-go re-reads a projected token about every minute; the kubelet renews it well before it expires. */
const TOKEN_REREAD_MS = 60_000;

export interface KubeTarget {
  /** The API server's base URL, without a trailing slash. */
  readonly server: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly insecureSkipTlsVerify?: boolean;
  readonly tlsServerName?: string;
  /** The Authorization header's value, read on every request so a rotated token applies at once. */
  readonly authorization: () => string | undefined;
}

/**
 * The target from the environment: a kubeconfig when KUBECONFIG names one, else the pod's ServiceAccount when
 * running in a cluster, else ~/.kube/config. Throws with the file and field at fault when nothing usable is found.
 */
export function loadKubeTarget(env: NodeJS.ProcessEnv = process.env): KubeTarget {
  if (env.KUBECONFIG) return fromKubeconfig(env.KUBECONFIG.split(":").filter(Boolean)[0]);
  if (env.KUBERNETES_SERVICE_HOST) return inCluster(env);
  return fromKubeconfig(join(homedir(), ".kube", "config"));
}

function inCluster(env: NodeJS.ProcessEnv): KubeTarget {
  const host = env.KUBERNETES_SERVICE_HOST ?? "";
  const port = env.KUBERNETES_SERVICE_PORT || "443";
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    ca: readFileSync(join(SERVICE_ACCOUNT, "ca.crt")),
    authorization: bearerFromFile(join(SERVICE_ACCOUNT, "token")),
  };
}

/** A bearer token from a file, re-read when it changed and at most once a minute. */
function bearerFromFile(file: string): () => string {
  let token = "";
  let readAt = 0;
  let mtime = 0;
  return () => {
    const now = Date.now();
    if (!token || now - readAt > TOKEN_REREAD_MS) {
      const changed = statSync(file).mtimeMs;
      if (!token || changed !== mtime) token = readFileSync(file, "utf8").trim();
      mtime = changed;
      readAt = now;
    }
    return `Bearer ${token}`;
  };
}

/** An entry of a kubeconfig's clusters, users or contexts list. */
type Named = { name?: unknown } & Record<string, unknown>;

/** The kubeconfig's current context, resolved to a target. Files it names are relative to its own folder. */
export function fromKubeconfig(file: string): KubeTarget {
  // Loaded only here: in a pod the controller never reads YAML.
  const yaml = require("js-yaml") as typeof import("js-yaml");
  const doc = (yaml.load(readFileSync(file, "utf8")) ?? {}) as Record<string, unknown>;
  const fail = (field: string, why: string): never => {
    throw new Error(`kubeconfig ${file}: ${field}: ${why}`);
  };
  const pick = (list: string, name: unknown, key: string): Record<string, unknown> => {
    const found = ((doc[list] as Named[] | undefined) ?? []).find((entry) => entry.name === name);
    return (found?.[key] as Record<string, unknown> | undefined) ?? fail(`${list}[${String(name)}]`, "not found");
  };
  const contextName = doc["current-context"] || fail("current-context", "not set; choose a context with kubectl config use-context");
  const context = pick("contexts", contextName, "context");
  const cluster = pick("clusters", context.cluster, "cluster");
  const user = context.user === undefined ? {} : pick("users", context.user, "user");
  for (const unsupported of ["exec", "auth-provider"]) {
    if (user[unsupported] !== undefined)
      fail(
        `users[${String(context.user)}].${unsupported}`,
        "credential plugins are not run by the controller; use a token or a client certificate (for example a ServiceAccount's)",
      );
  }
  const path = (p: unknown) => (isAbsolute(String(p)) ? String(p) : join(dirname(file), String(p)));
  const material = (data: unknown, ref: unknown): Buffer | undefined =>
    data !== undefined ? Buffer.from(String(data), "base64") : ref !== undefined ? readFileSync(path(ref)) : undefined;
  const server =
    typeof cluster.server === "string"
      ? cluster.server.replace(/\/+$/, "")
      : fail(`clusters[${String(context.cluster)}].server`, "missing");
  const authorization: () => string | undefined =
    user.token !== undefined
      ? () => `Bearer ${String(user.token)}`
      : user.tokenFile !== undefined
        ? bearerFromFile(path(user.tokenFile))
        : user.username !== undefined
          ? () => `Basic ${Buffer.from(`${String(user.username)}:${String(user.password ?? "")}`).toString("base64")}`
          : () => undefined;
  return {
    server,
    ca: material(cluster["certificate-authority-data"], cluster["certificate-authority"]),
    cert: material(user["client-certificate-data"], user["client-certificate"]),
    key: material(user["client-key-data"], user["client-key"]),
    insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
    tlsServerName: typeof cluster["tls-server-name"] === "string" ? cluster["tls-server-name"] : undefined,
    authorization,
  };
}
