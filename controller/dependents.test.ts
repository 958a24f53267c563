import assert from "node:assert/strict";
import { test } from "node:test";
import { databasesWaitingFor, objectsOn, rolesWaitingOn } from "./dependents";
import type { CustomObject } from "./runtime/objects";

const object = (name: string, spec: Record<string, unknown>, reason?: string, deleting = false): CustomObject => ({
  apiVersion: "my.local/v1",
  kind: "X",
  metadata: { name, namespace: "team", uid: name, ...(deleting ? { deletionTimestamp: "2026-11-28T00:00:00Z" as unknown as Date } : {}) },
  spec,
  status: reason ? { conditions: [{ type: "Ready", status: "False", reason, message: "", lastTransitionTime: "" }] } : undefined,
});

test("a role that became Ready brings back the databases it owns that are not Ready", () => {
  const databases = [
    object("waiting", { name: "a", owner: "app" }, "InvalidSpec"),
    object("new", { name: "b", owner: "app" }),
    object("done", { name: "c", owner: "app" }, "Reconciled"),
    object("other", { name: "d", owner: "someone" }, "InvalidSpec"),
    object("going", { name: "e", owner: "app" }, "InvalidSpec", true),
    object("grants", { name: "f", access: [{ role: "app", level: "read" }] }, "RoleMissing"),
    object("settings", { name: "h", roleConfig: { app: { work_mem: "64MB" } } }, "RoleMissing"),
    // Another server's role of the same name is another role.
    object("elsewhere", { name: "g", owner: "app", server: "b" }, "InvalidSpec"),
  ];
  assert.deepEqual(databasesWaitingFor(object("app", { name: "app" }), databases), [
    "team/waiting",
    "team/new",
    "team/grants",
    "team/settings",
  ]);
  assert.deepEqual(databasesWaitingFor(object("app", { name: "app", server: "b" }), databases), ["team/elsewhere"]);
  assert.deepEqual(databasesWaitingFor(undefined, databases), []);
});

test("a database released brings back the deletion of the role that owned it", () => {
  const roles = [
    object("app", { name: "app" }, "Deleting", true),
    object("live", { name: "app" }, "Reconciled"),
    object("x", { name: "x" }, "Deleting", true),
    object("app-b", { name: "app", server: "b" }, "Deleting", true),
  ];
  assert.deepEqual(rolesWaitingOn(object("db", { name: "db", owner: "app" }), roles), ["team/app"]);
  assert.deepEqual(rolesWaitingOn(object("db", { name: "db", owner: "app", server: "b" }), roles), ["team/app-b"]);
  assert.deepEqual(rolesWaitingOn(undefined, roles), []);
});

test("a server's change concerns the objects on it; no spec.server is the default server", () => {
  const objects = [object("a", { name: "a" }), object("b", { name: "b", server: "b" }), object("c", { name: "c", server: "default" })];
  assert.deepEqual(objectsOn("default", objects), ["team/a", "team/c"]);
  assert.deepEqual(objectsOn("b", objects), ["team/b"]);
});
