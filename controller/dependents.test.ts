import assert from "node:assert/strict";
import { test } from "node:test";
import { databasesWaitingFor, rolesWaitingOn } from "./dependents";
import type { CustomObject } from "./resource";

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
  ];
  assert.deepEqual(databasesWaitingFor("app", databases), ["team/waiting", "team/new", "team/grants"]);
  assert.deepEqual(databasesWaitingFor(undefined, databases), []);
});

test("a database released brings back the deletion of the role that owned it", () => {
  const roles = [
    object("app", { name: "app" }, "Deleting", true),
    object("live", { name: "app" }, "Reconciled"),
    object("x", { name: "x" }, "Deleting", true),
  ];
  assert.deepEqual(rolesWaitingOn("app", roles), ["team/app"]);
});
