import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePgServerSpec, pgServerCrd, SERVER_DEFAULTS } from "./pgserver";

type S = Record<string, any>;
const version = (): S => (pgServerCrd() as S).spec.versions[0];

test("cluster-scoped, with the defaults written into the schema and the name default reserved", () => {
  const crd = pgServerCrd() as S;
  assert.equal(crd.spec.scope, "Cluster");
  const props = version().schema.openAPIV3Schema.properties.spec.properties;
  for (const [field, value] of Object.entries(SERVER_DEFAULTS)) assert.equal(props[field].default, value, field);
  assert.match(JSON.stringify(version().schema.openAPIV3Schema["x-kubernetes-validations"]), /self.metadata.name != 'default'/);
});

test("a spec with only the required fields gets the defaults; verify-full needs a CA", () => {
  const minimal = { host: "db.example", credentialsSecret: { name: "admin" }, sslMode: "disable" };
  assert.deepEqual(parsePgServerSpec(minimal), { ok: true, spec: { ...SERVER_DEFAULTS, ...minimal } });
  const { sslMode: _default, ...verifyFull } = minimal;
  const refused = parsePgServerSpec(verifyFull);
  assert.equal(refused.ok, false);
  assert.match(JSON.stringify(refused), /"field":"ca".*verify-ca and verify-full need the CA/);
  assert.equal(parsePgServerSpec({ ...verifyFull, ca: { configMapName: "db-ca" } }).ok, true);
});

test("bad input is refused naming the field", () => {
  const fields = (input: unknown) => {
    const parsed = parsePgServerSpec(input);
    return parsed.ok ? [] : parsed.failures.map((f) => f.field);
  };
  const base = { host: "db.example", credentialsSecret: { name: "admin" }, sslMode: "require" };
  assert.deepEqual(fields({ ...base, port: 70000 }), ["port"]);
  assert.deepEqual(fields({ ...base, maxConnections: 0 }), ["maxConnections"]);
  assert.deepEqual(fields({ ...base, ca: { secretName: "a", configMapName: "b" } }), ["ca"]);
  assert.deepEqual(fields({ ...base, ca: {} }), ["ca"]);
  assert.deepEqual(fields({ host: "db.example", sslMode: "require" }), ["credentialsSecret"]);
  const kerberos = { user: "pgkopf_admin", keytab: { secretName: "admin-keytab" } };
  assert.deepEqual(fields({ ...base, kerberos }), ["credentialsSecret"]);
  assert.deepEqual(fields({ host: "db.example", sslMode: "require", kerberos }), []);
  assert.deepEqual(fields({ host: "db.example", sslMode: "require", kerberos: { ...kerberos, gssEncMode: "always" } }), [
    "kerberos.gssEncMode",
  ]);
  assert.deepEqual(fields({ host: "db.example", sslMode: "require", kerberos: { ...kerberos, krbSrvName: "a b" } }), [
    "kerberos.krbSrvName",
  ]);
  assert.deepEqual(fields({ host: "db.example", sslMode: "require", kerberos: { user: "x" } }), ["kerberos.keytab"]);
  assert.deepEqual(fields({ ...base, allowedNamespaces: { matchExpressions: [{ key: "team", operator: "Has" }] } }), [
    "allowedNamespaces.matchExpressions.0.operator",
  ]);
});
