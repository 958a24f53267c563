import { test } from "node:test";
import assert from "node:assert/strict";
import { buildStatus, sameStatus } from "./status";
import type { PgDatabaseObject } from "./objects";

const details = { database: { oid: 16384, owner: "app_owner", encoding: "UTF8", tablespace: "pg_default", connectionLimit: -1 } };
const object = (status?: PgDatabaseObject["status"]): PgDatabaseObject => ({
  apiVersion: "my.local/v1",
  kind: "PgDatabase",
  metadata: { name: "app", namespace: "default", uid: "u", generation: 2 },
  spec: { name: "app" },
  status,
});

// Regression: a failed reconcile kept the status.database of an earlier success (the old status was spread).
test("the status is rebuilt from this reconcile: a failure carries no database, history stays", () => {
  const ok = buildStatus(object(), { ready: true, reason: "Reconciled", message: "ok", details, appliedSql: ['CREATE DATABASE "app"'] });
  assert.equal(ok.database?.oid, 16384);
  const failed = buildStatus(object(ok), { ready: false, reason: "PostgresUnavailable", message: "down" });
  assert.equal(failed.database, undefined);
  assert.deepEqual(failed.lastAppliedSql, ['CREATE DATABASE "app"']);
  assert.deepEqual(
    failed.conditions?.map((c) => c.reason),
    ["PostgresUnavailable"],
  );
});

// Regression: statuses were compared as JSON strings, so the API server's key order made every resync a write.
test("statuses are compared by value, whatever the order of their keys", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  const status = buildStatus(object(), { ready: true, reason: "Reconciled", message: "ok", details }, now);
  const reordered = JSON.parse(JSON.stringify(status, Object.keys(status).sort().reverse()));
  const serverOrder = {
    ...reordered,
    conditions: status.conditions?.map((c) => Object.fromEntries(Object.entries(c).reverse())),
    database: status.database,
  };
  assert.notEqual(JSON.stringify(serverOrder), JSON.stringify(status));
  assert.ok(sameStatus(status, serverOrder));
  assert.ok(!sameStatus(status, { ...serverOrder, observedGeneration: 1 }));
});
