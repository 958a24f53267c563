import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PG_DATABASE, PG_ROLE, type PgDatabaseObject, ROTATE_ANNOTATION } from "./objects";
import { changesReconcile } from "./watcher";

function object(metadata: Partial<PgDatabaseObject["metadata"]> = {}, status?: PgDatabaseObject["status"]): PgDatabaseObject {
  return {
    apiVersion: "my.local/v1",
    kind: "PgDatabase",
    metadata: {
      name: "app",
      namespace: "team",
      uid: "u",
      generation: 1,
      resourceVersion: "10",
      finalizers: [PG_DATABASE.finalizer],
      ...metadata,
    },
    spec: { name: "app" },
    status,
  };
}

describe("which updates reach the work queue", () => {
  const before = object();
  it("a new spec, a deletion, and our finalizer taken away do", () => {
    assert.ok(changesReconcile(PG_DATABASE, before, object({ generation: 2, resourceVersion: "11" })));
    assert.ok(changesReconcile(PG_DATABASE, before, object({ deletionTimestamp: "2026-01-01T00:00:00Z" as unknown as Date })));
    assert.ok(changesReconcile(PG_DATABASE, before, object({ finalizers: ["someone.else/finalizer"] })));
  });
  it("the controller's own writes do not: status, its finalizer added, the creation intent", () => {
    const ready = { observedGeneration: 1, conditions: [] };
    assert.ok(!changesReconcile(PG_DATABASE, before, object({ resourceVersion: "11" }, ready)));
    assert.ok(!changesReconcile(PG_DATABASE, object({ finalizers: undefined }), before));
    assert.ok(!changesReconcile(PG_DATABASE, before, object({ annotations: { "pgdatabases.my.local/creating": "app" } })));
  });
  it("a rotation asked for by annotation does; another annotation does not", () => {
    assert.ok(changesReconcile(PG_ROLE, before, object({ annotations: { [ROTATE_ANNOTATION]: "2026-11-28" } })));
    assert.ok(!changesReconcile(PG_ROLE, before, object({ annotations: { "example.com/team": "a" } })));
  });
});
