import { test } from "node:test";
import assert from "node:assert/strict";
import { connectionSettings } from "../../core";
import { endpointOf, parseTarget } from "./credentialsSecret";

test("credentialsSecret.mountPath: an absolute path, and with the server's CA the keys' sslrootcert", () => {
  const target = { name: "app-creds", namespace: "apps", mountPath: "/etc/pg-kopf/" };
  assert.deepEqual(parseTarget({ credentialsSecret: target }).failures, []);
  const [relative] = parseTarget({ credentialsSecret: { ...target, mountPath: "etc/pg" } }).failures;
  assert.match(relative.reason, /^credentialsSecret\.mountPath: expected the absolute path/);
  const tls = connectionSettings({
    host: "db",
    port: 5432,
    user: "admin",
    database: "postgres",
    sslmode: "verify-full",
    sslrootcert: "-----BEGIN CERTIFICATE-----",
  });
  assert.equal(endpointOf(target, tls).caPath, "/etc/pg-kopf/ca.crt");
  const plain = connectionSettings({ host: "db", port: 5432, user: "admin", database: "postgres", sslmode: "disable" });
  assert.equal(endpointOf(target, plain).caPath, undefined, "no CA, nothing to verify with");
});
