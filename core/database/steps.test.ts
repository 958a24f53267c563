import { test } from "node:test";
import assert from "node:assert/strict";
import { describeDatabaseStep, type DatabaseStep, databaseStepField, databaseStepSql, databaseStepTarget } from "./steps";
import { classifyError, InvalidSpec } from "../errors";

test("identifiers and literals are escaped by the driver", () => {
  assert.equal(databaseStepSql({ kind: "alterOwner", database: 'we"ird', owner: "o'wner" }), 'ALTER DATABASE "we""ird" OWNER TO "o\'wner"');
  assert.equal(
    databaseStepSql({ kind: "stampOwnership", database: "app", manager: "m", comment: "it's ours" }),
    `COMMENT ON DATABASE "app" IS 'it''s ours'`,
  );
});

test("CREATE DATABASE carries every option that was set, and only those", () => {
  assert.equal(databaseStepSql({ kind: "createDatabase", database: "app" }), 'CREATE DATABASE "app"');
  assert.equal(
    databaseStepSql({
      kind: "createDatabase",
      database: "app",
      owner: "bob",
      template: "template0",
      encoding: "UTF8",
      lcCollate: "C",
      lcCtype: "C",
      connectionLimit: 5,
      allowConnections: true,
      isTemplate: false,
    }),
    `CREATE DATABASE "app" WITH OWNER "bob" TEMPLATE "template0" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' ` +
      "ALLOW_CONNECTIONS true CONNECTION LIMIT 5 IS_TEMPLATE false",
  );
});

test("a number that is not an integer never reaches SQL", () => {
  assert.throws(() => databaseStepSql({ kind: "alterConnectionLimit", database: "app", connectionLimit: 1.5 }), TypeError);
});

test("drops are marked destructive for reviewers", () => {
  assert.equal(
    describeDatabaseStep({ kind: "dropDatabase", database: "app", force: true }),
    '[destructive] DROP DATABASE IF EXISTS "app" WITH (FORCE)',
  );
  assert.equal(
    describeDatabaseStep({ kind: "createExtension", database: "app", extension: "citext" }),
    'SET LOCAL search_path TO public; CREATE EXTENSION IF NOT EXISTS "citext"',
  );
});

test("every step says where it runs and which spec field its failure names", () => {
  const grant: DatabaseStep = { kind: "grant", database: "app", privileges: ["CONNECT"], on: "database", schema: "", role: "r" };
  assert.equal(databaseStepTarget({ kind: "alterConnectionLimit", database: "app", connectionLimit: 5 }), undefined);
  assert.equal(databaseStepTarget({ kind: "createSchema", database: "app", schema: "s" }), "app");
  assert.equal(databaseStepTarget(grant), "app");
  assert.equal(databaseStepField({ kind: "alterConnectionLimit", database: "app", connectionLimit: 5 }), "connectionLimit");
  assert.equal(databaseStepField({ kind: "alterOwner", database: "app", owner: "o" }), "owner");
  assert.equal(databaseStepField({ kind: "createExtension", database: "app", extension: "citext" }), "extensions");
  // Regression: a failure of an access step with an SQLSTATE the table maps named the field owner.
  const missing = Object.assign(new Error('role "r" does not exist'), { code: "42704" });
  const e = classifyError(missing, databaseStepField(grant));
  assert.ok(e instanceof InvalidSpec);
  assert.equal(e.failures[0].field, "access");
});
