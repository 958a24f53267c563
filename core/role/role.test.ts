import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ROLE_ATTRIBUTES, ROLE_FIELD_NAMES } from "./fields";
import type { ObservedRole } from "./observe";
import { planRole } from "./plan";
import { parseRoleSpec, type PgRoleSpec } from "./spec";
import { describeRoleStep, roleStepSql } from "./steps";

const ctx = { manager: "pulumi:app/dev" };
function spec(input: object): PgRoleSpec {
  const r = parseRoleSpec(input);
  assert.ok(r.ok, JSON.stringify(r));
  return r.spec;
}
const observed = (over: Partial<ObservedRole> = {}): ObservedRole => ({
  name: "app",
  oid: 1,
  login: true,
  inherit: true,
  createdb: false,
  createrole: false,
  connectionLimit: -1,
  superuser: false,
  memberOf: [],
  config: {},
  comment: "managed by pg-kopf: pulumi:app/dev",
  ...over,
});

describe("role spec", () => {
  it("defaults: login, retain, no takeover", () => {
    assert.deepEqual(spec({ name: "app" }), { name: "app", login: true, reclaimPolicy: "retain", adopt: false });
  });
  it("refuses superuser, replication and bypassrls, naming the field and why", () => {
    const r = parseRoleSpec({ name: "app", superuser: true, replication: false, bypassrls: true });
    assert.ok(!r.ok);
    assert.deepEqual(
      r.failures.map((f) => f.field),
      ["superuser", "replication", "bypassrls"],
    );
    assert.match(r.failures[0].message, /not supported: a superuser bypasses every check; a declarative tool must not be a path to it/);
  });
  it("refuses pg_ names, reserved names, names over 63 bytes, and server-file roles in memberOf", () => {
    for (const [name, message] of [
      ["pg_monitor", /reserved for system roles/],
      ["PUBLIC", /reserved/],
      ["current_user", /reserved/],
      ["ü".repeat(32), /64 bytes; Postgres names are at most 63 bytes/],
    ] as const) {
      const r = parseRoleSpec({ name });
      assert.ok(!r.ok && r.failures[0].field === "name" && message.test(r.failures[0].message), `${name}: ${JSON.stringify(r)}`);
    }
    const r = parseRoleSpec({ name: "app", memberOf: ["pg_read_all_data", "pg_execute_server_program", "app"] });
    assert.ok(!r.ok);
    assert.deepEqual(
      r.failures.map((f) => f.field),
      ["memberOf.1", "memberOf.2"],
    );
  });
  it("validUntil must be a timestamp or infinity; unknown fields are named", () => {
    const r = parseRoleSpec({ name: "app", validUntil: "next tuesday", passwd: "x" });
    assert.ok(!r.ok);
    assert.match(JSON.stringify(r.failures), /passwd.*unknown field/);
    assert.match(JSON.stringify(r.failures), /validUntil.*is not a timestamp/);
  });
  it("every field is classified, and every attribute is observed", () => {
    assert.ok(ROLE_FIELD_NAMES.length > 0);
    for (const a of ROLE_ATTRIBUTES) assert.ok(a in observed({ validUntil: "infinity" }), a);
  });
});

describe("role plan", () => {
  it("creates, stamps and grants in that order; the password shows as <redacted>", () => {
    const steps = planRole(spec({ name: "app", createdb: true, memberOf: ["readers"] }), undefined, ctx, {
      verifier: "SCRAM-SHA-256$4096:x$y:z",
    });
    assert.deepEqual(steps.map(describeRoleStep), [
      'CREATE ROLE "app" WITH LOGIN CREATEDB PASSWORD <redacted>',
      `COMMENT ON ROLE "app" IS 'managed by pg-kopf: pulumi:app/dev'`,
      'GRANT "readers" TO "app"',
    ]);
    assert.equal(roleStepSql(steps[0]), `CREATE ROLE "app" WITH LOGIN CREATEDB PASSWORD 'SCRAM-SHA-256$4096:x$y:z'`);
  });
  it("alters only what differs; memberOf is the whole list; validUntil compares instants", () => {
    const have = observed({ memberOf: ["old", "readers"], validUntil: "2030-01-01T00:00:00+00:00" });
    const want = spec({ name: "app", login: false, memberOf: ["readers", "writers"], validUntil: "2030-01-01T00:00:00Z" });
    assert.deepEqual(planRole(want, have, ctx).map(describeRoleStep), [
      'ALTER ROLE "app" WITH NOLOGIN',
      'GRANT "writers" TO "app"',
      'REVOKE "old" FROM "app"',
    ]);
    assert.deepEqual(planRole(spec({ name: "app" }), observed({ memberOf: ["kept"] }), ctx), [], "memberOf unset: memberships untouched");
  });
  it("refuses another manager's role, an unstamped one without adopt, and any superuser", () => {
    assert.throws(
      () => planRole(spec({ name: "app" }), observed({ comment: "managed by pg-kopf: kubernetes:a/b" }), ctx),
      /role "app" exists and is managed by kubernetes:a\/b/,
    );
    assert.throws(() => planRole(spec({ name: "app" }), observed({ comment: undefined }), ctx), /was not created by pg-kopf.*adopt: true/);
    assert.deepEqual(
      planRole(spec({ name: "app", adopt: true }), observed({ comment: undefined }), ctx).map((s) => s.kind),
      ["stampRole"],
    );
    assert.throws(
      () => planRole(spec({ name: "app", adopt: true }), observed({ comment: undefined, superuser: true }), ctx),
      /is a superuser/,
    );
  });
  it("config: SET what differs (lists compared item by item), RESET what pg-kopf set and the map dropped; keys are allowlisted", () => {
    const have = observed({ config: { search_path: '"$user", public', statement_timeout: "30s", lock_timeout: "5s", work_mem: "4MB" } });
    const want = spec({ name: "app", config: { search_path: "$user,public", statement_timeout: "60s" } });
    const previous = { config: { search_path: "$user,public", statement_timeout: "30s", lock_timeout: "5s" } };
    assert.deepEqual(planRole(want, have, { ...ctx, previous }).map(describeRoleStep), [
      `ALTER ROLE "app" SET "statement_timeout" TO '60s'`,
      'ALTER ROLE "app" RESET "lock_timeout"',
    ]);
    assert.deepEqual(
      planRole(spec({ name: "app", config: { search_path: "app, public" } }), undefined, ctx)
        .map(describeRoleStep)
        .slice(-1),
      [`ALTER ROLE "app" SET "search_path" TO 'app', 'public'`],
    );
    const r = parseRoleSpec({ name: "app", config: { session_preload_libraries: "x", Search_Path: "x", statement_timeout: "30 sec" } });
    assert.ok(!r.ok);
    assert.deepEqual(
      r.failures.map((f) => f.field),
      ["config.session_preload_libraries", "config.Search_Path", "config.statement_timeout"],
    );
  });
});
