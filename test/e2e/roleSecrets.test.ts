// A PgRole whose password is delivered to a Kubernetes Secret by the provider itself, through the real pulumi CLI, a
// real kube-apiserver and a real Postgres: the password logs in, and it appears in no output of the engine at its
// highest verbosity, in no gRPC log and nowhere in the state; a rotation, a Secret deleted out of band, a Secret that
// is someone else's, and destroy.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { LocalWorkspace } from "@pulumi/pulumi/automation";
import { Client } from "pg";
import { PgRole } from "../../provider";
import { startCluster, type TestCluster } from "../harness/cluster";
import { startPostgres, type TestPostgres } from "../harness/postgres";
import { createTestStack, localStackConfig, type TestStack } from "../harness/pulumi";

let pg: TestPostgres;
let cluster: TestCluster;
let t: TestStack;
let grpcLog: string;
/** The PgRoles the program declares, by resource name; each test changes them before its up. */
let declared: Record<string, Record<string, unknown>> = {};
const target = { name: "app-creds", namespace: "default" };
/** How an exported state marks a secret value. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

async function login(user: string, password: string): Promise<boolean> {
  const client = new Client({ host: pg.host, port: pg.port, user, password, database: "postgres" });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
const secret = (): Record<string, string> | undefined => {
  try {
    const s = JSON.parse(cluster.kubectl(["get", "secret", target.name, "-n", target.namespace, "-o", "json"]));
    return Object.fromEntries(Object.entries(s.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
  } catch {
    return undefined;
  }
};

/** up at the engine's highest verbosity; returns everything it printed and logged, gRPC traffic included. */
async function verboseUp(): Promise<string> {
  const r = await t.stack.up({ logVerbosity: 11, logToStdErr: true, logFlow: true, onOutput: () => undefined });
  return `${r.stdout}\n${r.stderr}\n${readFileSync(grpcLog, "utf8")}\n${JSON.stringify(await t.stack.exportStack())}`;
}

before(async () => {
  [pg, cluster] = await Promise.all([startPostgres(), startCluster()]);
  t = await createTestStack("secrets", localStackConfig(pg, []), pg, () => {
    for (const [name, args] of Object.entries(declared)) new PgRole(name, args as never);
  });
  grpcLog = join(t.dir, "grpc.log");
  Object.assign((t.stack.workspace as LocalWorkspace).envVars, { KUBECONFIG: cluster.kubeconfig, PULUMI_DEBUG_GRPC: grpcLog });
});
after(() => {
  cluster?.stop();
  pg?.destroy();
  t?.destroyDir();
});

describe("a PgRole's password delivered to a Secret, never to the engine", () => {
  test("1. the preview says where the password goes; up writes the Secret, and the password logs in and is nowhere else", async () => {
    // The control: a password the program passes is traced by the engine at this verbosity (what remains, README).
    const control = `control-${Date.now()}-pw`;
    declared = {
      app: { name: "app_user", reclaimPolicy: "delete", credentialsSecret: target },
      control: { name: "control_user", reclaimPolicy: "delete", password: control },
    };
    let shown = "";
    await t.stack.preview({ diff: true, onOutput: (s) => (shown += s) });
    assert.match(shown, /-- note: writes a new generated password to Secret default\/app-creds, then sets it on the role/);
    const seen = await verboseUp();
    assert.ok(seen.length > 100_000, "verbose output was produced");
    const keys = secret();
    assert.ok(keys, "the Secret was written");
    assert.deepEqual(Object.keys(keys).sort(), ["host", "jdbc-uri", "password", "pgpass", "port", "sslmode", "uri", "username"]);
    assert.equal(keys.username, "app_user");
    assert.ok(await login("app_user", keys.password));
    assert.ok(seen.includes(control), "the search finds a password the engine carried");
    assert.ok(!seen.includes(keys.password), "the password reached the engine, its logs or the state");
    const state = (await t.stack.exportStack()).deployment.resources.find(
      (r: { type: string; urn: string }) => r.type === "pulumi-nodejs:dynamic/pg:Role" && r.urn.endsWith("::app"),
    );
    assert.equal(state.outputs.password, undefined);
    assert.match(String(state.outputs.credentialsVersion), /^\d+$/);
    await t.stack.preview({ expectNoChanges: true, onOutput: () => undefined });
  });

  test("2. a new rotate value writes a new password and sets it; the old one no longer logs in", async () => {
    const before = secret()!.password;
    declared = { app: { ...declared.app, rotate: "2026-12" } }; // (the control role is dropped)
    const seen = await verboseUp();
    const after = secret()!.password;
    assert.notEqual(after, before);
    assert.ok(await login("app_user", after));
    assert.ok(!(await login("app_user", before)));
    assert.ok(!seen.includes(after) && !seen.includes(before));
  });

  test("2b. rotateEvery: when the password was set and the next rotation is due, as outputs; once due, the preview says so and up rotates in place", async () => {
    const appState = async () =>
      (await t.stack.exportStack()).deployment.resources.find(
        (r: { type: string; urn: string }) => r.type === "pulumi-nodejs:dynamic/pg:Role" && r.urn.endsWith("::app"),
      );
    const unscheduled = declared.app;
    try {
      declared = { app: { ...declared.app, rotateEvery: "20s" } };
      const before = secret()!.password;
      await t.stack.up({ onOutput: () => undefined });
      const first = (await appState()).outputs;
      assert.equal(Date.parse(first.rotationDueAt) - Date.parse(first.passwordSetAt), 20_000, JSON.stringify(first));
      assert.equal(secret()!.password, before, "adding a schedule does not rotate");
      await t.stack.preview({ expectNoChanges: true, onOutput: () => undefined });
      await new Promise((r) => setTimeout(r, Math.max(Date.parse(first.rotationDueAt) - Date.now(), 0) + 500));
      let shown = "";
      await t.stack.preview({ diff: true, onOutput: (s) => (shown += s) });
      assert.match(
        shown,
        new RegExp(
          `writes a new generated password to Secret default/app-creds, then sets it on the role \\(rotateEvery 20s: due since ${first.rotationDueAt.replace(/\./g, "\\.")}\\)`,
        ),
      );
      assert.match(shown, /ALTER ROLE \\?"app_user\\?" WITH PASSWORD <redacted>/);
      assert.doesNotMatch(shown, /\+-|replace/, "a rotation is an update in place");
      await t.stack.up({ onOutput: () => undefined });
      const after = secret()!.password;
      assert.notEqual(after, before);
      assert.ok(await login("app_user", after));
      const second = (await appState()).outputs;
      assert.ok(Date.parse(second.passwordSetAt) >= Date.parse(first.rotationDueAt), "set again once due");
    } finally {
      // The later tests edit this role without a schedule, so that no rotation falls due during them.
      declared = { app: unscheduled };
    }
    await t.stack.up({ onOutput: () => undefined });
    assert.equal((await appState()).outputs.rotationDueAt, undefined);
  });

  test("2c. twoCredentials through the CLI: the preview shows the members' SQL; an app reading the Secret every 100 ms never fails through the switch and a rotation; a rotation asked too early is refused naming when; the previous member NOLOGIN at the next up", async () => {
    const appState = async () =>
      (await t.stack.exportStack()).deployment.resources.find(
        (r: { type: string; urn: string }) => r.type === "pulumi-nodejs:dynamic/pg:Role" && r.urn.endsWith("::app"),
      );
    const single = declared.app;
    const failures: string[] = [];
    const seen = new Set<string>();
    let connects = 0;
    let running = true;
    const app = (async () => {
      while (running) {
        const keys = secret();
        try {
          const client = new Client({ connectionString: keys!.uri });
          await client.connect();
          try {
            seen.add((await client.query("SELECT session_user AS s")).rows[0].s);
            connects++;
          } finally {
            await client.end();
          }
        } catch (err) {
          failures.push(`${keys?.username}: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      declared = { app: { ...single, twoCredentials: { keepPrevious: "15s" } } };
      let shown = "";
      await t.stack.preview({ diff: true, onOutput: (o) => (shown += o) });
      assert.match(
        shown,
        /sets a new generated password on app_user_a, then writes it to Secret default\/app-creds; app_user keeps logging in until about/,
      );
      assert.match(shown, /CREATE ROLE \\?"app_user_a\\?" WITH LOGIN INHERIT PASSWORD <redacted>/);
      assert.match(shown, /ALTER ROLE \\?"app_user_a\\?" SET \\?"role\\?" TO 'app_user'/);
      await t.stack.up({ onOutput: () => undefined });
      assert.equal(secret()!.username, "app_user_a");
      const switched = (await appState()).outputs;
      assert.equal(switched.username, "app_user_a");
      assert.equal(switched.previousUsername, "app_user");
      await t.stack.preview({ expectNoChanges: true, onOutput: () => undefined });
      // Rotating again while app_user's grace period runs would cut off apps still using it: refused, naming when.
      declared = { app: { ...declared.app, rotate: "too-early" } };
      await assert.rejects(
        t.stack.preview({ onOutput: () => undefined }),
        new RegExp(`app_user logs in until ${switched.previousUntil.replace(/\./g, "\\.")}`),
      );
      await new Promise((r) => setTimeout(r, Math.max(Date.parse(switched.previousUntil) - Date.now(), 0) + 500));
      shown = "";
      await t.stack.preview({ diff: true, onOutput: (o) => (shown += o) });
      assert.match(shown, /sets a new generated password on app_user_b/);
      assert.match(shown, /ALTER ROLE \\?"app_user\\?" WITH NOLOGIN/, "the grace period over: the role itself stops logging in");
      await t.stack.up({ onOutput: () => undefined });
      assert.equal(secret()!.username, "app_user_b");
      // The role itself is NOLOGIN now, as the turns want: a refresh sees no drift in that.
      await t.stack.preview({ expectNoChanges: true, refresh: true, onOutput: () => undefined });
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      running = false;
      await app;
    }
    assert.deepEqual(failures, [], "no connect failed");
    assert.deepEqual([...seen].sort(), ["app_user", "app_user_a", "app_user_b"]);
    console.log(`[2c] ${connects} connects through pulumi up, ${failures.length} failed`);
    const [owner] = await pg.query<{ rolcanlogin: boolean }>("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'app_user'");
    assert.equal(owner.rolcanlogin, false);
    // Back to one credential, once app_user_a's grace period is over: the role logs in again with a new password,
    // app_user_b until its own grace period ends.
    const rotated = (await appState()).outputs;
    assert.equal(rotated.previousUsername, "app_user_a");
    await new Promise((r) => setTimeout(r, Math.max(Date.parse(rotated.previousUntil) - Date.now(), 0) + 500));
    declared = { app: { ...single, rotate: "too-early" } };
    const member = secret()!;
    await t.stack.up({ onOutput: () => undefined });
    const back = secret()!;
    assert.equal(back.username, "app_user");
    assert.ok(await login("app_user", back.password));
    assert.ok(await login("app_user_b", member.password), "the member in its grace period");
    const state = (await appState()).outputs;
    assert.equal(state.username, "app_user");
    assert.equal(state.previousUsername, "app_user_b");
  });

  test("3. a Secret deleted out of band: the refresh sees it, and up delivers a new password", async () => {
    cluster.kubectl(["delete", "secret", target.name, "-n", target.namespace]);
    await t.stack.up({ onOutput: () => undefined });
    const keys = secret();
    assert.ok(keys, "written again");
    assert.ok(await login("app_user", keys.password));
  });

  test("4. both a password and credentialsSecret, or a Secret that is not the role's: refused, naming the field", async () => {
    const app = declared.app;
    declared = { app, other: { name: "other_user", password: "x-given-1", credentialsSecret: { name: "theirs", namespace: "default" } } };
    await assert.rejects(t.stack.preview({ onOutput: () => undefined }), /credentialsSecret: set either password .* not both/);
    cluster.kubectl(["create", "secret", "generic", "theirs", "-n", "default", "--from-literal=password=keep-me"]);
    declared = { app, other: { name: "other_user", reclaimPolicy: "delete", credentialsSecret: { name: "theirs", namespace: "default" } } };
    await assert.rejects(t.stack.up({ onOutput: () => undefined }), /Secret default\/theirs exists and is not this role's/);
    assert.deepEqual(await pg.query("SELECT 1 FROM pg_roles WHERE rolname = 'other_user'"), []);
    assert.equal(
      Buffer.from(JSON.parse(cluster.kubectl(["get", "secret", "theirs", "-o", "json"])).data.password, "base64").toString(),
      "keep-me",
    );
  });

  test("4b. secretTemplate: its keys in the Secret, a working URL; edited, previewed and rewritten with the password kept; without a Secret, a secret output", async () => {
    const url = "postgresql://{{ username }}:{{ password }}@{{ host }}:{{ port }}/{{ dbname }}?sslmode={{ sslmode }}";
    declared = { app: { ...declared.app, secretTemplate: { DATABASE_URL: url } } };
    await t.stack.up({ onOutput: () => undefined });
    const keys = secret()!;
    assert.equal(
      keys.DATABASE_URL,
      `postgresql://app_user:${encodeURIComponent(keys.password)}@${pg.host}:${pg.port}/postgres?sslmode=disable`,
    );
    const client = new Client({ connectionString: keys.DATABASE_URL });
    await client.connect();
    assert.equal((await client.query("SELECT current_user AS u")).rows[0].u, "app_user");
    await client.end();
    // Edited: the preview says what up writes; up rewrites the keys and keeps the password.
    declared = {
      app: { ...declared.app, secretTemplate: { DATABASE_URL: url, JDBC_URL: "jdbc:postgresql://{{ host }}:{{ port }}/{{ dbname }}" } },
    };
    let shown = "";
    await t.stack.preview({ diff: true, onOutput: (o) => (shown += o) });
    assert.match(shown, /-- note: rewrites JDBC_URL in Secret default\/app-creds, the password kept/);
    await t.stack.up({ onOutput: () => undefined });
    const edited = secret()!;
    assert.equal(edited.password, keys.password);
    assert.equal(edited.JDBC_URL, `jdbc:postgresql://${pg.host}:${pg.port}/postgres`);
    await t.stack.preview({ expectNoChanges: true, onOutput: () => undefined });
    // An unknown placeholder fails the preview naming the key.
    declared = { app: { ...declared.app, secretTemplate: { DATABASE_URL: "{{ pasword }}" } } };
    await assert.rejects(
      t.stack.preview({ onOutput: () => undefined }),
      /secretTemplate\.DATABASE_URL: \{\{ pasword \}\} is not a placeholder/,
    );
    // Without credentialsSecret: the keys are the credentials output, a secret in the state.
    declared = {
      app: { ...declared.app, secretTemplate: { DATABASE_URL: url } },
      plain: { name: "plain_user", reclaimPolicy: "delete", secretTemplate: { DATABASE_URL: url } },
    };
    await t.stack.up({ onOutput: () => undefined });
    const state = (await t.stack.exportStack()).deployment.resources.find(
      (r: { type: string; urn: string }) => r.type === "pulumi-nodejs:dynamic/pg:Role" && r.urn.endsWith("::plain"),
    );
    assert.equal(state.outputs.credentials[SECRET_SIG], SECRET_VALUE, "the credentials output is a secret");
    assert.match(state.outputs.credentials.plaintext, /^\{"DATABASE_URL":"postgresql:\/\/plain_user:[^@]+@/);
    declared = { app: declared.app };
  });

  test("4c. credentialsSecret database and databases: keys per database, each URL reaching its own; edited, rewritten with the password kept", async () => {
    const before = secret()!;
    declared = { app: { ...declared.app, credentialsSecret: { ...target, database: "postgres", databases: ["template1"] } } };
    let shown = "";
    await t.stack.preview({ diff: true, onOutput: (o) => (shown += o) });
    // (uri and jdbc-uri named the maintenance database, postgres, already: they stay as they are.)
    assert.match(
      shown,
      /-- note: rewrites dbname, pgpass, template1\.dbname, template1\.jdbc-uri, template1\.pgpass, template1\.uri in Secret default\/app-creds, the password kept/,
    );
    await t.stack.up({ onOutput: () => undefined });
    const keys = secret()!;
    assert.equal(keys.password, before.password, "the password kept");
    assert.equal(keys.dbname, "postgres");
    assert.equal(keys["template1.dbname"], "template1");
    for (const [uri, db] of [
      [keys.uri, "postgres"],
      [keys["template1.uri"], "template1"],
    ]) {
      const client = new Client({ connectionString: uri });
      await client.connect();
      assert.equal((await client.query("SELECT current_database() AS d")).rows[0].d, db);
      await client.end();
    }
    await t.stack.preview({ expectNoChanges: true, onOutput: () => undefined });
    // The address apps use moved (a new Service name, another port): the keys follow, the password kept, no rotation.
    declared = {
      app: {
        ...declared.app,
        credentialsSecret: { ...target, host: "localhost", port: pg.port, database: "postgres", databases: ["template1"] },
      },
    };
    shown = "";
    await t.stack.preview({ diff: true, onOutput: (o) => (shown += o) });
    assert.match(
      shown,
      /-- note: rewrites DATABASE_URL, host, jdbc-uri, pgpass, template1\.jdbc-uri, template1\.pgpass, template1\.uri, uri in Secret default\/app-creds, the password kept/,
    );
    assert.doesNotMatch(shown, /PASSWORD/, "not a rotation");
    await t.stack.up({ onOutput: () => undefined });
    const moved = secret()!;
    assert.equal(moved.password, before.password, "the password kept");
    assert.equal(moved.host, "localhost");
    const reached = new Client({ connectionString: moved.uri });
    await reached.connect();
    await reached.end();
    await t.stack.preview({ expectNoChanges: true, onOutput: () => undefined });
    // A database named twice fails the preview naming the field.
    declared = { app: { ...declared.app, credentialsSecret: { ...target, database: "postgres", databases: ["postgres"] } } };
    await assert.rejects(t.stack.preview({ onOutput: () => undefined }), /credentialsSecret\.databases\[0\]: "postgres" is named twice/);
    // A pooler: the keys point at it, and the server's own address is under direct-*.
    declared = { app: { ...declared.app, credentialsSecret: { ...target, pooler: { host: "pgbouncer.db.example" } } } };
    await t.stack.up({ onOutput: () => undefined });
    const pooled = secret()!;
    assert.equal(pooled.password, before.password, "the password kept");
    assert.equal(pooled.host, "pgbouncer.db.example");
    assert.match(pooled.uri, /@pgbouncer\.db\.example:6432\/postgres/);
    const direct = new Client({ connectionString: pooled["direct-uri"] });
    await direct.connect();
    await direct.end();
    declared = { app: { ...declared.app, credentialsSecret: target } };
    await t.stack.up({ onOutput: () => undefined });
    assert.equal(secret()!["template1.uri"], undefined, "the keys of a database no longer named are gone");
    assert.equal(secret()!["direct-uri"], undefined, "no direct-* keys without a pooler");
  });

  test("5. destroy with reclaimPolicy delete drops the role, the members it had (2c), and deletes its Secret", async () => {
    assert.equal((await pg.query("SELECT 1 FROM pg_roles WHERE rolname IN ('app_user_a', 'app_user_b')")).length, 2);
    await t.stack.destroy({ onOutput: () => undefined });
    assert.deepEqual(await pg.query("SELECT 1 FROM pg_roles WHERE rolname IN ('app_user', 'app_user_a', 'app_user_b')"), []);
    assert.equal(secret(), undefined);
  });
});
