import assert from "node:assert/strict";
import { test } from "node:test";
import { LEVELS } from "../core/database/access";
import { pgDatabaseCrd } from "./pgdatabase";
import { pgRoleCrd } from "./pgrole";
import { pgServerCrd } from "./pgserver";
import { DatabaseStatusFields, RoleStatusFields, ServerStatusFields } from "./status";
import type { Schema } from "./structural";

const COMMON = ["observedGeneration", "conditions", "lastAppliedSql"];
const statusOf = (crd: Schema) => (crd as any).spec.versions[0].schema.openAPIV3Schema.properties.status as Schema;
const required = (s: unknown): string[] =>
  s && typeof s === "object" ? Object.entries(s as Schema).flatMap(([k, v]) => (k === "required" ? [String(v)] : required(v))) : [];

test("each CRD's status is the common part plus exactly the kind's own fields, from one schema", () => {
  for (const [crd, fields] of [
    [pgDatabaseCrd(), DatabaseStatusFields],
    [pgRoleCrd(), RoleStatusFields],
    [pgServerCrd(), ServerStatusFields],
  ] as const) {
    const status = statusOf(crd);
    assert.deepEqual(Object.keys(status.properties as Schema).sort(), [...COMMON, ...Object.keys(fields.properties)].sort());
    // The kind's own part insists on no field (a status says what was seen); only conditions name their keys.
    const own = Object.fromEntries(Object.entries(status.properties as Schema).filter(([k]) => !COMMON.includes(k)));
    assert.deepEqual(required(own), []);
  }
});

test("a PgDatabase's recorded access levels are the spec's levels", () => {
  const access = (statusOf(pgDatabaseCrd()).properties as any).access;
  assert.deepEqual(access.items.properties.level, { type: "string", enum: [...LEVELS] });
});
