// The controller's image, run by a real kubelet as the Deployment's pod, through a Kerberos-only Postgres: the
// program (real `pulumi up`, postgresAuth kerberos) mounts the keytab Secret and the krb5.conf ConfigMap; libpq and
// MIT Kerberos in the image fetch a ticket from a KDC on the node's address and authenticate as the admin's
// principal to the server's principal for the Service's name. No password anywhere.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { NAMESPACE } from "../harness/controller";
import { type ControllerPod, POSTGRES_SERVICE_HOST, startControllerPod } from "../harness/controllerPod";
import { MANAGED_ADMIN } from "../harness/postgres";

let env: ControllerPod;
const kubectl = (...args: string[]) => env.cluster.kubectl(args);

interface Container {
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

before(async () => {
  env = await startControllerPod({
    tag: "pod-kerberos-e2e",
    stack: "podkrb",
    kerberos: true,
    config: { rolloutDeadlineSeconds: { value: "60" } },
  });
});

after(async () => {
  await env?.teardown();
});

describe("the controller's image on a real node, through a Kerberos-only Postgres", () => {
  test("1. the pod authenticates by its mounted keytab (GSSAPI, encrypted) and reconciles a PgDatabase", async () => {
    const db = {
      apiVersion: "my.local/v1",
      kind: "PgDatabase",
      metadata: { name: "krb-pod", namespace: "default" },
      spec: { name: "krb_pod" },
    };
    env.cluster.kubectl(["apply", "-f", "-"], JSON.stringify(db));
    kubectl("wait", "pgdb/krb-pod", "-n", "default", "--for=condition=Ready", "--timeout=90s");
    assert.equal((await env.pg.superQuery("SELECT 1 FROM pg_database WHERE datname = 'krb_pod'")).length, 1);
    // The controller's own sessions: by GSSAPI, as the admin's principal, encrypted by it (gssencmode prefer).
    const sessions = await env.pg.superQuery<{ usename: string; gss_authenticated: boolean; encrypted: boolean; principal: string }>(
      `SELECT a.usename, g.gss_authenticated, g.encrypted, g.principal
         FROM pg_stat_activity a JOIN pg_stat_gssapi g USING (pid) WHERE a.application_name = 'pg-kopf-controller'`,
    );
    assert.ok(sessions.length > 0, "the controller holds connections");
    for (const s of sessions) {
      assert.equal(s.usename, MANAGED_ADMIN);
      assert.equal(s.gss_authenticated, true);
      assert.equal(s.encrypted, true);
      assert.equal(s.principal, `${MANAGED_ADMIN}@${env.realm?.realm}`);
    }
  });

  test("2. the pod holds no password: the keytab and krb5.conf are read-only mounts, tickets in memory, the host the principal's", () => {
    const pods = JSON.parse(kubectl("get", "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/name=pg-kopf-controller", "-o", "json"));
    const container: Container = pods.items[0].spec.containers[0];
    const vars = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    assert.equal(vars.PGPASSWORD, undefined);
    assert.equal(vars.PGKOPF_AUTH, "kerberos");
    assert.equal(vars.KRB5CCNAME, "MEMORY:pg-kopf");
    assert.equal(vars.PGHOST, POSTGRES_SERVICE_HOST);
    for (const name of ["keytab", "krb5"]) assert.equal(container.volumeMounts?.find((m) => m.name === name)?.readOnly, true, name);
    const secrets = JSON.parse(kubectl("get", "secrets", "-n", NAMESPACE, "-o", "json")).items;
    for (const s of secrets) assert.ok(!("PGPASSWORD" in (s.data ?? {})), `${s.metadata.name} holds no password`);
  });
});
