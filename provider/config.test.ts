import assert from "node:assert/strict";
import { test } from "node:test";
import { adminConnection, serverProviderInputs } from "./config";

const config = (values: Record<string, unknown>) => ({
  get: (k: string) => (values[k] === undefined ? undefined : String(values[k])),
  getObject: (k: string) => values[k],
});

test("the default server is the admin keys; a named one is its pg-kopf:servers entry under the same keys", () => {
  const c = config({
    adminHost: "db.internal",
    adminUser: "platform",
    servers: { reports: { host: "reports.internal", port: 6432, user: "reporter", sslMode: "verify-full", sslRootCert: "PEM" } },
  });
  assert.deepEqual(serverProviderInputs("default", c.get, c.getObject), {
    "pg-kopf:adminHost": "db.internal",
    "pg-kopf:adminUser": "platform",
  });
  assert.deepEqual(serverProviderInputs("reports", c.get, c.getObject), {
    "pg-kopf:adminHost": "reports.internal",
    "pg-kopf:adminPort": "6432",
    "pg-kopf:adminUser": "reporter",
    "pg-kopf:adminSslMode": "verify-full",
    "pg-kopf:adminSslRootCert": "PEM",
    "pg-kopf:serverName": "reports",
  });
  // A named server is verified unless its entry says otherwise; the cluster-only keys are not the provider's.
  const d = config({ servers: { batch: { host: "batch.internal", allowedNamespaces: ["*"], maxConnections: 2 } } });
  assert.deepEqual(serverProviderInputs("batch", d.get, d.getObject), {
    "pg-kopf:adminHost": "batch.internal",
    "pg-kopf:adminSslMode": "verify-full",
    "pg-kopf:serverName": "batch",
  });
});

test("a server not declared, a misspelt field, a password in config, or no host: refused naming the key", () => {
  const c = config({ servers: { reports: { host: "r" }, bad: { hots: "x" }, secret: { host: "s", password: "p" }, nohost: { port: 1 } } });
  assert.throws(
    () => serverProviderInputs("prod", c.get, c.getObject),
    /config pg-kopf:servers\.prod: server "prod" is not declared; .*\(declared: reports, bad, secret, nohost\)/,
  );
  assert.throws(() => serverProviderInputs("bad", c.get, c.getObject), /config pg-kopf:servers\.bad\.hots: unknown; use host, port/);
  assert.throws(
    () => serverProviderInputs("secret", c.get, c.getObject),
    /servers\.secret\.password: unknown; .*the password goes in the password file/,
  );
  assert.throws(() => serverProviderInputs("nohost", c.get, c.getObject), /servers\.nohost\.host: missing/);
});

test("Kerberos settings are config keys too, and a malformed one is refused naming its key", () => {
  const c = config({
    adminHost: "db.internal",
    adminAuth: "kerberos",
    adminGssEncMode: "require",
    servers: { ad: { host: "pg.corp.example", auth: "kerberos", krbSrvName: "postgres" } },
  });
  assert.deepEqual(serverProviderInputs("ad", c.get, c.getObject), {
    "pg-kopf:adminHost": "pg.corp.example",
    "pg-kopf:adminAuth": "kerberos",
    "pg-kopf:adminKrbSrvName": "postgres",
    "pg-kopf:adminSslMode": "verify-full",
    "pg-kopf:serverName": "ad",
  });
  const settings = adminConnection({ get: (k) => serverProviderInputs("default", c.get, c.getObject)[k] }, {});
  assert.deepEqual([settings.auth, settings.gssencmode, settings.password], ["kerberos", "require", undefined]);
  assert.equal(settings.authSetting, "pg-kopf:adminAuth");
  const bad = (inputs: Record<string, string>) => () => adminConnection({ get: (k) => inputs[k] }, {});
  assert.throws(bad({ "pg-kopf:adminHost": "h", "pg-kopf:adminAuth": "gss" }), /pg-kopf:adminAuth: "gss" is not an authentication method/);
  assert.throws(
    bad({ "pg-kopf:adminHost": "h", "pg-kopf:serverName": "ad", "pg-kopf:adminGssEncMode": "always" }),
    /pg-kopf:servers\.ad\.gssEncMode: "always" is not a gssencmode/,
  );
  // A server's own keytab and krb5.conf: files, read when the settings are made; a wrong path names its key.
  assert.throws(
    bad({
      "pg-kopf:adminHost": "h",
      "pg-kopf:serverName": "ad",
      "pg-kopf:adminAuth": "kerberos",
      "pg-kopf:adminKeytab": "/no/such.keytab",
    }),
    /pg-kopf:servers\.ad\.keytab: cannot read \/no\/such\.keytab: ENOENT/,
  );
  assert.throws(bad({ "pg-kopf:adminHost": "h", "pg-kopf:adminKrb5Conf": __filename }), /pg-kopf:adminAuth: krb5Conf needs Kerberos/);
  const own = adminConnection(
    { get: (k) => ({ "pg-kopf:adminHost": "h", "pg-kopf:adminAuth": "kerberos", "pg-kopf:adminKeytab": __filename })[k] },
    {},
  );
  assert.equal(own.keytab, __filename);
});
