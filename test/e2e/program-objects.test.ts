// The Pulumi program's Kubernetes objects on a real API server with a scheduler, a controller-manager and a KWOK
// node: accepted under strict validation, the controller Deployment rolls out to Ready, and the ServiceAccount can
// do exactly what the controller needs, as the API server's own authorizer sees it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startCluster, type TestCluster } from "../../scripts/local/cluster";
import { applyManifests } from "../../scripts/local/controller";
import { renderManifests } from "../../scripts/local/render";

let cluster: TestCluster;
const NS = "pg-kopf-e2e";
const SA = `system:serviceaccount:${NS}:pg-kopf-controller`;

before(async () => {
  cluster = await startCluster({ workloads: true });
});
after(() => cluster?.stop());

describe("with a host IP: Service and EndpointSlice", () => {
  before(() => {
    applyManifests(
      cluster,
      renderManifests({
        namespace: NS,
        postgresHostIp: "192.168.65.254",
        postgresPort: 5433,
        adminPassword: "not-used-here",
        imageTag: "e2e",
      }),
    );
  });

  test("the controller Deployment rolls out to Ready on the node", () => {
    cluster.kubectl(["rollout", "status", "deployment/pg-kopf-controller", "-n", NS, "--timeout=90s"]);
    const pods = JSON.parse(
      cluster.kubectl(["get", "pods", "-n", NS, "-l", "app.kubernetes.io/name=pg-kopf-controller", "-o", "json"]),
    ).items;
    assert.equal(pods.length, 1);
    assert.equal(pods[0].spec.nodeName, "kwok-node-0");
    assert.equal(pods[0].spec.containers[0].image, "pg-kopf-controller:e2e");
    assert.equal(pods[0].status.conditions.find((c: { type: string }) => c.type === "Ready").status, "True");
  });

  test("the Service reaches the configured address through the EndpointSlice", () => {
    const slice = JSON.parse(
      cluster.kubectl(["get", "endpointslices", "-n", NS, "-l", "kubernetes.io/service-name=postgres", "-o", "json"]),
    ).items;
    assert.equal(slice.length, 1);
    assert.deepEqual(
      slice[0].endpoints.map((e: { addresses: string[] }) => e.addresses),
      [["192.168.65.254"]],
    );
    assert.equal(slice[0].ports[0].port, 5433);
    assert.equal(
      cluster.kubectl(["get", "svc", "postgres", "-n", NS, "-o", "jsonpath={.spec.type} {.spec.ports[0].port}"]),
      "ClusterIP 5433",
    );
  });

  const can = (args: string[]) => {
    try {
      return cluster.kubectl(["auth", "can-i", "--as", SA, ...args]).trim();
    } catch (e) {
      return String((e as { stdout?: string }).stdout ?? "").trim();
    }
  };
  for (const args of [
    ["watch", "pgdatabases.my.local", "--all-namespaces"],
    ["patch", "pgdatabases.my.local/status", "-n", "default"],
    ["update", "pgdatabases.my.local/finalizers", "-n", "default"],
    ["create", "events", "-n", "default"],
    ["get", "secrets/pg-kopf-postgres", "-n", NS],
    ["update", "leases.coordination.k8s.io/pg-kopf-controller", "-n", NS],
  ]) {
    test(`the ServiceAccount may ${args.join(" ")}`, () => assert.equal(can(args), "yes"));
  }
  for (const args of [
    ["delete", "pgdatabases.my.local", "-n", "default"],
    ["create", "pgdatabases.my.local", "-n", "default"],
    ["list", "secrets", "-n", NS],
    ["get", "secrets/other", "-n", NS],
    ["get", "secrets/pg-kopf-postgres", "-n", "default"],
    ["update", "leases.coordination.k8s.io/someone-else", "-n", NS],
    ["create", "deployments.apps", "-n", NS],
    ["get", "customresourcedefinitions.apiextensions.k8s.io"],
  ]) {
    test(`the ServiceAccount may not ${args.join(" ")}`, () => assert.equal(can(args), "no"));
  }
});

test("with a DNS name: an ExternalName Service", () => {
  const ns = `${NS}-dns`;
  const manifests = renderManifests({ namespace: ns, postgresExternalName: "db.example.internal", adminPassword: "not-used-here" });
  assert.equal(manifests.filter((m) => m.kind === "EndpointSlice").length, 0);
  applyManifests(
    cluster,
    manifests.filter((m) => ["Namespace", "Service"].includes(m.kind)),
  );
  assert.equal(
    cluster.kubectl(["get", "svc", "postgres", "-n", ns, "-o", "jsonpath={.spec.type} {.spec.externalName}"]),
    "ExternalName db.example.internal",
  );
});
