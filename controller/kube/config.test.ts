import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fromKubeconfig, loadKubeTarget } from "./config";

function kubeconfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "pg-kopf-kubeconfig-"));
  writeFileSync(join(dir, "ca.crt"), "CA FROM FILE");
  writeFileSync(join(dir, "token"), "token-from-file\n");
  const file = join(dir, "config");
  writeFileSync(file, yaml);
  return file;
}

const TWO_CONTEXTS = `
apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: dev
  cluster: { server: "https://dev.example:6443" }
- name: prod
  cluster:
    server: https://prod.example:6443/
    certificate-authority: ca.crt
    tls-server-name: api.prod.example
users:
- name: alice
  user:
    client-certificate-data: ${Buffer.from("CERT").toString("base64")}
    client-key-data: ${Buffer.from("KEY").toString("base64")}
- name: bot
  user: { tokenFile: token }
contexts:
- name: dev
  context: { cluster: dev, user: alice }
- name: prod
  context: { cluster: prod, user: bot }
`;

describe("kubeconfig", () => {
  it("follows current-context to its cluster and user; files are relative to the kubeconfig", () => {
    const target = fromKubeconfig(kubeconfig(TWO_CONTEXTS));
    assert.equal(target.server, "https://prod.example:6443");
    assert.equal(target.ca?.toString(), "CA FROM FILE");
    assert.equal(target.tlsServerName, "api.prod.example");
    assert.equal(target.cert, undefined);
    assert.equal(target.authorization(), "Bearer token-from-file");
  });

  it("reads inline client certificates, and KUBECONFIG takes the first file of a list", () => {
    const file = kubeconfig(TWO_CONTEXTS.replace("current-context: prod", "current-context: dev"));
    const target = loadKubeTarget({ KUBECONFIG: `${file}:/nonexistent`, KUBERNETES_SERVICE_HOST: "10.0.0.1" });
    assert.equal(target.server, "https://dev.example:6443");
    assert.equal(target.cert?.toString(), "CERT");
    assert.equal(target.key?.toString(), "KEY");
    assert.equal(target.authorization(), undefined);
  });

  it("names the field when the context, the server or a supported credential is missing", () => {
    assert.throws(() => fromKubeconfig(kubeconfig("apiVersion: v1\nkind: Config\n")), /current-context: not set/);
    assert.throws(
      () => fromKubeconfig(kubeconfig(TWO_CONTEXTS.replace("current-context: prod", "current-context: staging"))),
      /contexts\[staging\]: not found/,
    );
    assert.throws(
      () => fromKubeconfig(kubeconfig(TWO_CONTEXTS.replace("user: { tokenFile: token }", "user: { exec: { command: aws } }"))),
      /users\[bot\]\.exec: credential plugins are not run by the controller; use a token or a client certificate/,
    );
    assert.throws(
      () => fromKubeconfig(kubeconfig(TWO_CONTEXTS.replace("server: https://prod.example:6443/", "insecure-skip-tls-verify: false"))),
      /clusters\[prod\]\.server: missing/,
    );
  });
});
