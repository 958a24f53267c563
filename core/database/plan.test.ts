import { test } from "node:test";
import assert from "node:assert/strict";
import { planDatabase, planDatabaseDelete } from "./plan";
import { parseDatabaseSpec, type PgDatabaseSpec } from "./spec";
import type { ObservedDatabase } from "./observe";
import { ownershipStamp } from "../ownership";
import { DatabaseInUse, InvalidSpec, NotOwned } from "../errors";

const ctx = { manager: "pulumi:proj/dev" };
const spec = (input: object): PgDatabaseSpec => {
  const r = parseDatabaseSpec(input);
  if (!r.ok) throw new Error(JSON.stringify(r.failures));
  return r.spec;
};
const observed = (over: Partial<ObservedDatabase> = {}): ObservedDatabase => ({
  name: "app",
  oid: 16384,
  owner: "postgres",
  encoding: "UTF8",
  lcCollate: "C.UTF-8",
  lcCtype: "C.UTF-8",
  localeProvider: "libc",
  tablespace: "pg_default",
  connectionLimit: -1,
  allowConnections: true,
  isTemplate: false,
  config: {},
  comment: ownershipStamp(ctx.manager),
  extensions: ["plpgsql"],
  ...over,
});

test("an absent database is created, stamped, and given its extensions", () => {
  const steps = planDatabase(spec({ name: "app", owner: "bob", encoding: "utf8", extensions: ["citext"] }), undefined, ctx);
  assert.deepEqual(
    steps.map((s) => s.kind),
    ["createDatabase", "stampOwnership", "createExtension"],
  );
  assert.deepEqual(steps[0], { kind: "createDatabase", database: "app", owner: "bob", encoding: "UTF8" });
});

test("a database that matches needs no step, whatever the spec leaves unset", () => {
  assert.deepEqual(planDatabase(spec({ name: "app" }), observed(), ctx), []);
  assert.deepEqual(
    planDatabase(
      spec({ name: "app", owner: "postgres", encoding: "UTF8", lcCollate: "C.utf8", connectionLimit: -1, extensions: ["plpgsql"] }),
      observed(),
      ctx,
    ),
    [],
  );
});

test("mutable fields are altered in place, one statement each", () => {
  const steps = planDatabase(
    spec({ name: "app", owner: "bob", connectionLimit: 10, allowConnections: false, isTemplate: true, tablespace: "fast" }),
    observed(),
    ctx,
  );
  assert.deepEqual(steps, [
    { kind: "alterOwner", database: "app", owner: "bob" },
    { kind: "alterTablespace", database: "app", tablespace: "fast" },
    { kind: "alterAllowConnections", database: "app", allowConnections: false },
    { kind: "alterConnectionLimit", database: "app", connectionLimit: 10 },
    { kind: "alterIsTemplate", database: "app", isTemplate: true },
  ]);
});

// The plan never re-creates, so its refusal advises nothing about reclaimPolicy (regression: it advised "set
// reclaimPolicy: delete first", which re-creates nothing in the cluster, nor for a field added in Pulumi).
test("an immutable field that differs is refused, never turned into a drop, with advice that works everywhere", () => {
  assert.throws(
    () => planDatabase(spec({ name: "app", encoding: "LATIN1", lcCtype: "C", reclaimPolicy: "delete" }), observed(), ctx),
    (e: unknown) =>
      e instanceof InvalidSpec &&
      e.failures.map((f) => f.field).join() === "encoding,lcCtype" &&
      /Keep the old value, or create a new database under another name and migrate\.$/.test(e.failures[0].message) &&
      !/reclaimPolicy/.test(e.message),
  );
});

test("a database nobody stamped is not touched without adopt; adopt stamps it after the rest of the plan", () => {
  assert.throws(
    () => planDatabase(spec({ name: "app" }), observed({ comment: undefined }), ctx),
    (e: unknown) => e instanceof NotOwned && /adopt: true/.test(e.message),
  );
  const steps = planDatabase(spec({ name: "app", adopt: true, owner: "bob" }), observed({ comment: "hand-made" }), ctx);
  assert.deepEqual(
    steps.map((s) => s.kind),
    ["alterOwner", "stampOwnership"],
  );
});

// Regression: adopt: true took a database away from another pg-kopf manager (another namespace's object or a Pulumi
// stack), which then re-created it empty after the new owner dropped it.
test("adopt never takes a database another pg-kopf manager stamped; adoptFrom naming that manager does", () => {
  const theirs = observed({ comment: ownershipStamp("kubernetes:team-a/app") });
  assert.throws(
    () => planDatabase(spec({ name: "app", owner: "bob" }), theirs, ctx),
    (e: unknown) =>
      e instanceof NotOwned && /managed by kubernetes:team-a\/app/.test(e.message) && /adoptFrom: "kubernetes:team-a\/app"/.test(e.message),
  );
  assert.throws(
    () => planDatabase(spec({ name: "app", adopt: true }), theirs, ctx),
    (e: unknown) => e instanceof NotOwned && /adoptFrom/.test(e.message),
  );
  assert.throws(
    () => planDatabase(spec({ name: "app", adoptFrom: "kubernetes:team-a/other" }), theirs, ctx),
    (e: unknown) => e instanceof NotOwned && /name its manager exactly/.test(e.message),
  );
  assert.deepEqual(
    planDatabase(spec({ name: "app", owner: "bob", adoptFrom: "kubernetes:team-a/app" }), theirs, ctx).map((s) => s.kind),
    ["alterOwner", "stampOwnership"],
  );
  assert.throws(
    () => planDatabaseDelete(spec({ name: "app", reclaimPolicy: "delete", adoptFrom: "kubernetes:team-a/app" }), theirs, [], ctx),
    NotOwned,
  );
});

test("a claimed creation finishes an unstamped database, but never one with any comment, and never grants a drop", () => {
  const claim = { ...ctx, claimsUnstamped: true };
  const steps = planDatabase(spec({ name: "app", owner: "bob", extensions: ["citext"] }), observed({ comment: undefined }), claim);
  assert.deepEqual(
    steps.map((s) => s.kind),
    ["alterOwner", "createExtension", "stampOwnership"],
  );
  assert.throws(() => planDatabase(spec({ name: "app" }), observed({ comment: "hand-made" }), claim), NotOwned);
  assert.throws(() => planDatabase(spec({ name: "app" }), observed({ comment: ownershipStamp("pulumi:other/prod") }), claim), NotOwned);
  assert.throws(
    () => planDatabaseDelete(spec({ name: "app", reclaimPolicy: "delete" }), observed({ comment: undefined }), [], claim),
    NotOwned,
  );
});

test("only missing extensions are created", () => {
  const steps = planDatabase(spec({ name: "app", extensions: ["plpgsql", "citext"] }), observed(), ctx);
  assert.deepEqual(steps, [{ kind: "createExtension", database: "app", extension: "citext" }]);
});

test("retain leaves the database; delete drops it; absent is a no-op", () => {
  assert.deepEqual(planDatabaseDelete(spec({ name: "app" }), observed(), [], ctx), []);
  assert.deepEqual(planDatabaseDelete(spec({ name: "app", reclaimPolicy: "delete" }), undefined, [], ctx), []);
  assert.deepEqual(planDatabaseDelete(spec({ name: "app", reclaimPolicy: "delete" }), observed(), [], ctx), [
    { kind: "dropDatabase", database: "app", force: false },
  ]);
});

test("a drop with live sessions is refused and lists who is connected, unless forceDrop", () => {
  const sessions = [{ pid: 42, user: "app_user", application: "api", clientAddress: "10.0.0.7" }];
  assert.throws(
    () => planDatabaseDelete(spec({ name: "app", reclaimPolicy: "delete" }), observed(), sessions, ctx),
    (e: unknown) =>
      e instanceof DatabaseInUse && /pid 42 user app_user app api from 10.0.0.7/.test(e.message) && /forceDrop/.test(e.message),
  );
  assert.deepEqual(planDatabaseDelete(spec({ name: "app", reclaimPolicy: "delete", forceDrop: true }), observed(), sessions, ctx), [
    { kind: "dropDatabase", database: "app", force: true },
  ]);
});

test("a drop never touches a database it does not own, even with adopt", () => {
  assert.throws(
    () => planDatabaseDelete(spec({ name: "app", reclaimPolicy: "delete", adopt: true }), observed({ comment: undefined }), [], ctx),
    NotOwned,
  );
});

test("a template database is unmarked before it is dropped", () => {
  assert.deepEqual(
    planDatabaseDelete(spec({ name: "app", reclaimPolicy: "delete" }), observed({ isTemplate: true }), [], ctx).map((s) => s.kind),
    ["alterIsTemplate", "dropDatabase"],
  );
});
