// Every field of the table, through every layer its behaviour reaches: the schema, the CRD, the plan (creating and
// converging), the provider's diff, a refresh's reflection and the CRD's transition rule. A field needs two sample
// values here (SAMPLES is keyed by the field names, so a new field does not compile until it has them), and each
// behaviour a check (CHECKS is keyed by the behaviours): a field entry alone is then either complete or a failure here.
import assert from "node:assert/strict";
import { test } from "node:test";
import { specSchema } from "../../crd/pgdatabase";
import { changedFields } from "../../provider/database/handlers";
import { InvalidSpec } from "../errors";
import { ownershipStamp } from "../ownership";
import { freshAccess } from "./access";
import { ACCESS_FIELDS, DATABASE_BEHAVIOURS, reflectDatabase, REPLACING_FIELDS, replacingChange, replacingChangeCel } from "./behaviours";
import { type Behaviour, behaviourOf, FIELD_NAMES, type FieldName, fieldsOf } from "./fields";
import type { ObservedDatabase } from "./observe";
import { planDatabase } from "./plan";
import { PgDatabaseSpecSchema, parseDatabaseSpec, type PgDatabaseSpec } from "./spec";
import { databaseStepField, type DatabaseStep } from "./steps";

interface Sample {
  /** The value the database has (or the first spec has). */
  readonly a: unknown;
  /** The value the spec asks for next. */
  readonly b: unknown;
  /** Fields a sample value needs beside it. */
  readonly with?: (value: unknown) => Record<string, unknown>;
}

const SAMPLES: { readonly [F in FieldName]: Sample } = {
  name: { a: "app", b: "app2" },
  owner: { a: "o", b: "p" },
  template: { a: "template1", b: "template0" },
  encoding: { a: "UTF8", b: "LATIN1" },
  localeProvider: { a: "libc", b: "icu", with: (v) => (v === "icu" ? { icuLocale: "und" } : {}) },
  icuLocale: { a: "und", b: "en-US", with: () => ({ localeProvider: "icu" }) },
  lcCollate: { a: "C", b: "POSIX" },
  lcCtype: { a: "C", b: "POSIX" },
  tablespace: { a: "pg_default", b: "fast" },
  allowConnections: { a: true, b: false },
  connectionLimit: { a: 5, b: 10 },
  isTemplate: { a: false, b: true },
  config: { a: { statement_timeout: "30s", lock_timeout: "5s" }, b: { statement_timeout: "1min" } },
  roleConfig: { a: { reader: { work_mem: "64MB", search_path: "app, public" } }, b: { reader: { work_mem: "128MB" } } },
  extensions: { a: ["citext"], b: ["citext", "pgcrypto"] },
  schemas: { a: [], b: [{ name: "app_data" }] },
  access: { a: [], b: [{ role: "reader", level: "read" }] },
  revokePublic: { a: false, b: true },
  reclaimPolicy: { a: "retain", b: "delete" },
  forceDrop: { a: false, b: true, with: () => ({ reclaimPolicy: "delete" }) },
  adopt: { a: false, b: true },
  adoptFrom: { a: "pulumi:other/dev", b: "pulumi:another/dev" },
};

const manager = "pulumi:app/dev";
const ctx = { manager };
const base: ObservedDatabase = {
  name: "app",
  oid: 1,
  owner: "o",
  encoding: "UTF8",
  lcCollate: "C",
  lcCtype: "C",
  localeProvider: "libc",
  tablespace: "pg_default",
  connectionLimit: -1,
  allowConnections: true,
  isTemplate: false,
  config: {},
  roleConfig: { reader: {} },
  comment: ownershipStamp(manager),
  extensions: [],
  access: freshAccess(["reader"]),
};

function specWith(field: FieldName, value: unknown): PgDatabaseSpec {
  const sample = SAMPLES[field];
  const r = parseDatabaseSpec({ name: "app", ...sample.with?.(value), [field]: value });
  assert.ok(r.ok, `${field}: ${JSON.stringify(r)}`);
  return r.spec;
}
/** The database as Postgres would report it with the field at `value` (for the fields it reports). */
function observedWith(field: FieldName, value: unknown): ObservedDatabase {
  return { ...base, ...SAMPLES[field].with?.(value), [field]: value };
}
const fieldsNamed = (steps: readonly DatabaseStep[]) => steps.map(databaseStepField);
const basePlan = planDatabase(specWith("owner", "o"), base, ctx);

/** What each behaviour must do with each of its fields, in every layer. */
const CHECKS: { readonly [B in Behaviour]: (field: FieldName, s: Sample) => void } = {
  identity: (field, s) => {
    assert.ok(replacingChange(field, s.a, s.b));
    assert.deepEqual(planDatabase(specWith(field, s.a), base, ctx), []);
  },
  immutable: (field, s) => {
    const create = planDatabase(specWith(field, s.a), undefined, ctx)[0] as Record<string, unknown>;
    assert.equal(create[field], s.a, "CREATE DATABASE takes it");
    assert.deepEqual(planDatabase(specWith(field, s.a), observedWith(field, s.a), ctx), [], "the same value is no step");
    assert.throws(
      () => planDatabase(specWith(field, s.b), observedWith(field, s.a), ctx),
      (e: unknown) => e instanceof InvalidSpec && e.failures.some((f) => f.field === field),
    );
    assert.ok(replacingChange(field, s.a, s.b) && !replacingChange(field, undefined, s.b), "replaces between values only");
    assert.equal(reflectDatabase({ [field]: s.b }, observedWith(field, s.a), false)[field], s.a, "a refresh reflects it");
  },
  creationOnly: (field, s) => {
    const create = planDatabase(specWith(field, s.a), undefined, ctx)[0] as Record<string, unknown>;
    assert.equal(create[field], s.a, "CREATE DATABASE takes it");
    assert.deepEqual(planDatabase(specWith(field, s.b), base, ctx), [], "never compared afterwards");
    assert.ok(replacingChange(field, s.a, s.b) && !replacingChange(field, undefined, s.b));
    assert.equal(reflectDatabase({ [field]: s.b }, base, false)[field], s.b, "recorded as given");
  },
  mutable: (field, s) => {
    const create = planDatabase(specWith(field, s.a), undefined, ctx)[0] as Record<string, unknown>;
    assert.equal(create[field], s.a, "CREATE DATABASE takes it");
    assert.deepEqual(planDatabase(specWith(field, s.a), observedWith(field, s.a), ctx), []);
    assert.deepEqual(fieldsNamed(planDatabase(specWith(field, s.b), observedWith(field, s.a), ctx)), [field], "one ALTER, naming it");
    assert.ok(!replacingChange(field, s.a, s.b), "changed in place");
    assert.equal(reflectDatabase({ [field]: s.b }, observedWith(field, s.a), false)[field], s.a, "a refresh reflects it");
  },
  settings: (field, s) => {
    const set = planDatabase(specWith(field, s.a), undefined, ctx).slice(2);
    assert.deepEqual(fieldsNamed(set), ["config.statement_timeout", "config.lock_timeout"], "SET at creation, each naming its key");
    assert.deepEqual(planDatabase(specWith(field, s.a), observedWith(field, s.a), ctx), [], "the same settings are no step");
    const previous = { [field]: s.a };
    const steps = planDatabase(specWith(field, s.b), observedWith(field, s.a), { ...ctx, previous });
    assert.deepEqual(
      steps.map((step) => step.kind),
      ["setDatabaseConfig", "resetDatabaseConfig"],
      "SET what differs, RESET what pg-kopf set and the map dropped",
    );
    assert.deepEqual(planDatabase(specWith(field, s.b), observedWith(field, s.a), ctx).length, 1, "a key pg-kopf never set is left alone");
    const byHand = { statement_timeout: "10s", work_mem: "4MB" };
    assert.deepEqual(
      reflectDatabase({ [field]: s.a }, observedWith(field, byHand), false)[field],
      { statement_timeout: "10s" },
      "a refresh reflects what pg-kopf set, and only that",
    );
    assert.ok(!replacingChange(field, s.a, s.b), "changed in place");
  },
  roleSettings: (field, s) => {
    const set = planDatabase(specWith(field, s.a), undefined, ctx).slice(2);
    assert.deepEqual(
      fieldsNamed(set),
      ["roleConfig.reader.work_mem", "roleConfig.reader.search_path"],
      "SET at creation, naming role and key",
    );
    assert.deepEqual(planDatabase(specWith(field, s.a), observedWith(field, s.a), ctx), [], "the same settings are no step");
    const steps = planDatabase(specWith(field, s.b), observedWith(field, s.a), { ...ctx, previous: { [field]: s.a } });
    assert.deepEqual(
      steps.map((step) => step.kind),
      ["setRoleConfigIn", "resetRoleConfigIn"],
      "SET what differs, RESET what pg-kopf set and the map dropped",
    );
    const dropped = planDatabase(specWith(field, {}), observedWith(field, s.a), { ...ctx, previous: { [field]: s.a } });
    assert.equal(dropped.length, 2, "a role dropped from the map has its settings reset");
    const byHand = { reader: { work_mem: "1GB", temp_buffers: "16MB" } };
    assert.deepEqual(
      reflectDatabase({ [field]: s.b }, observedWith(field, byHand), false)[field],
      { reader: { work_mem: "1GB" } },
      "a refresh reflects what pg-kopf set",
    );
    assert.ok(!replacingChange(field, s.a, s.b), "changed in place");
  },
  extensions: (field, s) => {
    assert.deepEqual(fieldsNamed(planDatabase(specWith(field, s.a), undefined, ctx).slice(2)), [field], "installed at creation");
    const more = planDatabase(specWith(field, s.b), observedWith(field, s.a), ctx);
    assert.deepEqual(fieldsNamed(more), [field], "only the missing one");
    assert.deepEqual(reflectDatabase({ [field]: s.b }, observedWith(field, s.a), false)[field], s.a, "a refresh keeps what is installed");
  },
  access: (field, s) => {
    assert.ok(field in ACCESS_FIELDS, "the access planner knows it");
    // Observed as a whole (ObservedDatabase.access), not field by field: the base database has none of it yet.
    const steps = planDatabase(specWith(field, s.b), base, ctx);
    assert.ok(steps.length > 0, "planned");
    for (const named of fieldsNamed(steps)) assert.ok(named !== undefined && named in ACCESS_FIELDS, `${named}`);
    assert.ok(planDatabase(specWith(field, s.b), undefined, ctx).length > 2, "planned at creation");
    assert.deepEqual(reflectDatabase({ [field]: s.b }, base, false)[field], s.b, "memory: recorded as applied");
  },
  policy: (field, s) => {
    assert.deepEqual(planDatabase({ ...specWith(field, s.b), owner: "o" }, base, ctx), basePlan, "no SQL of its own");
    assert.ok(!replacingChange(field, s.a, s.b));
  },
};

test("every field is seen by the schema, the CRD, the plan, the diff, a refresh and the CRD's rules, as its behaviour says", () => {
  const crd = specSchema();
  const crdFields = crd.properties as Record<string, unknown>;
  const rules = (crd["x-kubernetes-validations"] as { rule: string }[]).map((r) => r.rule);
  for (const field of FIELD_NAMES) {
    const s = SAMPLES[field];
    assert.ok(field in PgDatabaseSpecSchema.properties, `${field}: in the spec schema`);
    assert.ok(field in crdFields, `${field}: in the CRD`);
    const [before, after] = [
      { ...s.with?.(s.a), [field]: s.a },
      { ...s.with?.(s.b), [field]: s.b },
    ];
    assert.ok(changedFields({ name: "app", ...before }, { name: "app", ...after }).includes(field), `${field}: the diff sees it`);
    const cel = replacingChangeCel(field);
    assert.equal(cel !== undefined && rules.includes(cel), REPLACING_FIELDS.includes(field), `${field}: a transition rule if it replaces`);
    try {
      CHECKS[behaviourOf(field)!](field, s);
    } catch (err) {
      (err as Error).message = `${field} (${behaviourOf(field)}): ${(err as Error).message}`;
      throw err;
    }
  }
});

test("every behaviour has fields, and its entry agrees with the field table", () => {
  for (const b of Object.keys(DATABASE_BEHAVIOURS) as Behaviour[]) assert.ok(fieldsOf(b).length > 0, `${b} has no field`);
  assert.deepEqual(Object.keys(ACCESS_FIELDS), fieldsOf("access"));
});
