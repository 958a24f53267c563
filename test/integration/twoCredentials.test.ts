// Two-credential rotation against a real Postgres (every major, with a superuser and with a CREATEROLE admin): a client
// reconnecting every 100 ms through rotations never fails to log in, what a member creates is the owner's, the
// previous member stops logging in when its grace period ends, and a role with tables in two databases switches to
// two members and back without losing what it owns or is granted.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "pg";
import * as core from "../../core";
import { startPostgres, type TestPostgres } from "../harness/postgres";

const { role } = core;
const ctx = { manager: "test:two-credentials" };
let pg: TestPostgres;
let settings: core.ConnectionSettings;

const spec = (input: object): core.role.PgRoleSpec => {
  const r = role.parseRoleSpec(input);
  if (!r.ok) throw new Error(JSON.stringify(r.failures));
  return r.spec;
};
const password = () => randomBytes(18).toString("base64url");
const HOUR = 3600_000;

/** What an app's credentials hold: the role to log in as and its password. */
interface Credentials {
  user: string;
  password: string;
}

async function session<T>(who: Credentials, database: string, run: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ host: pg.host, port: pg.port, user: who.user, password: who.password, database });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}
const whoAmI = (who: Credentials, database = "postgres") =>
  session(who, database, async (c) => (await c.query("SELECT session_user AS s, current_user AS c")).rows[0] as { s: string; c: string });

/** Converges the turns, then points the credentials at the current role: the order a rotation keeps. */
async function rotate(
  s: core.role.PgRoleSpec,
  turns: core.role.Turns,
  secret: string | undefined,
  createMembers = true,
): Promise<{ steps: string[] }> {
  const steps: string[] = [];
  const password = secret ? { password: { verifier: core.scramVerifier(secret) } } : {};
  // What a preview shows, planned from one observation: each role's transaction then runs exactly its part.
  const planned = role.planTurns(s, await role.observeTurnsForPlan(settings, s), ctx, turns, { ...password, createMembers }).flat();
  await role.convergeTurns(settings, s, ctx, turns, {
    ...password,
    createMembers,
    expected: planned,
    onStep: (_s, shown) => steps.push(shown),
  });
  assert.deepEqual(steps, planned, "the statements run are the ones planned");
  const again = role.planTurns(s, await role.observeTurnsForPlan(settings, s), ctx, turns, { createMembers }).flat();
  assert.deepEqual(again, [], "planned again right after: nothing");
  return { steps };
}

before(async () => {
  pg = await startPostgres();
  settings = pg.settings();
  await pg.query("CREATE ROLE reporting NOLOGIN");
});
after(() => pg?.destroy());

describe(`two-credential rotation on Postgres ${process.env.PGKOPF_PG_MAJOR ?? 15} (${process.env.PGKOPF_PG_ADMIN ?? "superuser"} admin)`, () => {
  test("a client reconnecting every 100 ms through three rotations never fails, and acts as the owner", async () => {
    const owner = spec({ name: "app2c" });
    const [a, b] = role.loginMembers("app2c");
    let creds: Credentials = { user: a, password: password() };
    await rotate(owner, { current: a }, creds.password);
    const seen = new Set<string>();
    let ok = 0;
    const failures: string[] = [];
    let running = true;
    const client = (async () => {
      while (running) {
        const who = creds;
        try {
          const { s, c } = await whoAmI(who);
          seen.add(s);
          assert.equal(c, "app2c", "every session acts as the owner");
          ok++;
        } catch (err) {
          failures.push(`${who.user}: ${(err as Error).message}`);
        }
        await sleep(100);
      }
    })();
    for (let i = 0; i < 3; i++) {
      await sleep(700);
      const next = role.nextMember("app2c", creds.user);
      const secret = password();
      await rotate(owner, { current: next, previous: { name: creds.user, until: new Date(Date.now() + HOUR).toISOString() } }, secret);
      creds = { user: next, password: secret };
    }
    await sleep(700);
    running = false;
    await client;
    assert.deepEqual(failures, [], "no connect failed");
    assert.ok(ok >= 20, `${ok} connects`);
    console.log(`[two credentials] ${ok} connects through three rotations, ${failures.length} failed`);
    assert.deepEqual([...seen].sort(), [a, b], "the sessions logged in as both members in turn");
    assert.equal(creds.user, b);

    // What a member creates belongs to the owner (its sessions run with role = owner).
    await pg.query("CREATE DATABASE two_cred_db");
    await pg.query('GRANT CREATE ON DATABASE two_cred_db TO "app2c"', [], "postgres");
    await session(creds, "two_cred_db", (c) => c.query("CREATE SCHEMA made_by_member"));
    const [{ owner: schemaOwner }] = await pg.query<{ owner: string }>(
      "SELECT nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = 'made_by_member'",
      [],
      "two_cred_db",
    );
    assert.equal(schemaOwner, "app2c");

    // The grace period ends: the previous member stops logging in, the current one goes on; converging again runs nothing.
    const ended = { current: b, previous: { name: a, until: new Date(Date.now() - 1000).toISOString() } };
    const { steps } = await rotate(owner, ended, undefined);
    assert.deepEqual(steps, [`ALTER ROLE "${a}" WITH NOLOGIN`]);
    await assert.rejects(whoAmI({ user: a, password: "whatever it had" }), /password authentication failed|not permitted to log in/);
    assert.equal((await whoAmI(creds)).s, b);
    assert.deepEqual((await rotate(owner, ended, undefined)).steps, [], "nothing to do the second time");
    const [ownerRow] = await pg.query<{ rolcanlogin: boolean }>("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'app2c'");
    assert.equal(ownerRow.rolcanlogin, false, "the owner does not log in itself");
  });

  test("a role with tables in two databases switches to two members and back, keeping what it owns and is granted", async () => {
    const legacy = spec({ name: "legacy", memberOf: ["reporting"] });
    const [a] = role.loginMembers("legacy");
    const first: Credentials = { user: "legacy", password: password() };
    await rotate(legacy, { current: "legacy" }, first.password, false);
    assert.equal((await pg.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [a])).length, 0, "one credential: no members");
    for (const db of ["legacy_one", "legacy_two"]) {
      await pg.query(`CREATE DATABASE ${db}`);
      await pg.query(`GRANT CREATE ON DATABASE ${db} TO legacy`);
      await session(first, db, async (c) => {
        await c.query("CREATE SCHEMA app");
        await c.query("CREATE TABLE app.items (id int PRIMARY KEY, label text)");
        await c.query("INSERT INTO app.items SELECT g, 'row ' || g FROM generate_series(1, 50) g");
        await c.query("GRANT SELECT ON app.items TO reporting");
      });
    }
    const tables = async () => {
      const out: string[] = [];
      for (const db of ["legacy_one", "legacy_two"]) {
        const [row] = await pg.query<{ owner: string; acl: string; n: number }>(
          "SELECT tableowner AS owner, has_table_privilege('reporting', 'app.items', 'SELECT')::text AS acl, (SELECT count(*)::int FROM app.items) AS n FROM pg_tables WHERE schemaname = 'app'",
          [],
          db,
        );
        out.push(`${db}: ${row.owner} ${row.acl} ${row.n}`);
      }
      return out;
    };
    const before = await tables();
    assert.deepEqual(before, ["legacy_one: legacy true 50", "legacy_two: legacy true 50"]);

    // To two members: the owner keeps logging in with its password until the grace period ends.
    const second: Credentials = { user: a, password: password() };
    const grace = { name: "legacy", until: new Date(Date.now() + HOUR).toISOString() };
    await rotate(legacy, { current: a, previous: grace }, second.password);
    assert.equal((await whoAmI(first, "legacy_one")).s, "legacy", "the old credential works in its grace period");
    for (const db of ["legacy_one", "legacy_two"]) {
      await session(second, db, (c) => c.query("INSERT INTO app.items VALUES (51, 'by the member')"));
    }
    await rotate(legacy, { current: a, previous: { ...grace, until: new Date(Date.now() - 1).toISOString() } }, undefined);
    await assert.rejects(whoAmI(first), /not permitted to log in/);
    assert.deepEqual(await tables(), ["legacy_one: legacy true 51", "legacy_two: legacy true 51"]);
    const [group] = await pg.query<{ member: boolean }>("SELECT pg_has_role('legacy', 'reporting', 'MEMBER') AS member");
    assert.equal(group.member, true, "the owner's memberships stay");

    // And back to one credential: the owner logs in with a new password, the member until its grace period ends.
    const third: Credentials = { user: "legacy", password: password() };
    const back = { name: a, until: new Date(Date.now() + HOUR).toISOString() };
    await rotate(legacy, { current: "legacy", previous: back }, third.password, false);
    assert.equal((await whoAmI(third, "legacy_two")).s, "legacy");
    assert.equal((await whoAmI(second, "legacy_two")).s, a, "the member works in its grace period");
    const { steps } = await rotate(
      legacy,
      { current: "legacy", previous: { ...back, until: new Date(0).toISOString() } },
      undefined,
      false,
    );
    assert.deepEqual(steps, [`ALTER ROLE "${a}" WITH NOLOGIN`]);
    await assert.rejects(whoAmI(second), /not permitted to log in/);
    assert.deepEqual(await tables(), ["legacy_one: legacy true 51", "legacy_two: legacy true 51"]);
  });

  test("deleting drops the members with the owner, and never a role of a member's name that is not ours", async () => {
    const gone = spec({ name: "gone2c", reclaimPolicy: "delete" });
    await rotate(gone, { current: role.loginMembers("gone2c")[0] }, password());
    await pg.query("CREATE ROLE solo_a NOLOGIN");
    const solo = spec({ name: "solo", reclaimPolicy: "delete" });
    await rotate(solo, { current: "solo" }, password(), false);
    const dropped: string[] = [];
    await role.reclaimTurns(settings, gone, ctx, (_s, shown) => dropped.push(shown));
    await role.reclaimTurns(settings, solo, ctx, (_s, shown) => dropped.push(shown));
    assert.deepEqual(
      dropped.filter((s) => s.includes("DROP ROLE")),
      [
        '[destructive] DROP ROLE IF EXISTS "gone2c_a"',
        '[destructive] DROP ROLE IF EXISTS "gone2c_b"',
        '[destructive] DROP ROLE IF EXISTS "gone2c"',
        '[destructive] DROP ROLE IF EXISTS "solo"',
      ],
    );
    const left = await pg.query<{ rolname: string }>(
      "SELECT rolname FROM pg_roles WHERE rolname IN ('gone2c', 'gone2c_a', 'gone2c_b', 'solo', 'solo_a') ORDER BY 1",
    );
    assert.deepEqual(
      left.map((r) => r.rolname),
      ["solo_a"],
    );
  });
});
