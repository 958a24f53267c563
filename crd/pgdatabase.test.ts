import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePgDatabaseSpec, pgDatabaseCrd, specSchema } from "./pgdatabase";
import { SERVER_FIELD } from "./server";
import { PgDatabaseSpecSchema, DATABASE_DEFAULTS } from "../core/database/spec";
import { REPLACING_FIELDS } from "../core/database/behaviours";

type S = Record<string, any>;
const crdSpec = (): S => (pgDatabaseCrd() as S).spec.versions[0].schema.openAPIV3Schema.properties.spec;

test("the CRD's spec schema has exactly the core's fields, the server, and the core's required list", () => {
  const spec = crdSpec();
  assert.deepEqual(
    Object.keys(spec.properties).sort(),
    [...Object.keys(PgDatabaseSpecSchema.properties), ...Object.keys(SERVER_FIELD)].sort(),
  );
  assert.deepEqual(spec.required, PgDatabaseSpecSchema.required);
});

test("every field carries the core's constraints and documentation", () => {
  const spec = crdSpec();
  for (const [field, core] of Object.entries(PgDatabaseSpecSchema.properties as Record<string, S>)) {
    const crd = spec.properties[field];
    assert.equal(crd.description, core.description, field);
    for (const k of ["pattern", "minLength", "maxLength", "minimum", "maxItems"]) assert.deepEqual(crd[k], core[k], `${field}.${k}`);
    if (core.anyOf) {
      assert.equal(crd.type, "string", field);
      assert.deepEqual(
        crd.enum,
        core.anyOf.map((s: S) => s.const),
        `${field} enum`,
      );
    } else {
      assert.equal(crd.type, core.type, `${field}.type`);
    }
    if (core.items) assert.equal(crd.items.pattern, core.items.pattern, `${field} items`);
  }
});

test("the schema is structural: no keyword Kubernetes rejects", () => {
  const walk = (s: S, path: string) => {
    for (const bad of ["anyOf", "const", "uniqueItems", "$id"]) assert.ok(!(bad in s), `${path} has ${bad}`);
    // A map's values have a schema (additionalProperties: {...}); additionalProperties: false is Kubernetes' own pruning.
    if ("additionalProperties" in s) assert.equal(typeof s.additionalProperties, "object", `${path} has additionalProperties: false`);
    for (const [k, v] of Object.entries(s.properties ?? {})) walk(v as S, `${path}.${k}`);
    if (s.items) walk(s.items, `${path}[]`);
    if (typeof s.additionalProperties === "object") walk(s.additionalProperties, `${path}{}`);
  };
  walk(specSchema(), "spec");
  assert.equal(crdSpec().properties.extensions["x-kubernetes-list-type"], "set");
});

test("defaults match the core's, and every immutable field has a CEL transition rule", () => {
  const spec = crdSpec();
  for (const [k, v] of Object.entries(DATABASE_DEFAULTS)) assert.equal(spec.properties[k].default, v, k);
  const rules: S[] = spec["x-kubernetes-validations"];
  for (const field of REPLACING_FIELDS) {
    assert.ok(
      rules.some((r) => r.rule.includes(`oldSelf.${field}`) && r.message.startsWith(`spec.${field} is immutable`)),
      field,
    );
  }
});

test("printer columns show database, owner, readiness and age (server and reason with -o wide)", () => {
  const cols = (pgDatabaseCrd() as S).spec.versions[0].additionalPrinterColumns.map((c: S) => c.name);
  assert.deepEqual(cols, ["Database", "Owner", "Server", "Ready", "Reason", "Age"]);
});

test("spec.server: the default server when absent, named otherwise, a malformed one refused naming the field", () => {
  assert.deepEqual(parsePgDatabaseSpec({ name: "a" }), {
    ok: true,
    spec: (parsePgDatabaseSpec({ name: "a" }) as S).spec,
    server: "default",
  });
  assert.equal((parsePgDatabaseSpec({ name: "a", server: "b" }) as S).server, "b");
  const bad = parsePgDatabaseSpec({ name: "a", server: "Not A Name" });
  assert.equal(bad.ok, false);
  assert.deepEqual(
    (bad as S).failures.map((f: S) => f.field),
    ["server"],
  );
});
