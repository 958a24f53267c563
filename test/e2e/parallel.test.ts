// Parallel operations through the real pulumi CLI: the engine creates and removes resources at once, so twenty roles
// with access to one database are created in one up and removed, with reassignOwnedTo, in one destroy; five rounds,
// with no error. Regression: parallel removals failed "tuple concurrently updated" on the database's shared ACL rows, and
// before 16 "duplicate key value" when each gave the admin their common heir.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startPostgres, type TestPostgres } from "../harness/postgres";
import { createTestStack, localStackConfig, type TestStack } from "../harness/pulumi";

const ROLES = 20;
const ROUNDS = 5;
let pg: TestPostgres;
let t: TestStack;
const onOutput = () => undefined;

const names = Array.from({ length: ROLES }, (_, i) => `crowd_${i}`);
const roles = names.map((name) => ({ name, login: false, reclaimPolicy: "delete", reassignOwnedTo: "heir" }));
// Retained by destroy, so that every role's removal reassigns and drops what it has in it, all at once.
const databases = [
  {
    name: "crowded",
    reclaimPolicy: "retain",
    schemas: [{ name: "app" }],
    access: names.map((role) => ({ role, level: "read" })),
  },
];

before(async () => {
  pg = await startPostgres();
  await pg.query("CREATE ROLE heir NOLOGIN");
  t = await createTestStack("parallel", { ...localStackConfig(pg, databases), roles: { value: JSON.stringify(roles) } }, pg);
});
after(() => {
  pg?.destroy();
  t?.destroyDir();
});

describe(`${ROLES} roles in one up and one destroy`, () => {
  for (let round = 1; round <= ROUNDS; round++) {
    test(`round ${round}: created with read access to one database, then removed with reassign, with no error`, async () => {
      const up = await t.stack.up({ onOutput });
      assert.equal(up.summary.result, "succeeded");
      // Each role owns a table and holds privileges on a shared one: what its removal reassigns and drops.
      await pg.query("CREATE TABLE IF NOT EXISTS app.shared (id int)", [], "crowded");
      for (const n of names)
        await pg.query(
          `GRANT CREATE ON SCHEMA app TO ${n}; CREATE TABLE app.${n}_${round} (id int); ALTER TABLE app.${n}_${round} OWNER TO ${n}; GRANT SELECT ON app.shared TO ${n}`,
          [],
          "crowded",
        );
      const destroyed = await t.stack.destroy({ onOutput });
      assert.equal(destroyed.summary.result, "succeeded");
      assert.deepEqual(await pg.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'crowd\\_%'"), []);
      const [{ n }] = await pg.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'app' AND tableowner = 'heir'",
        [],
        "crowded",
      );
      assert.equal(n, ROLES * round, "every role's table went to the heir");
    });
  }
});
