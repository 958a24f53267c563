import { test } from "node:test";
import assert from "node:assert/strict";
import { FIELDS, FIELD_NAMES, CREATE_FIELDS, behaviourOf, type Behaviour } from "./fields";
import { OBSERVED_FIELDS, REPLACING_FIELDS, replacingChange } from "./behaviours";
import { PgDatabaseSpecSchema, parseDatabaseSpec } from "./spec";
import { planDatabase } from "./plan";
import type { ObservedDatabase } from "./observe";
import { ownershipStamp } from "../ownership";
import { changedFields } from "../../provider/database/handlers";
import { specSchema } from "../../crd/pgdatabase";

const BEHAVIOURS: Behaviour[] = [
  "identity",
  "immutable",
  "creationOnly",
  "mutable",
  "settings",
  "roleSettings",
  "extensions",
  "access",
  "policy",
];

test("every schema property is classified, and the schema has no field the table lacks", () => {
  assert.deepEqual(Object.keys(PgDatabaseSpecSchema.properties), FIELD_NAMES);
  for (const f of FIELD_NAMES) assert.ok(BEHAVIOURS.includes(behaviourOf(f)!), f);
});

test("each behaviour carries what it needs: CREATE options, ALTERs for mutable fields, none for policies", () => {
  for (const f of FIELD_NAMES) {
    const e = FIELDS[f] as { behaviour: Behaviour; createOption?: unknown; alter?: unknown; alterSql?: unknown };
    if (e.behaviour === "mutable") assert.ok(e.createOption && e.alter && e.alterSql, `${f} is mutable but cannot be created or altered`);
    if (e.behaviour === "immutable" || e.behaviour === "creationOnly") assert.ok(e.createOption && !e.alter, f);
    if (e.behaviour === "policy") assert.ok(!e.createOption && !e.alter, f);
  }
  assert.deepEqual(
    CREATE_FIELDS.filter((f) => !OBSERVED_FIELDS.includes(f as never)),
    ["template"],
  );
});

/** A database as observed, with every field the catalog reports (icuLocale only exists for ICU databases). */
const appDb: ObservedDatabase = {
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
};

test("every observed field is read from the catalog (ObservedDatabase has a key for each)", () => {
  const observed: Required<Omit<ObservedDatabase, "comment" | "extensions" | "access" | "roleConfig">> = { ...appDb, icuLocale: "und" };
  for (const f of OBSERVED_FIELDS) assert.ok(f in observed, f);
});

// Regression (the three places that disagreed): the plan, the provider's diff and the CRD's CEL rule now take one
// rule from core/database/fields. Adding an immutable field that matches the database is no change anywhere; changing it from
// one value to another is a change everywhere.
test("adding encoding UTF8 to a UTF8 database is no change in the provider, the plan or the CRD rule", () => {
  const olds = { name: "app", manager: "m" };
  const news = { name: "app", encoding: "UTF8", manager: "m" };
  assert.deepEqual(changedFields(olds, news), []);
  const parsed = parseDatabaseSpec({ name: "app", encoding: "UTF8" });
  assert.ok(parsed.ok);
  const db: ObservedDatabase = { ...appDb, comment: ownershipStamp("m") };
  assert.deepEqual(planDatabase(parsed.spec, db, { manager: "m" }), []);
  const rule = (specSchema()["x-kubernetes-validations"] as { rule: string }[]).find((r) => r.rule.includes("oldSelf.encoding"))!.rule;
  assert.match(rule, /^!has\(self.encoding\) \|\| !has\(oldSelf.encoding\) \|\| self.encoding.upperAscii\(\)/);
});

// Regression: the README says any spelling of an encoding works, but the CRD compared raw strings and refused
// utf-8 on an object created with UTF8; the provider replaced a database whose lcCollate went from C.UTF-8 to C.utf8.
test("two spellings of one encoding or locale are no change in the provider, the plan or the CRD rule", () => {
  assert.equal(replacingChange("encoding", "UTF8", "utf-8"), false);
  assert.equal(replacingChange("encoding", "UTF8", "utf_8"), false);
  assert.equal(replacingChange("lcCollate", "C.UTF-8", "c.utf8"), false);
  assert.equal(replacingChange("lcCollate", "C.UTF-8", "POSIX"), true);
  assert.deepEqual(changedFields({ name: "app", lcCtype: "en_US.UTF-8" }, { name: "app", lcCtype: "en_US.utf8" }), []);
  const cel = (field: string) =>
    (specSchema()["x-kubernetes-validations"] as { rule: string }[]).find((r) => r.rule.includes(`oldSelf.${field}`))!.rule;
  assert.match(cel("encoding"), /self.encoding.upperAscii\(\).replace\('-', ''\)/);
  assert.match(cel("lcCollate"), /self.lcCollate.lowerAscii\(\).replace\('utf-8', 'utf8'\)/);
});

test("replacingChange: the name always, other replacing fields only from one value to another", () => {
  assert.deepEqual(REPLACING_FIELDS, ["name", "template", "encoding", "localeProvider", "icuLocale", "lcCollate", "lcCtype"]);
  assert.equal(replacingChange("name", "a", "b"), true);
  assert.equal(replacingChange("encoding", undefined, "UTF8"), false);
  assert.equal(replacingChange("encoding", "UTF8", undefined), false);
  assert.equal(replacingChange("encoding", "UTF8", "LATIN1"), true);
  assert.equal(replacingChange("owner", "a", "b"), false);
  assert.deepEqual(changedFields({ name: "app", encoding: "UTF8" }, { name: "app", encoding: "LATIN1", owner: "x" }), [
    "owner",
    "encoding",
  ]);
});
