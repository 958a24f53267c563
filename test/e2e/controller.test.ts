// The controller end to end: a process with its least-privilege ServiceAccount against a real kube-apiserver and a
// real PostgreSQL 15, through faults: Postgres down, API server restart, kill mid-reconcile, leader hand-over.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { escapeIdentifier } from "pg";
import { startPostgres, type TestPostgres } from "../harness/postgres";
import { startCluster, type TestCluster } from "../harness/cluster";
import { installController, startController, type ControllerProcess } from "../harness/controller";
import { REPO } from "../harness/pulumi";
import { customObjects, eventually as waitFor, ready } from "./customObjects";

let pg: TestPostgres;
let cluster: TestCluster;
let kubeconfig: string;
let leader: ControllerProcess;
const processes: ControllerProcess[] = [];

const NS = "default";
// The creation claim's annotations, spelt out: they are part of the object's API.
const CREATING = "pgdatabases.my.local/creating";
const CREATING_AT = "pgdatabases.my.local/creating-at";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const tail = () => processes.map((p) => p.output().split("\n").slice(-8).join("\n")).join("\n");
const eventually = <T>(what: string, probe: () => T | Promise<T>, timeoutMs?: number) => waitFor(what, probe, tail, timeoutMs);
const databases = () => customObjects(cluster, "PgDatabase", "pgdb", NS, tail);
const apply = (name: string, spec: object) => databases().apply(name, spec);
const get = (name: string) => databases().get(name);
const untilReady = (name: string, reason?: string) => databases().untilReady(name, reason);
const exists = async (db: string) => (await pg.query("SELECT 1 FROM pg_database WHERE datname = $1", [db])).length === 1;
const ownerOf = async (db: string) =>
  (await pg.query<{ o: string }>("SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = $1", [db]))[0]?.o;

async function start(name: string): Promise<ControllerProcess> {
  const p = await startController(name, kubeconfig, pg);
  processes.push(p);
  return p;
}

before(async () => {
  pg = await startPostgres();
  cluster = await startCluster({ workloads: true });
  kubeconfig = installController(cluster, pg);
  await pg.query("CREATE ROLE app_owner");
  leader = await start("controller-a");
  await eventually("controller-a to lead", async () => (await leader.metric("pgkopf_leader")) === 1);
});
after(async () => {
  for (const p of processes) await p.kill();
  cluster?.stop();
  pg?.destroy();
});

describe("the controller reconciles PgDatabase objects into Postgres", () => {
  test("1. the sample resource creates its database; status is Ready with the observed generation", async () => {
    cluster.kubectl(["apply", "-f", join(REPO, "examples", "mynewdb.yaml")]);
    const obj = await untilReady("mynewdb");
    assert.ok(await exists("mynewdb"));
    assert.deepEqual(obj.metadata.finalizers, ["pgdatabases.my.local/finalizer"]);
    assert.equal(ready(obj).status, "True");
    assert.equal(obj.status.database.encoding, "UTF8");
    const events = cluster.kubectl([
      "get",
      "events",
      "-n",
      NS,
      "--field-selector",
      "involvedObject.name=mynewdb",
      "-o",
      "jsonpath={.items[*].message}",
    ]);
    // What ran is in the status; a routine success records no Event (each one is an API write).
    assert.deepEqual(obj.status.lastAppliedSql, [
      'CREATE DATABASE "mynewdb"',
      `COMMENT ON DATABASE "mynewdb" IS 'managed by pg-kopf: kubernetes:default/mynewdb'`,
    ]);
    assert.equal(events, "");
  });

  // Regression: the watch echoes every write the controller makes (finalizer, creation intent, status), and each echo
  // ran the reconcile again: one observe query and one queue slot per write, for nothing.
  test("1b. one reconcile per object created: the controller's own writes do not come back as work", async () => {
    const lines = () =>
      leader
        .output()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    // The databases' resync (the roles' has its own timer and enqueues no database).
    const resyncs = () => lines().filter((l) => l.msg === "resync" && l.kind === "PgDatabase").length;
    // Right after a resync, so that the next one (5 s later) does not fall into the window counted below.
    const seen = resyncs();
    await eventually("a resync", () => resyncs() > seen);
    apply("echo", { name: "echo_db", reclaimPolicy: "delete" });
    await untilReady("echo");
    await sleep(1000);
    const reconciles = lines().filter((l) => l.msg === "reconciled" && l.key === `${NS}/echo`);
    assert.equal(resyncs(), seen + 1, "a resync fell into the window; the count below would include it");
    assert.deepEqual(
      reconciles.map((l) => l.result),
      ["Reconciled"],
    );
    cluster.kubectl(["delete", "pgdb", "echo", "-n", NS, "--wait=true", "--timeout=30s"]);
  });

  test("2. an owner change converges; an immutable change is refused by the API server", async () => {
    apply("mynewdb", { name: "mynewdb", owner: "app_owner" });
    await eventually("owner to change", async () => (await ownerOf("mynewdb")) === "app_owner");
    const obj = await untilReady("mynewdb");
    assert.deepEqual(obj.status.lastAppliedSql, ['ALTER DATABASE "mynewdb" OWNER TO "app_owner"']);
    // Setting an immutable field is checked against the database, as in Pulumi: a different value is refused by the
    // plan, the same value is no change; changing it from one value to another is refused by the API server.
    apply("mynewdb", { name: "mynewdb", owner: "app_owner", encoding: "LATIN1" });
    const refused = await untilReady("mynewdb", "InvalidSpec");
    assert.match(ready(refused).message, /encoding: cannot change from "UTF8" to "LATIN1"/);
    // Regression: it advised "set reclaimPolicy: delete first", which re-creates nothing in the cluster.
    assert.doesNotMatch(ready(refused).message, /reclaimPolicy/);
    // From a value the API server allows only removing it, then setting the right one.
    apply("mynewdb", { name: "mynewdb", owner: "app_owner" });
    await untilReady("mynewdb");
    apply("mynewdb", { name: "mynewdb", owner: "app_owner", encoding: "UTF8" });
    await untilReady("mynewdb");
    assert.throws(() => apply("mynewdb", { name: "mynewdb", owner: "app_owner", encoding: "LATIN1" }), /spec.encoding is immutable/);
  });

  test("3. an unknown owner gives Ready=False with the reason, and recovers when the role appears", async () => {
    assert.throws(() => apply("bad", { name: "bad", connectionLimit: -5 }), /connectionLimit/);
    apply("needs-role", { name: "needs_role", owner: "late_role" });
    const failing = await untilReady("needs-role", "RoleMissing");
    assert.equal(ready(failing).status, "False");
    // The cluster's remedy, not Pulumi's.
    assert.match(
      ready(failing).message,
      /^owner: role "late_role" does not exist yet; create it \(a PgRole whose spec.name is "late_role"/,
    );
    await pg.query("CREATE ROLE late_role");
    await untilReady("needs-role");
    assert.equal(await ownerOf("needs_role"), "late_role");
  });

  test("4. Postgres down: the controller keeps running, reports PostgresUnavailable, and converges after", async () => {
    pg.stop();
    try {
      apply("during-outage", { name: "during_outage" });
      await untilReady("during-outage", "PostgresUnavailable");
      assert.equal(leader.child.exitCode, null);
    } finally {
      pg.start();
    }
    await untilReady("during-outage");
    assert.ok(await exists("during_outage"));
  });

  test("5. the API server restarts: the controller resumes without a restart and sees new changes", async () => {
    await cluster.restartApiServer();
    apply("after-restart", { name: "after_restart" });
    await untilReady("after-restart");
    assert.equal(leader.child.exitCode, null, "same process");
  });

  test("6. killed mid-reconcile and restarted, it converges", async () => {
    const names = Array.from({ length: 10 }, (_, i) => `burst-${i}`);
    for (const n of names) apply(n, { name: n.replace("-", "_"), owner: "app_owner" });
    await sleep(150);
    await leader.kill("SIGKILL");
    leader = await start("controller-a2");
    for (const n of names) await untilReady(n);
    for (const n of names) assert.equal(await ownerOf(n.replace("-", "_")), "app_owner");
  });

  test("6b. a creation cut off before the ownership stamp is finished by the object that recorded it, and only by it", async () => {
    // What a kill between CREATE DATABASE and COMMENT ON DATABASE leaves: the database unstamped, the claim recorded
    // (an earlier release's, without a time, and a timed one of a minute ago).
    const claimedAt = new Date(Date.now() - 60_000).toISOString();
    const cutOff: { name: string; database: string; claim: Record<string, string> }[] = [
      { name: "cut-off", database: "cut_off", claim: { [CREATING]: "cut_off" } },
      { name: "cut-off-timed", database: "cut_off_timed", claim: { [CREATING]: "cut_off_timed", [CREATING_AT]: claimedAt } },
    ];
    for (const c of cutOff) {
      await pg.query(`CREATE DATABASE ${c.database}`);
      databases().apply(c.name, { name: c.database, owner: "app_owner" }, c.claim);
    }
    for (const c of cutOff) {
      await untilReady(c.name);
      assert.equal(await ownerOf(c.database), "app_owner");
      const [{ comment }] = await pg.query<{ comment: string }>(
        "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
        [c.database],
      );
      assert.equal(comment, `managed by pg-kopf: kubernetes:default/${c.name}`);
    }
    // The untimed claim is removed (no status could mark it done); the timed one is marked done by the status.
    await eventually("the untimed claim to be removed", () => get("cut-off")?.metadata.annotations?.[CREATING] === undefined);
    assert.equal(get("cut-off-timed").status.creationClaim, claimedAt);
    // A fresh creation claims in the write that adds the finalizer, and its status write marks the claim done.
    apply("fresh", { name: "fresh" });
    const fresh = await untilReady("fresh");
    assert.equal(fresh.metadata.annotations[CREATING], "fresh");
    assert.equal(fresh.status.creationClaim, fresh.metadata.annotations[CREATING_AT]);
  });

  test("6c. an object restored without its status claims nothing: an unstamped database of its name made since is refused", async () => {
    // The claim of a creation long done, its status lost (a backup restored without status), and a database of that
    // name that someone else made by hand in the meantime.
    await pg.query("CREATE DATABASE restored_db");
    databases().apply(
      "restored",
      { name: "restored_db" },
      { [CREATING]: "restored_db", [CREATING_AT]: new Date(Date.now() - 2 * 60 * 60 * 1000).toISOString() },
    );
    const obj = await untilReady("restored", "NotOwned");
    assert.match(obj.status.conditions[0].message, /adopt: true/);
    const [{ comment }] = await pg.query<{ comment: string | null }>(
      "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = 'restored_db'",
    );
    assert.equal(comment, null, "not stamped: nothing was taken over");
  });

  test("7. two controllers: only the leader acts; killing it hands over", async () => {
    await eventually("controller-a2 to lead", async () => (await leader.metric("pgkopf_leader")) === 1);
    const standby = await start("controller-b");
    apply("leader-test", { name: "leader_test" });
    await untilReady("leader-test");
    assert.equal(await standby.metric("pgkopf_leader"), 0);
    assert.equal(await standby.metric("pgkopf_reconcile_total"), 0, "the standby did nothing");
    await leader.kill("SIGKILL");
    await eventually("controller-b to take over", async () => (await standby.metric("pgkopf_leader")) === 1, 30_000);
    apply("after-handover", { name: "after_handover" });
    await untilReady("after-handover");
    assert.ok((await standby.metric("pgkopf_reconcile_total")) > 0);
    leader = standby;
  });

  test("8. deletion: retain keeps the database, delete drops it, and a database it did not create is never dropped", async () => {
    apply("keep-me", { name: "keep_me" });
    apply("drop-me", { name: "drop_me", reclaimPolicy: "delete" });
    await pg.query("CREATE DATABASE not_mine");
    apply("not-mine", { name: "not_mine", reclaimPolicy: "delete" });
    await untilReady("keep-me");
    await untilReady("drop-me");
    const notMine = await untilReady("not-mine", "NotOwned");
    assert.match(ready(notMine).message, /was not created by pg-kopf/);

    cluster.kubectl(["delete", "pgdb", "keep-me", "drop-me", "not-mine", "-n", NS, "--wait=true", "--timeout=30s"]);
    assert.ok(await exists("keep_me"));
    assert.ok(!(await exists("drop_me")));
    assert.ok(await exists("not_mine"));
  });

  // Regression: once Postgres was back the drop waited out the object's backoff (up to 20 s after a short outage);
  // objects waiting on a server are now woken when it answers.
  test("8b. a deletion while Postgres is down waits, keeps the finalizer, and completes as soon as it returns", async () => {
    apply("drop-later", { name: "drop_later", reclaimPolicy: "delete" });
    await untilReady("drop-later");
    pg.stop();
    try {
      cluster.kubectl(["delete", "pgdb", "drop-later", "-n", NS, "--wait=false"]);
      const waiting = await untilReady("drop-later", "Deleting");
      assert.deepEqual(waiting.metadata.finalizers, ["pgdatabases.my.local/finalizer"]);
      // Long enough for the queue's backoff to pass 8 s (1, 2, 4, 8 s with jitter).
      await sleep(12_000);
    } finally {
      pg.start();
    }
    const back = Date.now();
    await eventually("drop-later to be gone", () => get("drop-later") === undefined);
    const waited = Date.now() - back;
    assert.ok(waited < 4_000, `dropped ${waited} ms after Postgres was back`);
    assert.ok(!(await exists("drop_later")));
  });

  test("9. every example in examples/ reconciles as declared, and its deletion does what its reclaimPolicy says", async () => {
    const dir = join(REPO, "examples");
    const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
    assert.ok(files.length >= 2);
    for (const file of files) {
      const example = JSON.parse(cluster.kubectl(["create", "--dry-run=client", "-o", "json", "-f", join(dir, file)]));
      const { name: objectName } = example.metadata;
      const spec = example.spec;
      // The roles an example names are the user's to create; the database is pg-kopf's.
      if (spec.owner && (await pg.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [spec.owner])).length === 0) {
        await pg.query(`CREATE ROLE ${escapeIdentifier(spec.owner)}`);
      }
      cluster.kubectl(["apply", "-f", join(dir, file)]);
      const obj = await untilReady(objectName);
      assert.ok(await exists(spec.name), file);
      if (spec.owner) assert.equal(await ownerOf(spec.name), spec.owner, file);
      if (spec.encoding) assert.equal(obj.status.database.encoding, spec.encoding, file);
      const installed = (await pg.query<{ e: string }>("SELECT extname AS e FROM pg_extension", [], spec.name)).map((r) => r.e);
      for (const ext of spec.extensions ?? []) assert.ok(installed.includes(ext), `${file}: extension ${ext}`);

      cluster.kubectl(["delete", "-f", join(dir, file), "--wait=true", "--timeout=30s"]);
      assert.equal(await exists(spec.name), spec.reclaimPolicy !== "delete", `${file}: reclaimPolicy ${spec.reclaimPolicy ?? "retain"}`);
    }
  });

  // Regression: adopt: true in another namespace re-stamped this namespace's database, dropped it on delete, and
  // the first object re-created it empty.
  test("10. adopt cannot take another object's database; adoptFrom is refused across namespaces", async () => {
    apply("owned-by-a", { name: "team_a_db", reclaimPolicy: "delete" });
    await untilReady("owned-by-a");
    cluster.kubectl(["create", "namespace", "team-b"]);
    const applyIn = (ns: string, name: string, spec: object) =>
      cluster.kubectl(
        ["apply", "-f", "-"],
        JSON.stringify({ apiVersion: "my.local/v1", kind: "PgDatabase", metadata: { name, namespace: ns }, spec }),
      );
    const readyIn = (ns: string, name: string) => ready(JSON.parse(cluster.kubectl(["get", "pgdb", name, "-n", ns, "-o", "json"])));
    applyIn("team-b", "grab", { name: "team_a_db", adopt: true, reclaimPolicy: "delete" });
    await eventually("grab NotOwned", () => readyIn("team-b", "grab")?.reason === "NotOwned");
    assert.match(readyIn("team-b", "grab").message, /managed by kubernetes:default\/owned-by-a/);
    applyIn("team-b", "grab-from", { name: "team_a_db", adoptFrom: "kubernetes:default/owned-by-a", reclaimPolicy: "delete" });
    await eventually("grab-from InvalidSpec", () => readyIn("team-b", "grab-from")?.reason === "InvalidSpec");
    assert.match(
      readyIn("team-b", "grab-from").message,
      /adoptFrom: a PgDatabase in namespace team-b may take over only from a manager in the same namespace/,
    );
    cluster.kubectl(["delete", "pgdb", "grab", "grab-from", "-n", "team-b", "--wait=true", "--timeout=30s"]);
    assert.ok(await exists("team_a_db"), "deleting the would-be takers dropped nothing");
    assert.equal(ready(get("owned-by-a")).reason, "Reconciled");
  });

  // Regression: NotOwned advised an adoptFrom the cluster refuses (from another namespace, or naming a Pulumi stack).
  // Each remedy the message gives is applied here, and the object becomes Ready.
  test("10b. NotOwned advises only what works in the cluster, and each remedy works", async () => {
    const applyIn = (ns: string, name: string, spec: object) =>
      cluster.kubectl(
        ["apply", "-f", "-"],
        JSON.stringify({ apiVersion: "my.local/v1", kind: "PgDatabase", metadata: { name, namespace: ns }, spec }),
      );
    const readyIn = (ns: string, name: string) => ready(JSON.parse(cluster.kubectl(["get", "pgdb", name, "-n", ns, "-o", "json"])));
    apply("handover-a", { name: "handover_db", reclaimPolicy: "retain" });
    await untilReady("handover-a");
    applyIn("team-b", "handover-b", { name: "handover_db", adopt: true });
    await eventually("handover-b NotOwned", () => readyIn("team-b", "handover-b")?.reason === "NotOwned");
    const across = readyIn("team-b", "handover-b").message;
    assert.match(across, /Only an object in namespace default may take it over \(adoptFrom: "kubernetes:default\/handover-a" there\)/);
    assert.doesNotMatch(across, /set adoptFrom/);
    cluster.kubectl(["delete", "pgdb", "handover-b", "-n", "team-b", "--wait=true", "--timeout=30s"]);
    // The remedy: an object in the stamped manager's namespace.
    apply("handover-c", { name: "handover_db", adoptFrom: "kubernetes:default/handover-a" });
    await untilReady("handover-c");
    cluster.kubectl(["delete", "pgdb", "handover-a", "handover-c", "-n", NS, "--wait=true", "--timeout=30s"]);

    // A database a Pulumi stack stamped: adoptFrom cannot name it from the cluster; letting go and adopt can.
    await pg.query(`CREATE DATABASE ${escapeIdentifier("from_stack")}`);
    await pg.query(`COMMENT ON DATABASE ${escapeIdentifier("from_stack")} IS 'managed by pg-kopf: pulumi:shop/prod'`);
    apply("from-stack", { name: "from_stack" });
    const refused = ready(await untilReady("from-stack", "NotOwned")).message;
    assert.match(
      refused,
      /cannot take over from pulumi:shop\/prod: .*reclaimPolicy: retain.*COMMENT ON DATABASE "from_stack" IS NULL\), then set adopt: true/,
    );
    assert.doesNotMatch(refused, /set adoptFrom/);
    await pg.query(`COMMENT ON DATABASE ${escapeIdentifier("from_stack")} IS NULL`);
    apply("from-stack", { name: "from_stack", adopt: true });
    await untilReady("from-stack");
    cluster.kubectl(["delete", "pgdb", "from-stack", "-n", NS, "--wait=true", "--timeout=30s"]);
    await pg.query(`DROP DATABASE ${escapeIdentifier("from_stack")}`);
    await pg.query(`DROP DATABASE ${escapeIdentifier("handover_db")}`);
  });

  // Regression: the status was compared as a JSON string, in another key order than the API server's, so every
  // resync wrote it again.
  test("11. resyncs of an unchanged, Ready object write nothing", async () => {
    const before = get("owned-by-a").metadata.resourceVersion;
    await sleep(6_000); // longer than the test controller's 5 s resync
    assert.equal(get("owned-by-a").metadata.resourceVersion, before);
  });

  test("12. a database dropped under a Ready object is re-created with a Warning event that says so", async () => {
    const oid = get("owned-by-a").status.database.oid;
    await pg.query(`DROP DATABASE ${escapeIdentifier("team_a_db")}`);
    await eventually("team_a_db re-created", () => exists("team_a_db"));
    const events = JSON.parse(
      cluster.kubectl(["get", "events", "-n", NS, "--field-selector", "involvedObject.name=owned-by-a,reason=Recreating", "-o", "json"]),
    ).items;
    assert.equal(events.length, 1);
    assert.equal(events[0].type, "Warning");
    assert.match(events[0].message, new RegExp(`team_a_db" \\(oid ${oid}\\) is gone from Postgres; creating it again, empty`));
    cluster.kubectl(["delete", "pgdb", "owned-by-a", "-n", NS, "--wait=true", "--timeout=30s"]);
  });

  // Regression: names were held to a conservative ASCII pattern; every name Postgres accepts is managed now.
  test("13. names with quotes, spaces, non-ASCII and 63 bytes of multibyte characters; 64 bytes is refused", async () => {
    const names = ['datenbank_ü "q" x', `${"ü".repeat(31)}x`];
    for (const [i, name] of names.entries()) apply(`odd-name-${i}`, { name, reclaimPolicy: "delete" });
    for (const [i, name] of names.entries()) {
      await untilReady(`odd-name-${i}`);
      assert.ok(await exists(name), name);
    }
    apply("too-long", { name: "ü".repeat(32) });
    const refused = await untilReady("too-long", "InvalidSpec");
    assert.match(ready(refused).message, /name: is 64 bytes; Postgres names are at most 63 bytes/);
    // Found when the spec is parsed, it gets its Warning event as a refusal found later does (regression: none).
    const refusals = JSON.parse(
      cluster.kubectl(["get", "events", "-n", NS, "--field-selector", "involvedObject.name=too-long,reason=InvalidSpec", "-o", "json"]),
    ).items;
    assert.deepEqual(
      refusals.map((e: { type: string; message: string }) => [e.type, /64 bytes/.test(e.message)]),
      [["Warning", true]],
    );
    cluster.kubectl(["delete", "pgdb", "odd-name-0", "odd-name-1", "too-long", "-n", NS, "--wait=true", "--timeout=30s"]);
    for (const name of names) assert.ok(!(await exists(name)), name);
  });

  test("no secret in status, events or logs", () => {
    const everything = [
      cluster.kubectl(["get", "pgdb", "-A", "-o", "json"]),
      cluster.kubectl(["get", "events", "-A", "-o", "json"]),
      ...processes.map((p) => p.output()),
    ].join("\n");
    assert.ok(everything.length > 1000);
    assert.ok(!everything.includes(pg.password));
  });
});

// Regression: a CA for the cluster side never reached the controller, so verify-ca / verify-full failed at start.
describe("the controller against a TLS-only Postgres with sslmode verify-full", () => {
  let secure: TestPostgres;
  before(async () => {
    secure = await startPostgres({ tls: true });
    for (const p of processes) await p.kill("SIGTERM");
  });
  after(() => secure?.destroy());

  test("reconciles with the CA file the Deployment mounts from the Secret", async () => {
    const caFile = join(require("node:fs").mkdtempSync(join(require("node:os").tmpdir(), "pg-kopf-ca-")), "ca.crt");
    require("node:fs").writeFileSync(caFile, secure.caPem!);
    const p = await startController("controller-tls", kubeconfig, secure, {
      PGHOST: "localhost",
      PGSSLMODE: "verify-full",
      PGSSLROOTCERT: caFile,
    });
    processes.push(p);
    apply("over-tls", { name: "over_tls" });
    await untilReady("over-tls");
    assert.equal((await secure.query("SELECT 1 FROM pg_database WHERE datname = 'over_tls'")).length, 1);
  });
});

// Regression: with its API server gone, a controller ignored SIGTERM for 40 s although its shutdown timeout was 20 s
// (stopping its watches and releasing its lease each waited on a request that never came back).
describe("shutting down", () => {
  test("with the API server gone, SIGTERM ends the leader within its shutdown timeout", async () => {
    for (const p of processes) await p.kill("SIGTERM");
    const p = await startController("controller-term", kubeconfig, pg, { SHUTDOWN_TIMEOUT_SECONDS: "4" });
    processes.push(p);
    await eventually("controller-term to lead", async () => (await p.metric("pgkopf_leader")) === 1);
    await cluster.stopApiServer();
    try {
      const exited = new Promise<number>((resolve) => p.child.once("exit", () => resolve(Date.now())));
      const sent = Date.now();
      p.child.kill("SIGTERM");
      const took = (await Promise.race([exited, sleep(30_000).then(() => Number.NaN)])) - sent;
      assert.ok(took < 5_500, `exited ${took} ms after SIGTERM (timeout 4 s)`);
    } finally {
      await cluster.startApiServer();
    }
  });
});
