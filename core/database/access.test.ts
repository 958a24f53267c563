import assert from "node:assert/strict";
import { test } from "node:test";
import { escapeIdentifier } from "pg";
import { accessStepSql, type HeldPrivilege, type ObservedAccess, planAccess } from "./access";
import { parseDatabaseSpec } from "./spec";

const held = (role: string, object: string, schema: string, privileges: string[]): HeldPrivilege[] =>
  privileges.map((privilege) => ({ role, object, schema, privilege, missing: 0, present: 1 }));
/** A database where "app" has full write access, by level, on public (one table, one sequence). */
const observed: ObservedAccess = {
  schemas: [{ name: "public", owner: "pg_database_owner" }],
  roles: ["app"],
  privileges: [
    ...held("app", "database", "", ["CONNECT"]),
    ...held("app", "schema", "public", ["USAGE"]),
    ...held("app", "tables", "public", ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES"]),
    ...held("app", "sequences", "public", ["SELECT", "USAGE", "UPDATE"]),
    ...held("app", "default:owner:tables", "public", ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"]),
    ...held("app", "default:owner:sequences", "public", ["SELECT", "USAGE", "UPDATE"]),
    ...held("PUBLIC", "database", "", ["CONNECT", "TEMPORARY"]),
  ],
};
const spec = { database: "db", owner: "owner", schemas: [], revokePublic: false };
const sql = (steps: ReturnType<typeof planAccess>) => steps.map((s) => accessStepSql(s, escapeIdentifier));

test("what a role holds by its level plans nothing", () => {
  assert.deepEqual(planAccess({ ...spec, access: [{ role: "app", level: "write" }] }, observed, [{ role: "app", level: "write" }]), []);
});

test("lowering write to read revokes what write adds, and nothing read keeps or no level grants", () => {
  assert.deepEqual(sql(planAccess({ ...spec, access: [{ role: "app", level: "read" }] }, observed, [{ role: "app", level: "write" }])), [
    'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA "public" FROM "app"',
    'REVOKE USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA "public" FROM "app"',
    'ALTER DEFAULT PRIVILEGES FOR ROLE "owner" IN SCHEMA "public" REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON TABLES FROM "app"',
    'ALTER DEFAULT PRIVILEGES FOR ROLE "owner" IN SCHEMA "public" REVOKE USAGE, UPDATE ON SEQUENCES FROM "app"',
  ]);
});

test("without a record of what pg-kopf granted, nothing is revoked", () => {
  assert.deepEqual(planAccess({ ...spec, access: [] }, observed, []), []);
  assert.deepEqual(planAccess({ ...spec, access: [{ role: "app", level: "connect" }] }, observed), []);
});

test("revokePublic takes CONNECT from PUBLIC, and only what PUBLIC has", () => {
  assert.deepEqual(sql(planAccess({ ...spec, access: [], revokePublic: true }, observed)), ['REVOKE CONNECT ON DATABASE "db" FROM PUBLIC']);
});

test("a grant to a hostile name is escaped; a privilege outside the levels is refused", () => {
  const steps = planAccess(
    { ...spec, access: [{ role: 'x"; DROP ROLE y; --', level: "connect" }] },
    { ...observed, roles: ['x"; DROP ROLE y; --'] },
  );
  assert.deepEqual(sql(steps), ['GRANT CONNECT ON DATABASE "db" TO "x""; DROP ROLE y; --"']);
  assert.throws(
    () =>
      accessStepSql({ kind: "grant", database: "db", privileges: ["ALL; DROP"], on: "database", schema: "", role: "r" }, escapeIdentifier),
    /not a privilege pg-kopf grants/,
  );
});

test("the spec refuses two entries for one role or schema, system schemas, and PUBLIC as a role", () => {
  const r = parseDatabaseSpec({
    name: "db",
    schemas: [{ name: "app" }, { name: "app" }, { name: "pg_x" }, { name: "public" }],
    access: [
      { role: "a", level: "read" },
      { role: "a", level: "write" },
      { role: "public", level: "read" },
      { role: "b", level: "admin" },
    ],
  });
  assert.ok(!r.ok);
  assert.deepEqual(r.failures.map((f) => f.field).sort(), [
    "access.1.role",
    "access.2.role",
    "access.3.level",
    "schemas.1.name",
    "schemas.2.name",
    "schemas.3.name",
  ]);
});
