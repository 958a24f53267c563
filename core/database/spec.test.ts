import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDatabaseSpec, canonicalEncoding } from "./spec";

const failuresOf = (input: unknown) => {
  const r = parseDatabaseSpec(input);
  assert.equal(r.ok, false, `expected ${JSON.stringify(input)} to be rejected`);
  return r.ok ? [] : r.failures;
};
const fieldsOf = (input: unknown) => failuresOf(input).map((f) => f.field);

test("a minimal spec gets the safe defaults", () => {
  const r = parseDatabaseSpec({ name: "app" });
  assert.ok(r.ok);
  assert.deepEqual(r.spec, { name: "app", reclaimPolicy: "retain", forceDrop: false, adopt: false });
});

test("names over 63 bytes are rejected, counting bytes not characters", () => {
  assert.deepEqual(fieldsOf({ name: "a".repeat(64) }), ["name"]);
  assert.ok(parseDatabaseSpec({ name: "a".repeat(63) }).ok);
  // 31 two-byte characters and one byte are 63 bytes; one more two-byte character is 65.
  assert.ok(parseDatabaseSpec({ name: `${"ü".repeat(31)}x` }).ok);
  const [f] = failuresOf({ name: `${"ü".repeat(32)}x` });
  assert.equal(f.field, "name");
  assert.match(f.message, /65 bytes.*at most 63/);
  assert.deepEqual(fieldsOf({ name: "ok", owner: "ü".repeat(32) }), ["owner"]);
});

// Regression: names were held to a conservative ASCII pattern, so existing databases and roles with other valid
// names could not be managed. Postgres accepts any character but NUL in a quoted identifier.
test("every name Postgres accepts is accepted: quotes, spaces, non-ASCII; NUL is not", () => {
  for (const name of ['x"; DROP DATABASE y; --', "my db", "datenbank_ü", "数据库", "a'b"])
    assert.ok(parseDatabaseSpec({ name, owner: 'role "q"' }).ok, name);
  assert.deepEqual(fieldsOf({ name: "a\u0000b" }), ["name"]);
  assert.deepEqual(fieldsOf({ name: "" }), ["name"]);
});

test("system databases cannot be managed", () => {
  for (const name of ["postgres", "template0", "template1"]) {
    const [f] = failuresOf({ name });
    assert.equal(f.field, "name");
    assert.match(f.message, /system database/);
  }
});

test("encodings are checked and spelled the way Postgres reports them", () => {
  assert.equal(canonicalEncoding("utf-8"), "UTF8");
  assert.equal(canonicalEncoding("latin1"), "LATIN1");
  assert.equal(canonicalEncoding("iso-8859-5"), "ISO_8859_5");
  const r = parseDatabaseSpec({ name: "app", encoding: "utf-8" });
  assert.ok(r.ok && r.spec.encoding === "UTF8");
  const [f] = failuresOf({ name: "app", encoding: "KLINGON" });
  assert.equal(f.field, "encoding");
  assert.match(f.message, /unknown encoding "KLINGON"/);
});

test("connection limits below -1 and fractions are rejected", () => {
  assert.deepEqual(fieldsOf({ name: "app", connectionLimit: -2 }), ["connectionLimit"]);
  assert.deepEqual(fieldsOf({ name: "app", connectionLimit: 1.5 }), ["connectionLimit"]);
  assert.match(failuresOf({ name: "app", connectionLimit: -2 })[0].message, /-1 for no limit/);
  assert.ok(parseDatabaseSpec({ name: "app", connectionLimit: -1 }).ok);
});

test("unknown fields are named, so a typo does not pass silently", () => {
  const [f] = failuresOf({ name: "app", ownr: "bob" });
  assert.equal(f.field, "ownr");
  assert.match(f.message, /unknown field/);
});

test("inconsistent combinations name the field and the way out", () => {
  assert.deepEqual(fieldsOf({ name: "app", forceDrop: true }), ["forceDrop"]);
  assert.deepEqual(fieldsOf({ name: "app", localeProvider: "icu" }), ["localeProvider"]);
  assert.deepEqual(fieldsOf({ name: "app", icuLocale: "und" }), ["icuLocale"]);
  assert.deepEqual(fieldsOf({ name: "app", reclaimPolicy: "drop" }), ["reclaimPolicy"]);
  assert.ok(parseDatabaseSpec({ name: "app", reclaimPolicy: "delete", forceDrop: true }).ok);
});

test("non-objects are rejected", () => {
  assert.deepEqual(fieldsOf(null), ["spec"]);
  assert.deepEqual(fieldsOf("app"), ["spec"]);
  assert.deepEqual(fieldsOf({}), ["name"]);
});
