// Parallel operations on one server, as the engine (resources in parallel) and the controller (several reconciles at
// once) run them: 20 roles created, granted on one schema and table, and removed with reassignOwnedTo, all at once,
// five rounds, with no error. Regression: parallel DROP OWNED failed "tuple concurrently updated" on the shared ACLs.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Client } from "pg";
import * as core from "../../core";
import { clientConfig } from "../../core/connect";
import { startPostgres, type TestPostgres } from "../harness/postgres";

const { role } = core;
const ROLES = 20;
const ROUNDS = 5;
let pg: TestPostgres;
let settings: core.ConnectionSettings;

const roleSpec = (name: string): core.role.PgRoleSpec => {
  const r = role.parseRoleSpec({ name, login: false, memberOf: ["crowd"], reclaimPolicy: "delete", reassignOwnedTo: "heir" });
  if (!r.ok) throw new Error(JSON.stringify(r.failures));
  return r.spec;
};

before(async () => {
  pg = await startPostgres();
  // A connection per operation, as the provider's pool and the controller's do under load.
  settings = core.withPool(pg.settings(), 10);
  await pg.query("CREATE ROLE crowd NOLOGIN");
  await pg.query("CREATE ROLE heir NOLOGIN");
});
after(async () => {
  await settings.pool?.end();
  pg?.destroy();
});

describe(`${ROLES} roles at once, ${ROUNDS} rounds`, () => {
  for (let round = 1; round <= ROUNDS; round++) {
    test(`round ${round}: created, granted read on one schema and table, and removed with reassign, in parallel`, async () => {
      const ctx = { manager: "test:parallel" };
      const names = Array.from({ length: ROLES }, (_, i) => `many_${round}_${i}`);
      const database = `crowded_${round}`;
      await Promise.all(names.map((n) => role.convergeRole(settings, roleSpec(n), ctx)));
      const db = core.parseDatabaseSpec({
        name: database,
        schemas: [{ name: "app" }],
        access: names.map((n) => ({ role: n, level: "read" })),
        reclaimPolicy: "delete",
      });
      if (!db.ok) throw new Error(JSON.stringify(db.failures));
      await core.convergeDatabase(settings, db.spec, ctx);
      await pg.query("CREATE TABLE app.shared (id int)", [], database);
      // Each role owns a table and holds privileges on the shared one, the schema and the database (one at a time:
      // these hand-made statements would race each other just the same).
      for (const n of names)
        await pg.query(
          `GRANT CREATE ON SCHEMA app TO ${n}; CREATE TABLE app.${n} (id int); ALTER TABLE app.${n} OWNER TO ${n}; GRANT SELECT ON app.shared TO ${n}`,
          [],
          database,
        );
      await core.convergeDatabase(settings, db.spec, { ...ctx, previous: { access: db.spec.access } });
      const results = await Promise.allSettled(names.map((n) => role.reclaimRole(settings, roleSpec(n), ctx)));
      const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`${names[i]}: ${(r.reason as Error).message}`] : []));
      assert.deepEqual(failed, [], "every removal succeeds");
      const left = await pg.query("SELECT rolname FROM pg_roles WHERE rolname LIKE $1", [`many_${round}_%`]);
      assert.deepEqual(left, [], "every role is gone");
      const owned = await pg.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'app' AND tableowner = 'heir'",
        [],
        database,
      );
      assert.deepEqual(owned, [{ n: ROLES }], "every table went to the heir, none lost");
    });
  }
});

// Regression: the first round's removals each gave the admin their heir at once; on a non-superuser admin the losers
// failed "duplicate key value violates unique constraint pg_auth_members_role_member_index" instead of going on.
test("two transactions granting one role to one member at once: the loser's failure is a race, and run again it passes", async () => {
  await pg.query("CREATE ROLE granted_twice NOLOGIN; CREATE ROLE grantee_twice NOLOGIN");
  const [a, b] = [new Client(clientConfig(pg.settings())), new Client(clientConfig(pg.settings()))];
  await Promise.all([a.connect(), b.connect()]);
  try {
    await a.query("BEGIN");
    await a.query("GRANT granted_twice TO grantee_twice");
    await b.query("BEGIN");
    // Before 16, b waits on a's uncommitted row in the catalog's unique index, then fails once a commits.
    const lost = b.query("GRANT granted_twice TO grantee_twice").then(
      () => undefined,
      (err: unknown) => err,
    );
    await new Promise((r) => setTimeout(r, 200));
    await a.query("COMMIT");
    const err = await lost;
    await b.query("ROLLBACK");
    // From 16 the GRANT locks the role first, and the second waits and finds the membership there.
    const [{ v }] = await pg.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v");
    if (v < 160000) assert.ok(err, "the second GRANT failed");
    if (err) assert.ok(core.isConcurrencyFailure(err), String((err as Error).message));
    // Run again, as retryingRaces does, it passes: the membership is there.
    await core.retryingRaces(() => b.query("GRANT granted_twice TO grantee_twice"));
    // A unique violation of the user's own, not the catalog's, is no race.
    assert.ok(!core.isConcurrencyFailure({ code: "23505", constraint: "orders_pkey" }));
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
});
