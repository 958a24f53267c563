// The controller's PgRoles end to end: a process with the ServiceAccount and RBAC the program grants, a real
// kube-apiserver with the garbage collector, and a real PostgreSQL 15 that logs every statement. The role and its
// credentials Secret, logins with the Secret's keys, rotation, recovery, refusals, and deletion.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "pg";
import { type TestCluster, startCluster } from "../harness/cluster";
import { type ControllerProcess, installController, startController } from "../harness/controller";
import { startPostgres, type TestPostgres } from "../harness/postgres";
import { REPO } from "../harness/pulumi";
import { customObjects, ready, eventually as waitFor } from "./customObjects";

const NS = "default";
const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
let pg: TestPostgres;
let cluster: TestCluster;
let controller: ControllerProcess;

const tail = () => controller.output().split("\n").slice(-12).join("\n");
const eventually = <T>(what: string, probe: () => T | Promise<T>, timeoutMs?: number) => waitFor(what, probe, tail, timeoutMs);
const roles = () => customObjects(cluster, "PgRole", "pgrole", NS, tail);
const databases = () => customObjects(cluster, "PgDatabase", "pgdb", NS, tail);

/** The Secret's keys, decoded; undefined when there is none. */
function secret(name: string, namespace = NS): { data: Record<string, string>; raw: any } | undefined {
  try {
    const raw = JSON.parse(cluster.kubectl(["get", "secret", name, "-n", namespace, "-o", "json"]));
    const data = Object.fromEntries(Object.entries(raw.data ?? {}).map(([k, v]) => [k, Buffer.from(v as string, "base64").toString()]));
    return { data, raw };
  } catch {
    return undefined;
  }
}
const roleExists = async (role: string) => (await pg.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role])).length === 1;

/** Logs in with a connection URI (node-postgres); resolves to the current user, or rejects as Postgres refused. */
async function loginWithUri(uri: string): Promise<string> {
  const client = new Client({ connectionString: uri });
  await client.connect();
  try {
    return (await client.query<{ u: string }>("SELECT current_user AS u")).rows[0].u;
  } finally {
    await client.end();
  }
}

/** Runs `sql` (one statement or several) with a connection URI; resolves to the last statement's rows. */
async function query(uri: string, sql: string): Promise<unknown[]> {
  const client = new Client({ connectionString: uri });
  await client.connect();
  try {
    return [await client.query(sql)].flat().at(-1)?.rows ?? [];
  } finally {
    await client.end();
  }
}

/** Logs in with psql and the Secret's pgpass line as its password file: the password is in neither argv nor env. */
function loginWithPgpass(keys: Record<string, string>): string {
  const file = join(mkdtempSync(join(tmpdir(), "pgpass-")), "pgpass");
  writeFileSync(file, keys.pgpass, { mode: 0o600 });
  return execFileSync(
    join(PG_BIN, "psql"),
    [
      "-h",
      keys.host,
      "-p",
      keys.port,
      "-U",
      keys.username,
      "-d",
      keys.dbname,
      "-w",
      "-Atc",
      "SELECT current_user || '@' || current_database()",
    ],
    { env: { PATH: process.env.PATH, PGPASSFILE: file, PGSSLMODE: "disable" }, encoding: "utf8" },
  ).trim();
}

function events(object: string): any[] {
  return JSON.parse(cluster.kubectl(["get", "events", "-n", NS, "--field-selector", `involvedObject.name=${object}`, "-o", "json"])).items;
}

/** Waits until the role's status records the Secret as it is now: the role has the Secret's password. */
const untilApplied = (object: string, secretName: string) =>
  eventually(`${object} to hold the password of ${secretName}`, () => {
    const obj = roles().get(object);
    const s = secret(secretName);
    return ready(obj)?.reason === "Reconciled" && s && obj.status.credentials?.resourceVersion === s.raw.metadata.resourceVersion
      ? s.data
      : undefined;
  });

before(async () => {
  pg = await startPostgres();
  // Every statement in the server's log: the passwords must not be among them.
  await pg.superQuery("ALTER SYSTEM SET log_statement = 'all'");
  await pg.superQuery("SELECT pg_reload_conf()");
  cluster = await startCluster({ workloads: true });
  controller = await startController("controller-roles", installController(cluster, pg), pg);
  await eventually("the controller to lead", async () => (await controller.metric("pgkopf_leader")) === 1);
});
after(async () => {
  await controller?.kill();
  cluster?.stop();
  pg?.destroy();
});

describe("the controller reconciles PgRole objects into roles and credentials Secrets", () => {
  const passwords: string[] = [];

  test("1. the example: the role, its Secret with the keys apps read, and the database it owns; logins with the Secret", async () => {
    cluster.kubectl(["apply", "-f", join(REPO, "examples", "roles", "shop.yaml")]);
    const role = await roles().untilReady("shop-app");
    await databases().untilReady("shop");
    const s = secret("shop-app-credentials");
    assert.ok(s);
    assert.equal(s.raw.type, "kubernetes.io/basic-auth");
    assert.deepEqual(Object.keys(s.data).sort(), [
      "dbname",
      "host",
      "jdbc-uri",
      "password",
      "pgpass",
      "port",
      "sslmode",
      "uri",
      "username",
    ]);
    // The server's TLS as the controller uses it (postgresSslMode), in the keys and both URIs.
    assert.equal(s.data.sslmode, "disable");
    assert.match(s.data.uri, /\?sslmode=disable$/);
    assert.match(s.data["jdbc-uri"], /&sslmode=disable$/);
    assert.deepEqual(
      s.raw.metadata.ownerReferences.map((r: any) => [r.kind, r.name, r.uid, r.controller]),
      [["PgRole", "shop-app", role.metadata.uid, true]],
    );
    assert.equal(s.data.username, "shop_app");
    assert.equal(s.data.dbname, "shop");
    assert.equal(s.data.password.length, 32);
    passwords.push(s.data.password);

    assert.equal(loginWithPgpass(s.data), "shop_app@shop");
    assert.equal(await loginWithUri(s.data.uri), "shop_app");
    assert.equal(
      (await pg.query<{ o: string }>("SELECT pg_get_userbyid(datdba) AS o FROM pg_database WHERE datname = 'shop'"))[0].o,
      "shop_app",
    );

    const { passwordSetAt, ...record } = role.status.credentials;
    assert.deepEqual(record, {
      secretName: "shop-app-credentials",
      uid: s.raw.metadata.uid,
      resourceVersion: s.raw.metadata.resourceVersion,
    });
    assert.ok(Math.abs(Date.parse(passwordSetAt) - Date.now()) < 120_000, `passwordSetAt ${passwordSetAt}: when it was set`);
    assert.deepEqual(role.status.role.memberOf, []);
    assert.match(role.status.lastAppliedSql[0], /^CREATE ROLE "shop_app" WITH LOGIN CONNECTION LIMIT 20 PASSWORD <redacted>$/);
    assert.deepEqual(role.metadata.finalizers, ["pgroles.my.local/finalizer"]);
    const seen = JSON.stringify([role, events("shop-app")]) + controller.output() + readFileSync(pg.logFile, "utf8");
    assert.ok(!seen.includes(s.data.password), "the password is in no status, event, controller log or Postgres statement");
  });

  test("1b. the example's read role reads what the app creates later, may not write, and nobody else may connect", async () => {
    await roles().untilReady("shop-reporting");
    const db = await databases().untilReady("shop");
    assert.deepEqual(db.status.access, [{ role: "shop_reporting", level: "read" }]);
    assert.ok(db.status.lastAppliedSql.includes('GRANT USAGE ON SCHEMA "sales" TO "shop_reporting"'), db.status.lastAppliedSql.join("\n"));
    const app = secret("shop-app-credentials")!.data;
    const reporting = secret("shop-reporting-credentials")!.data;
    await query(app.uri, "CREATE TABLE sales.orders (id serial, item text); INSERT INTO sales.orders (item) VALUES ('tea')");
    assert.deepEqual(await query(reporting.uri, "SELECT item FROM sales.orders"), [{ item: "tea" }]);
    await assert.rejects(query(reporting.uri, "INSERT INTO sales.orders (item) VALUES ('x')"), /permission denied for table orders/);
    // revokePublic: a login role without access is refused at the door.
    await pg.query("CREATE ROLE stranger LOGIN PASSWORD 'stranger-pw'");
    await assert.rejects(
      query(`postgresql://stranger:stranger-pw@${pg.host}:${pg.port}/shop`, "SELECT 1"),
      /permission denied for database "shop"/,
    );
  });

  test("1c. a REVOKE made by hand is drift: repaired at the next resync, with a Drifted event saying what ran", async () => {
    await pg.query("REVOKE SELECT ON sales.orders FROM shop_reporting", [], "shop");
    const reporting = secret("shop-reporting-credentials")!.data;
    await eventually("the grant repaired", () => query(reporting.uri, "SELECT item FROM sales.orders").catch(() => undefined));
    const drifted = await eventually("a Drifted event", () => events("shop").find((e) => e.reason === "Drifted"));
    assert.match(drifted.message, /repaired with: GRANT SELECT ON ALL TABLES IN SCHEMA "sales" TO "shop_reporting"/);
    assert.equal(drifted.type, "Warning");
  });

  test("1d. settings: status shows them; a hand change is repaired with a Drifted event, a key set by hand is left, a removed key reset", async () => {
    const shop = databases().get("shop").spec;
    const stored = async (role?: string) => {
      const rows = await pg.query<{ setconfig: string[] | null }>(
        `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
          WHERE d.datname = 'shop' AND s.setrole = coalesce((SELECT oid FROM pg_roles WHERE rolname = $1), 0)`,
        [role ?? null],
      );
      return Object.fromEntries((rows[0]?.setconfig ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
    };
    const config = { statement_timeout: "30s", work_mem: "8MB" };
    databases().apply("shop", { ...shop, config, roleConfig: { shop_reporting: { work_mem: "128MB" } } });
    const done = await eventually("the settings in the status", () => {
      const st = databases().get("shop").status;
      return ready(databases().get("shop")) && st?.config?.work_mem === "8MB" ? st : undefined;
    });
    assert.deepEqual(done.database.config, config, "observed");
    assert.deepEqual(done.roleConfig, { shop_reporting: { work_mem: "128MB" } }, "memory");
    assert.deepEqual(await stored("shop_reporting"), { work_mem: "128MB" });
    await pg.query("ALTER DATABASE shop SET statement_timeout = '10s'");
    await pg.query("ALTER DATABASE shop SET lock_timeout = '1s'");
    await eventually("the setting repaired", async () => ((await stored()).statement_timeout === "30s" ? true : undefined));
    const repair = /repaired with: ALTER DATABASE "shop" SET "statement_timeout" TO '30s'/;
    const drifted = await eventually("a Drifted event", () => events("shop").find((e) => e.reason === "Drifted" && repair.test(e.message)));
    assert.equal(drifted.type, "Warning");
    databases().apply("shop", { ...shop, config: { statement_timeout: "30s" }, roleConfig: {} });
    await eventually("work_mem reset", async () => ((await stored()).work_mem === undefined ? true : undefined));
    assert.deepEqual(await stored(), { statement_timeout: "30s", lock_timeout: "1s" }, "the key set by hand is left");
    await eventually("the role's setting reset", async () => (Object.keys(await stored("shop_reporting")).length === 0 ? true : undefined));
  });

  test("2. rotation by annotation: a new password in the Secret and on the role, the old one refused; once per value", async () => {
    const setBefore: string = roles().get("shop-app").status.credentials.passwordSetAt;
    assert.ok(Date.parse(setBefore) > Date.now() - 600_000, `status.credentials.passwordSetAt ${setBefore}: when the password was set`);
    roles().apply("shop-app", roles().get("shop-app").spec, { "pgroles.my.local/rotate": "2026-11-28" });
    const keys = await eventually("a new password", async () => {
      const data = await untilApplied("shop-app", "shop-app-credentials");
      return data.password !== passwords[0] ? data : undefined;
    });
    // The credential's age: in the status and as a metric, from the rotation on.
    const setAt: string = await eventually("a later passwordSetAt", () => {
      const at = roles().get("shop-app").status.credentials.passwordSetAt;
      return at > setBefore ? at : undefined;
    });
    const series = `pgkopf_role_password_set_timestamp_seconds{namespace="${NS}",pgrole="shop-app"}`;
    assert.equal(await controller.metric(series), Math.floor(Date.parse(setAt) / 1000));
    passwords.push(keys.password);
    assert.equal(await loginWithUri(keys.uri), "shop_app");
    await assert.rejects(loginWithUri(keys.uri.replace(keys.password, passwords[0])), /password authentication failed/);
    assert.ok(events("shop-app").some((e) => e.reason === "Rotated"));
    assert.equal(secret("shop-app-credentials")?.raw.metadata.annotations["pgroles.my.local/rotated-for"], "2026-11-28");

    // Resyncs (every 5 s here) with the same annotation rotate nothing.
    const version = secret("shop-app-credentials")?.raw.metadata.resourceVersion;
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal(secret("shop-app-credentials")?.raw.metadata.resourceVersion, version);
    assert.equal(roles().get("shop-app").status.credentials.passwordSetAt, setAt, "a resync sets no password");
    assert.ok(!readFileSync(pg.logFile, "utf8").includes(keys.password));
  });

  test("2b. rotateEvery: a new password when the one set is as old as the period, with a Rotated event; status says when the next is due", async () => {
    roles().apply("timed", { name: "timed_app", reclaimPolicy: "delete", rotateEvery: "12s" });
    await roles().untilReady("timed");
    const first = roles().get("timed").status.credentials;
    assert.equal(Date.parse(first.rotationDueAt) - Date.parse(first.passwordSetAt), 12_000);
    const password = secret("timed-credentials")!.data.password;
    // Not before it is due, whichever reconcile comes first once it is (the one asked for then, or a resync).
    const next = await eventually(
      "the scheduled rotation",
      () => {
        const c = roles().get("timed").status.credentials;
        return c.passwordSetAt !== first.passwordSetAt ? c : undefined;
      },
      30_000,
    );
    assert.ok(Date.parse(next.passwordSetAt) >= Date.parse(first.rotationDueAt), "not before it was due");
    const keys = secret("timed-credentials")!.data;
    assert.notEqual(keys.password, password);
    assert.equal(await loginWithUri(keys.uri), "timed_app");
    assert.ok(events("timed").some((e) => e.reason === "Rotated" && /spec.rotateEvery 12s/.test(e.message)));
    assert.throws(
      () => roles().apply("timed", { name: "timed_app", rotateEvery: "1s" }),
      /spec.rotateEvery: use a duration of at least 10s/,
    );
    cluster.kubectl(["delete", "pgrole", "timed", "-n", NS, "--wait=true"]);
  });

  test("2c. twoCredentials: an app reading its Secret afresh for every connect, each 100 ms, never fails through rotations; the previous member works until keepPrevious, then not; a rotation asked meanwhile waits", async () => {
    roles().apply("dual", { name: "dual_app", reclaimPolicy: "delete", twoCredentials: { keepPrevious: "15s" } });
    await roles().untilReady("dual");
    const first = secret("dual-credentials")!.data;
    assert.equal(first.username, "dual_app_a");
    assert.equal(roles().get("dual").status.credentials.username, "dual_app_a");
    assert.equal(await loginWithUri(first.uri), "dual_app", "the member's sessions act as the role");
    const seen = new Set<string>();
    const failures: string[] = [];
    let connects = 0;
    let running = true;
    const app = (async () => {
      while (running) {
        const keys = secret("dual-credentials")?.data;
        try {
          const [row] = (await query(keys!.uri, "SELECT session_user AS s")) as { s: string }[];
          seen.add(row.s);
          connects++;
        } catch (err) {
          failures.push(`${keys?.username}: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await new Promise((r) => setTimeout(r, 1000));
    roles().apply("dual", roles().get("dual").spec, { "pgroles.my.local/rotate": "first" });
    const rotated = await eventually("the Secret on the other member", () => {
      const c = roles().get("dual").status.credentials;
      return c?.username === "dual_app_b" && c.previousUsername === "dual_app_a" ? c : undefined;
    });
    await new Promise((r) => setTimeout(r, 1500));
    running = false;
    await app;
    assert.deepEqual(failures, [], "no connect failed");
    assert.deepEqual([...seen].sort(), ["dual_app_a", "dual_app_b"], `${connects} connects, as each member in turn`);
    console.log(`[2c] ${connects} connects through the rotation, ${failures.length} failed, as ${[...seen].join(" then ")}`);
    assert.equal(Date.parse(rotated.previousUntil) - Date.parse(rotated.passwordSetAt) < 16_000, true, "keepPrevious from the rotation");
    assert.equal(await loginWithUri(first.uri), "dual_app", "an app still holding the old Secret works in the grace period");
    assert.ok(events("dual").some((e) => e.reason === "Rotated" && /for dual_app_b .*dual_app_a logs in until/.test(e.message)));

    // Asked again before dual_app_a's grace period ends: the rotation onto it waits, then runs.
    roles().apply("dual", roles().get("dual").spec, { "pgroles.my.local/rotate": "second" });
    await eventually("the rotation to wait", () => /waits until/.test(ready(roles().get("dual"))?.message ?? "") || undefined);
    const second = secret("dual-credentials")!.data;
    assert.equal(second.username, "dual_app_b");
    assert.equal(await loginWithUri(first.uri), "dual_app", "still in its grace period");
    // At its end the waiting rotation gives dual_app_a a new password: the first Secret's no longer logs in.
    const third = await eventually(
      "the waiting rotation",
      () => {
        const keys = secret("dual-credentials")!.data;
        return keys.username === "dual_app_a" && keys.password !== first.password ? keys : undefined;
      },
      30_000,
    );
    const started = Date.parse(roles().get("dual").status.credentials.passwordSetAt);
    assert.ok(started >= Date.parse(rotated.previousUntil), "not before the grace period ended");
    await assert.rejects(loginWithUri(first.uri), /password authentication failed|not permitted to log in/);
    assert.equal(await loginWithUri(third.uri), "dual_app");
    assert.equal(await loginWithUri(second.uri), "dual_app", "and the member before it is the previous one now");
    cluster.kubectl(["delete", "pgrole", "dual", "-n", NS, "--wait=true"]);
    for (const r of ["dual_app", "dual_app_a", "dual_app_b"]) assert.equal(await roleExists(r), false, `${r} dropped`);
  });

  test("2d. a PgRole with tables in two databases switches to twoCredentials and back: its old login works for keepPrevious, nothing it owns moves", async () => {
    roles().apply("mover", { name: "mover_app" });
    await roles().untilReady("mover");
    const one = secret("mover-credentials")!.data;
    for (const db of ["mover_one", "mover_two"]) {
      await pg.query(`CREATE DATABASE ${db}`);
      await pg.query(`GRANT CREATE ON DATABASE ${db} TO mover_app`);
      const uri = one.uri.replace(/\/[^/?]+(\?|$)/, `/${db}$1`);
      await query(uri, "CREATE SCHEMA app; CREATE TABLE app.items (id int); INSERT INTO app.items SELECT generate_series(1, 30)");
    }
    const owned = async () => {
      const out: string[] = [];
      for (const db of ["mover_one", "mover_two"]) {
        const [row] = await pg.query<{ o: string; n: number }>(
          "SELECT tableowner AS o, (SELECT count(*)::int FROM app.items) AS n FROM pg_tables WHERE schemaname = 'app'",
          [],
          db,
        );
        out.push(`${row.o} ${row.n}`);
      }
      return out;
    };
    roles().apply("mover", { name: "mover_app", twoCredentials: { keepPrevious: "10s" } });
    const two = await eventually("the Secret on the first member", () => {
      const keys = secret("mover-credentials")!.data;
      return keys.username === "mover_app_a" ? keys : undefined;
    });
    assert.equal(await loginWithUri(one.uri), "mover_app", "the old login works in the grace period");
    for (const db of ["mover_one", "mover_two"])
      await query(two.uri.replace(/\/[^/?]+(\?|$)/, `/${db}$1`), "INSERT INTO app.items VALUES (31)");
    await eventually(
      "the role itself NOLOGIN",
      async () => (await loginWithUri(one.uri).catch((e: Error) => e.message)).includes("not permitted to log in") || undefined,
      30_000,
    );
    assert.deepEqual(await owned(), ["mover_app 31", "mover_app 31"]);

    roles().apply("mover", { name: "mover_app" });
    const back = await eventually("the Secret on the role again", () => {
      const keys = secret("mover-credentials")!.data;
      return keys.username === "mover_app" ? keys : undefined;
    });
    assert.equal(await loginWithUri(back.uri), "mover_app");
    assert.equal(await loginWithUri(two.uri), "mover_app", "the member works in its grace period");
    assert.ok(events("mover").some((e) => e.reason === "Rotated" && /spec.twoCredentials removed/.test(e.message)));
    await eventually(
      "the member NOLOGIN",
      async () => (await loginWithUri(two.uri).catch((e: Error) => e.message)).includes("not permitted to log in") || undefined,
      30_000,
    );
    assert.deepEqual(await owned(), ["mover_app 31", "mover_app 31"]);
  });

  test("3. rotation by deleting the Secret: a new Secret, a new password, and the role follows", async () => {
    cluster.kubectl(["delete", "secret", "shop-app-credentials", "-n", NS]);
    const keys = await eventually("a new Secret", async () => {
      const data = await untilApplied("shop-app", "shop-app-credentials");
      return passwords.includes(data.password) ? undefined : data;
    });
    assert.equal(loginWithPgpass(keys), "shop_app@shop");
    passwords.push(keys.password);
  });

  test("4. a rotation asked while Postgres is down: nothing handed out until the role can take it, then both change", async () => {
    const before = roles().get("shop-app").status.credentials;
    const old = secret("shop-app-credentials")!.data;
    pg.stop();
    try {
      roles().apply("shop-app", roles().get("shop-app").spec, { "pgroles.my.local/rotate": "during-outage" });
      const failed = await roles().untilReady("shop-app", "PostgresUnavailable");
      // The Secret still holds the password the role has, and the status says which Secret that is.
      assert.deepEqual(failed.status.credentials, before);
      assert.equal(secret("shop-app-credentials")?.data.password, old.password);
    } finally {
      pg.start();
    }
    const keys = await eventually("the rotation done", async () => {
      const data = await untilApplied("shop-app", "shop-app-credentials");
      return data.password !== old.password ? data : undefined;
    });
    assert.equal(secret("shop-app-credentials")?.raw.metadata.annotations["pgroles.my.local/rotated-for"], "during-outage");
    assert.equal(await loginWithUri(keys.uri), "shop_app");
  });

  test("5. a Secret edited by hand: the role takes its password, and the other keys follow it", async () => {
    const chosen = "Chosen-by-hand:0001";
    const patch = join(mkdtempSync(join(tmpdir(), "patch-")), "patch.json");
    writeFileSync(patch, JSON.stringify({ stringData: { password: chosen } }), { mode: 0o600 });
    cluster.kubectl(["patch", "secret", "shop-app-credentials", "-n", NS, "--type=merge", "--patch-file", patch]);
    const keys = await eventually("the chosen password applied", async () => {
      const data = await untilApplied("shop-app", "shop-app-credentials");
      return data.uri.includes(encodeURIComponent(chosen)) ? data : undefined;
    });
    assert.equal(keys.password, chosen);
    assert.equal(await loginWithUri(keys.uri), "shop_app");
    assert.equal(loginWithPgpass(keys), "shop_app@shop");
  });

  test("6. a Secret that is not the PgRole's is left alone, and no role is created", async () => {
    cluster.kubectl(["create", "secret", "generic", "taken-credentials", "-n", NS, "--from-literal=password=theirs"]);
    roles().apply("taken", { name: "taken_role" });
    const obj = await roles().untilReady("taken", "SecretNotOwned");
    assert.match(ready(obj).message, /Secret taken-credentials exists and is not this PgRole's/);
    assert.ok(!(await roleExists("taken_role")));
    assert.equal(secret("taken-credentials")?.data.password, "theirs");
    assert.equal(secret("taken-credentials")?.raw.metadata.ownerReferences, undefined);
    // The remedy the message gives (regression: the CRD refused it): another name, and the role is made.
    assert.match(ready(obj).message, /Set spec.secretName to a name no Secret has/);
    roles().apply("taken", { name: "taken_role", secretName: "taken-own-credentials" });
    await untilApplied("taken", "taken-own-credentials");
    assert.ok(await roleExists("taken_role"));
    assert.equal(secret("taken-credentials")?.data.password, "theirs");
  });

  // Regression: a write the API server refused (here the Secret, by a quota) left the PgRole without a status and
  // with no Event while the queue retried it forever; now the refusal is the object's status, and it recovers.
  test("6c. a Secret the API server refuses (a quota): KubernetesRefused with what it said, then Ready once allowed", async () => {
    cluster.kubectl(["create", "quota", "no-secrets", "-n", NS, "--hard=secrets=0"]);
    try {
      roles().apply("quota", { name: "quota_role" });
      const obj = await roles().untilReady("quota", "KubernetesRefused");
      assert.match(
        ready(obj).message,
        /the Kubernetes API server refused a write pg-kopf makes for this object \(POST .*secrets: 403 .*quota/,
      );
      assert.ok(events("quota").some((e) => e.reason === "KubernetesRefused" && e.type === "Warning"));
      assert.ok(!(await roleExists("quota_role")));
    } finally {
      cluster.kubectl(["delete", "quota", "no-secrets", "-n", NS]);
    }
    await roles().untilReady("quota");
    assert.ok(await roleExists("quota_role"));
    assert.ok(secret("quota-credentials"));
  });

  // Regression: the Secret was written with a new password before the role turned out not to be ours, handing out a
  // password that never worked.
  test("6b. a role made by hand is not taken over without adopt, and no Secret is written for it", async () => {
    await pg.query("CREATE ROLE handmade LOGIN");
    roles().apply("handmade", { name: "handmade" });
    const obj = await roles().untilReady("handmade", "NotOwned");
    assert.match(ready(obj).message, /role "handmade" exists and was not created by pg-kopf/);
    assert.equal(secret("handmade-credentials"), undefined);
  });

  test("7. a namespace where pg-kopf may not write Secrets: refused with the fix, nothing created", async () => {
    cluster.kubectl(["create", "namespace", "elsewhere"]);
    cluster.kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "my.local/v1",
        kind: "PgRole",
        metadata: { name: "outside", namespace: "elsewhere" },
        spec: { name: "outside_role" },
      }),
    );
    const obj = await eventually("outside SecretsNotAllowed", () => {
      const o = JSON.parse(cluster.kubectl(["get", "pgrole", "outside", "-n", "elsewhere", "-o", "json"]));
      return ready(o)?.reason === "SecretsNotAllowed" ? o : undefined;
    });
    assert.match(ready(obj).message, /Add elsewhere to the program's pg-kopf:roleNamespaces/);
    assert.ok(!(await roleExists("outside_role")));
  });

  test("8. a role that cannot log in has no Secret; memberOf grants it to another", async () => {
    roles().apply("readers", { name: "shop_readers", login: false });
    roles().apply("reporter", { name: "reporter", memberOf: ["shop_readers"] });
    const readers = await roles().untilReady("readers");
    const reporter = await roles().untilReady("reporter");
    assert.equal(readers.status.credentials, undefined);
    assert.equal(secret("readers-credentials"), undefined);
    assert.deepEqual(reporter.status.role.memberOf, ["shop_readers"]);
    assert.ok(secret("reporter-credentials"));
  });

  test("8c. a Kerberos role: no password on the role or in its Secret, and a password it had removed once when asked", async () => {
    roles().apply("svc", { name: "svc_kerberos", authentication: "kerberos", database: "postgres" });
    const obj = await roles().untilReady("svc");
    const keys = secret("svc-credentials")!.data;
    assert.deepEqual(Object.keys(keys).sort(), ["dbname", "host", "jdbc-uri", "port", "sslmode", "uri", "username"]);
    assert.match(keys.uri, /^postgresql:\/\/svc_kerberos@[^:]+:\d+\/postgres\?sslmode=disable$/);
    assert.equal(obj.status.passwordRemoved, undefined);
    const passwordOf = async (role: string) =>
      (await pg.superQuery<{ p: string | null }>("SELECT rolpassword AS p FROM pg_authid WHERE rolname = $1", [role]))[0]?.p;
    assert.equal(await passwordOf("svc_kerberos"), null);
    // A role of the password days, moved to Kerberos: its password goes only when the spec says so.
    await pg.query("CREATE ROLE legacy_svc LOGIN PASSWORD 'from-before'");
    roles().apply("legacy", { name: "legacy_svc", authentication: "kerberos", adopt: true });
    await roles().untilReady("legacy");
    assert.notEqual(await passwordOf("legacy_svc"), null);
    roles().apply("legacy", { name: "legacy_svc", authentication: "kerberos", adopt: true, removePassword: true });
    await eventually("the password removed, and remembered", async () =>
      roles().get("legacy").status.passwordRemoved === true && (await passwordOf("legacy_svc")) === null ? true : undefined,
    );
    assert.ok(roles().get("legacy").status.lastAppliedSql.includes('ALTER ROLE "legacy_svc" WITH PASSWORD NULL'));
  });

  // Regression: a role dropped in Postgres came back at the next resync without a password, so the Secret's stopped
  // working until someone rotated it.
  test("8b. a role dropped out of band comes back at the resync, with the password its Secret holds", async () => {
    const keys = secret("reporter-credentials")!.data;
    await pg.query('DROP ROLE "reporter"');
    await eventually("reporter re-created", () => roleExists("reporter"));
    // Its Secret names no database (no spec.database): the URI leads to the server's maintenance database, where any
    // role may connect (regression: it named none, and libpq tried a database named after the role).
    assert.match(keys.uri, /:\d+\/postgres\?sslmode=disable$/);
    await eventually("a login with the Secret's password", () => loginWithUri(keys.uri).catch(() => undefined));
    assert.deepEqual(roles().get("reporter").status.role.memberOf, ["shop_readers"]);
  });

  test("8d. secretTemplate: keys in the shape apps read, each URL a working login; an edited template is applied at once, the password kept", async () => {
    roles().apply("tmpl", {
      name: "tmpl_app",
      database: "postgres",
      secretTemplate: {
        DATABASE_URL: "postgresql://{{ username }}:{{ password }}@{{ host }}:{{ port }}/{{ dbname }}?sslmode={{ sslmode }}",
        SPRING_DATASOURCE_URL: "jdbc:postgresql://{{ host }}:{{ port }}/{{ dbname }}",
        PGPASSWORD_ONLY: "{{ password }}",
      },
    });
    await roles().untilReady("tmpl");
    const keys = secret("tmpl-credentials")!.data;
    // The password is percent-encoded where it sits in the URL, and raw where the value is not a URL.
    assert.equal(
      keys.DATABASE_URL,
      `postgresql://tmpl_app:${encodeURIComponent(keys.password)}@${keys.host}:${keys.port}/postgres?sslmode=disable`,
    );
    assert.equal(keys.SPRING_DATASOURCE_URL, `jdbc:postgresql://${keys.host}:${keys.port}/postgres`);
    assert.equal(keys.PGPASSWORD_ONLY, keys.password);
    assert.equal(await loginWithUri(keys.DATABASE_URL), "tmpl_app");
    // Edited: the Secret follows at once, with the same password.
    roles().apply("tmpl", {
      name: "tmpl_app",
      database: "postgres",
      secretTemplate: { DATABASE_URL: "postgres://{{ username }}:{{ password }}@{{ host }}:{{ port }}/{{ dbname }}" },
    });
    const edited = await eventually("the edited template in the Secret", () => {
      const data = secret("tmpl-credentials")!.data;
      return data.DATABASE_URL?.startsWith("postgres://") && !("SPRING_DATASOURCE_URL" in data) ? data : undefined;
    });
    assert.equal(edited.password, keys.password);
    assert.equal(await loginWithUri(edited.DATABASE_URL), "tmpl_app");
    // A further database: its own keys, a URL to it; a database named twice is refused by the API server.
    const template = { DATABASE_URL: "postgres://{{ username }}:{{ password }}@{{ host }}:{{ port }}/{{ dbname }}" };
    roles().apply("tmpl", { name: "tmpl_app", database: "postgres", databases: ["template1"], secretTemplate: template });
    const more = await eventually("template1's keys", () => {
      const data = secret("tmpl-credentials")!.data;
      return "template1.uri" in data ? data : undefined;
    });
    assert.equal(more.password, keys.password);
    assert.equal(more["template1.dbname"], "template1");
    assert.equal(await loginWithUri(more["template1.uri"]), "tmpl_app");
    assert.throws(
      () => roles().apply("tmpl", { name: "tmpl_app", database: "postgres", databases: ["postgres"] }),
      /spec.databases names spec.database again/,
    );
    // A placeholder that does not exist: refused, naming the key, and the Secret is left as it was.
    roles().apply("tmpl", { name: "tmpl_app", database: "postgres", secretTemplate: { DATABASE_URL: "{{ pasword }}" } });
    const refused = await eventually("InvalidSpec", () => {
      const c = ready(roles().get("tmpl"));
      return c?.reason === "InvalidSpec" ? c : undefined;
    });
    assert.match(refused.message, /secretTemplate\.DATABASE_URL: \{\{ pasword \}\} is not a placeholder/);
    assert.equal(secret("tmpl-credentials")!.data.DATABASE_URL, edited.DATABASE_URL);
    cluster.kubectl(["delete", "pgrole", "tmpl", "-n", NS, "--wait=true"]);
  });

  test("9. deleting a database and its owner role together, both reclaimPolicy delete: the database goes, then the role", async () => {
    roles().apply("gone-app", { name: "gone_app", reclaimPolicy: "delete" });
    databases().apply("gone", { name: "gone_db", owner: "gone_app", reclaimPolicy: "delete" });
    await databases().untilReady("gone");
    await roles().untilReady("gone-app");
    cluster.kubectl(["delete", "pgrole", "gone-app", "-n", NS, "--wait=false"]);
    cluster.kubectl(["delete", "pgdb", "gone", "-n", NS, "--wait=false"]);
    await eventually("both objects gone", () => !roles().get("gone-app") && !databases().get("gone"));
    assert.ok(!(await roleExists("gone_app")));
    await eventually("the Secret collected with its PgRole", () => secret("gone-app-credentials") === undefined);
  });

  test("10. deleting with reclaimPolicy retain keeps the role; its Secret goes with the object", async () => {
    cluster.kubectl(["delete", "pgrole", "reporter", "-n", NS, "--wait=true", "--timeout=30s"]);
    assert.ok(await roleExists("reporter"));
    assert.ok(events("reporter").some((e) => e.reason === "Retained"));
    await eventually("the Secret collected with its PgRole", () => secret("reporter-credentials") === undefined);
  });

  // Regression: parallel DROP OWNED in one database failed "tuple concurrently updated" (the shared ACL rows).
  for (let round = 1; round <= 5; round++)
    test(`11.${round}. twenty PgRoles with grants in one database, removed at once with reassign by the controller's parallel reconciles: none fails`, async () => {
      const names = Array.from({ length: 20 }, (_, i) => `crowd-${round}-${i}`);
      const role = (object: string) => object.replaceAll("-", "_");
      await pg.query("DO $$ BEGIN CREATE ROLE crowd_heir NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
      for (const n of names) roles().apply(n, { name: role(n), login: false, reclaimPolicy: "delete", reassignOwnedTo: "crowd_heir" });
      for (const n of names) await roles().untilReady(n);
      // Each role's privileges on one schema and its tables: the ACL rows every removal rewrites.
      databases().apply("crowded", {
        name: "crowded",
        reclaimPolicy: "retain",
        schemas: [{ name: "shared" }],
        access: names.map((n) => ({ role: role(n), level: "read" })),
      });
      await databases().untilReady("crowded");
      await pg.query("CREATE TABLE IF NOT EXISTS shared.t (id int)", [], "crowded");
      cluster.kubectl(["delete", "pgdb", "crowded", "-n", NS, "--wait=true", "--timeout=30s"]);
      const since = controller.output().length;
      cluster.kubectl(["delete", "pgrole", ...names, "-n", NS, "--wait=false"]);
      await eventually("the twenty objects gone", () => names.every((n) => !roles().get(n)), 60_000);
      for (const n of names) assert.ok(!(await roleExists(role(n))), role(n));
      const failures = names.flatMap((n) => events(n)).filter((e) => e.type === "Warning");
      assert.deepEqual(
        failures.map((e) => `${e.involvedObject.name}: ${e.reason}: ${e.message}`),
        [],
      );
      assert.doesNotMatch(controller.output().slice(since), /tuple concurrently|deadlock detected/);
    });
});
