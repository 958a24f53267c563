import assert from "node:assert/strict";
import { test } from "node:test";
import { PgRoleSpecSchema, REFUSED_ATTRIBUTES } from "../core/role";
import { CREDENTIALS_FIELDS, caPathIn, parsePgRoleSpec, pgRoleCrd, durationMs } from "./pgrole";
import { SERVER_FIELD } from "./server";

type S = Record<string, any>;
const crdSpec = (): S => (pgRoleCrd() as S).spec.versions[0].schema.openAPIV3Schema.properties.spec;

test("the CRD's spec has the core's role fields, the credentials fields, and the refused attributes to refuse them", () => {
  assert.deepEqual(
    Object.keys(crdSpec().properties).sort(),
    [
      ...Object.keys(PgRoleSpecSchema.properties),
      ...Object.keys(CREDENTIALS_FIELDS),
      ...Object.keys(REFUSED_ATTRIBUTES),
      ...Object.keys(SERVER_FIELD),
    ].sort(),
  );
  for (const [field, core] of Object.entries(PgRoleSpecSchema.properties as Record<string, S>)) {
    assert.equal(crdSpec().properties[field].description, core.description, field);
  }
});

test("config is a bounded map of strings, as Kubernetes needs to cost the rules over it", () => {
  const config = crdSpec().properties.config;
  assert.equal(config.type, "object");
  assert.deepEqual(config.additionalProperties, { type: "string", minLength: 1, maxLength: 1024 });
  assert.equal(config.maxProperties, 32);
  assert.equal(config.patternProperties, undefined);
});

test("login defaults to true and the reclaim policy to retain, as in the core", () => {
  assert.equal(crdSpec().properties.login.default, true);
  assert.equal(crdSpec().properties.reclaimPolicy.default, "retain");
});

test("the default Secret name is checked with the spec: too long for Kubernetes fails naming spec.secretName", () => {
  const parsed = parsePgRoleSpec({ name: "app" }, "r".repeat(242));
  assert.ok(!parsed.ok);
  assert.equal(parsed.failures[0].field, "secretName");
  assert.match(parsed.failures[0].message, /is 254 characters and Kubernetes names are at most 253: set spec.secretName/);
  assert.ok(parsePgRoleSpec({ name: "app" }, "r".repeat(241)).ok);
  assert.ok(parsePgRoleSpec({ name: "app", login: false }, "r".repeat(250)).ok);
});

test("databases: each a Secret key prefix, once, and not spec.database again; a template cannot take their keys", () => {
  assert.ok(parsePgRoleSpec({ name: "app", database: "shop", databases: ["shop_reports", "audit"] }).ok);
  const again = parsePgRoleSpec({ name: "app", database: "shop", databases: ["shop"] });
  assert.ok(!again.ok);
  assert.deepEqual(
    again.failures.map((f) => [f.field, f.message]),
    [["databases", '"shop" is spec.database already (it has the plain keys): name each database once']],
  );
  const bad = parsePgRoleSpec({ name: "app", databases: ["my db", "a", "a"] });
  assert.ok(!bad.ok);
  assert.match(JSON.stringify(bad.failures), /databases/);
  const taken = parsePgRoleSpec({ name: "app", databases: ["audit"], secretTemplate: { "audit.uri": "x" } });
  assert.ok(!taken.ok);
  assert.match(taken.failures[0].message, /is a key pg-kopf writes itself/);
  const listed = crdSpec().properties.databases;
  assert.equal(listed["x-kubernetes-list-type"], "set");
  assert.equal(listed.items.pattern, "^[-._a-zA-Z0-9]+$");
  assert.match(JSON.stringify(crdSpec()["x-kubernetes-validations"]), /self.database in self.databases/);
});

test("rotateEvery: a duration of whole h, m and s, at least 10s, refused naming the field otherwise", () => {
  assert.equal(durationMs("720h"), 720 * 3600_000);
  assert.equal(durationMs("1h30m"), 5400_000);
  assert.equal(durationMs("90s"), 90_000);
  assert.equal(durationMs(undefined), undefined);
  assert.ok(parsePgRoleSpec({ name: "app", rotateEvery: "720h" }).ok);
  for (const bad of ["5s", "", "1d", "1.5h", "h"]) {
    const parsed = parsePgRoleSpec({ name: "app", rotateEvery: bad });
    assert.ok(!parsed.ok, bad);
    assert.equal(parsed.failures[0].field, "rotateEvery", bad);
  }
  assert.match(JSON.stringify(crdSpec()["x-kubernetes-validations"]), /duration\(self.rotateEvery\) >= duration\('10s'\)/);
});

test("twoCredentials: a password role that logs in, a name with room for _a and _b, keepPrevious at least 10s", () => {
  const ok = parsePgRoleSpec({ name: "app", twoCredentials: { keepPrevious: "30m" } });
  assert.ok(ok.ok);
  assert.deepEqual(ok.credentials.twoCredentials, { keepPrevious: "30m" });
  assert.ok(parsePgRoleSpec({ name: "app", twoCredentials: {} }).ok);
  const cases: [object, string, RegExp][] = [
    [{ name: "app", login: false, twoCredentials: {} }, "twoCredentials", /does not log in/],
    [{ name: "app", authentication: "kerberos", twoCredentials: {} }, "twoCredentials", /Kerberos role has no password/],
    [{ name: "x".repeat(62), twoCredentials: {} }, "name", /at most 61 bytes/],
    [{ name: "app", twoCredentials: { keepPrevious: "5s" } }, "twoCredentials.keepPrevious", /shorter than 10s/],
  ];
  for (const [input, field, message] of cases) {
    const parsed = parsePgRoleSpec(input as Record<string, unknown>);
    assert.ok(!parsed.ok, JSON.stringify(input));
    assert.equal(parsed.failures[0].field, field);
    assert.match(parsed.failures[0].message, message);
  }
  const bad = parsePgRoleSpec({ name: "app", twoCredentials: { keepPrevious: "1d", extra: true } });
  assert.ok(!bad.ok);
  assert.match(JSON.stringify(bad.failures), /twoCredentials/);
  const rules = JSON.stringify(crdSpec()["x-kubernetes-validations"]);
  assert.match(rules, /duration\(self.twoCredentials.keepPrevious\) >= duration\('10s'\)/);
  assert.match(rules, /size\(self.name\) <= 61/);
  assert.equal(
    crdSpec().properties.twoCredentials.additionalProperties,
    undefined,
    "structural: unknown keys pruned or refused by the schema",
  );
});

test("secretMountPath: an absolute path; {{ sslrootcert }} needs it, naming the field", () => {
  assert.ok(parsePgRoleSpec({ name: "app", secretMountPath: "/etc/pg", secretTemplate: { CA: "{{ sslrootcert }}" } }).ok);
  const missing = parsePgRoleSpec({ name: "app", secretTemplate: { CA: "{{ sslrootcert }}" } });
  assert.ok(!missing.ok);
  assert.equal(missing.failures[0].field, "secretTemplate.CA");
  assert.match(missing.failures[0].message, /set secretMountPath/);
  assert.ok(!parsePgRoleSpec({ name: "app", secretMountPath: "etc/pg" }).ok);
  assert.equal(caPathIn("/etc/pg/"), "/etc/pg/ca.crt");
  assert.equal(caPathIn(undefined), undefined);
});
