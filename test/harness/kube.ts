// What the local control plane and its real node share: a kubeconfig for a user, a poll until something holds, and
// a node's Ready condition.
import { writeFileSync } from "node:fs";

/** A kubeconfig (JSON) for `user` (a token, or a client certificate and key) against `server`. */
export function kubeconfigFor(server: string, caFile: string, user: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "local", cluster: { server, "certificate-authority": caFile } }],
    users: [{ name: "user", user }],
    contexts: [{ name: "local", context: { cluster: "local", user: "user" } }],
    "current-context": "local",
  });
}

/** Writes a kubeconfig (mode 0600) for a client certificate; returns its path. */
export function writeCertKubeconfig(file: string, server: string, caFile: string, cert: { cert: string; key: string }): string {
  writeFileSync(file, kubeconfigFor(server, caFile, { "client-certificate": cert.cert, "client-key": cert.key }), { mode: 0o600 });
  return file;
}

/** Polls `check` every 250 ms; on timeout, fails naming `what`, with `detail()` (logs) when given. */
export async function waitFor(what: string, check: () => boolean, timeoutMs: number, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `\n${detail()}` : ""}`);
}

/** Whether node `name` reports Ready (false while the API server does not answer). */
export function nodeReady(kubectl: (args: string[]) => string, name: string): boolean {
  try {
    return kubectl(["get", "node", name, "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']) === "True";
  } catch {
    return false;
  }
}
