import { test } from "node:test";
import assert from "node:assert/strict";
import { stepSql, describeStep } from "./steps";

test("identifiers and literals are escaped by the driver", () => {
  assert.equal(stepSql({ kind: "alterOwner", database: 'we"ird', owner: "o'wner" }), 'ALTER DATABASE "we""ird" OWNER TO "o\'wner"');
  assert.equal(
    stepSql({ kind: "stampOwnership", database: "app", manager: "m", comment: "it's ours" }),
    `COMMENT ON DATABASE "app" IS 'it''s ours'`,
  );
});

test("CREATE DATABASE carries every option that was set, and only those", () => {
  assert.equal(stepSql({ kind: "createDatabase", database: "app" }), 'CREATE DATABASE "app"');
  assert.equal(
    stepSql({
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
  assert.throws(() => stepSql({ kind: "alterConnectionLimit", database: "app", connectionLimit: 1.5 }), TypeError);
});

test("drops are marked destructive for reviewers", () => {
  assert.equal(
    describeStep({ kind: "dropDatabase", database: "app", force: true }),
    '[destructive] DROP DATABASE IF EXISTS "app" WITH (FORCE)',
  );
  assert.equal(describeStep({ kind: "createExtension", database: "app", extension: "citext" }), 'CREATE EXTENSION IF NOT EXISTS "citext"');
});
