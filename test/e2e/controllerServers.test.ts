// The controller with more than one Postgres, end to end: servers declared in the program's pg-kopf:servers become
// PgServer objects (with their Service, admin Secret and CA) through the real `pulumi up`; the controller, a process
// with exactly the program's RBAC, checks each and puts every PgDatabase and PgRole on the server it names. Three real
// PostgreSQL 15 servers (the default one, a plain one that is stopped and restarted, a TLS-only one with its own CA)
// and a server that never answers.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server, type Socket } from "node:net";
import { Client } from "pg";
import { after, before, describe, test } from "node:test";
import { type TestCluster, startCluster } from "../harness/cluster";
import { type ControllerProcess, installController, NAMESPACE, startController } from "../harness/controller";
import { startPgBouncer } from "../harness/pgbouncer";
import { freePort, startPostgres, type TestPostgres } from "../harness/postgres";
import { customObjects, ready, eventually as waitFor } from "./customObjects";

const NS = "default";
const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";
let pg: TestPostgres;
let alpha: TestPostgres;
let secure: TestPostgres;
let other: TestPostgres;
let hung: { server: Server; port: number; sockets: Set<Socket> };
let cluster: TestCluster;
let controller: ControllerProcess;
const ALPHA_ADMIN = "alpha_admin";
const ALPHA_PASSWORDS = ["alpha-first-Pa55", "alpha-second-Pa55"];

const tail = () => controller.output().split("\n").slice(-15).join("\n");
const eventually = <T>(what: string, probe: () => T | Promise<T>, timeoutMs?: number) => waitFor(what, probe, tail, timeoutMs);
const databases = (namespace = NS) => customObjects(cluster, "PgDatabase", "pgdb", namespace, tail);
const roles = () => customObjects(cluster, "PgRole", "pgrole", NS, tail);
const server = (name: string) => JSON.parse(cluster.kubectl(["get", "pgserver", name, "-o", "json"]));
const untilServer = (name: string, reason: string, timeoutMs?: number) =>
  eventually(`PgServer ${name} ${reason}`, () => (ready(server(name))?.reason === reason ? server(name) : undefined), timeoutMs);
const untilReason = (name: string, reason: string, namespace = NS, timeoutMs?: number) =>
  eventually(
    `PgDatabase ${name} ${reason}`,
    () => (ready(databases(namespace).get(name))?.reason === reason ? databases(namespace).get(name) : undefined),
    timeoutMs,
  );
const dbExists = async (on: TestPostgres, name: string) =>
  (await on.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])).length === 1;
/** Applies an object as kubectl apply does, from its JSON. */
const apply = (obj: object) => cluster.kubectl(["apply", "-f", "-"], JSON.stringify(obj));
const secretData = (name: string, namespace = NAMESPACE) =>
  JSON.parse(cluster.kubectl(["get", "secret", name, "-n", namespace, "-o", "jsonpath={.data}"])) as Record<string, string>;

/** A TCP port that accepts connections and never says a word: a server that hangs, not one that refuses. */
async function startHungServer(): Promise<typeof hung> {
  const sockets = new Set<Socket>();
  const port = await freePort();
  const srv = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => srv.listen(port, "127.0.0.1", resolve));
  return { server: srv, port, sockets };
}

before(async () => {
  [pg, alpha, secure, other] = await Promise.all([
    startPostgres(),
    startPostgres(),
    startPostgres({ tls: true }),
    startPostgres({ tls: true }),
  ]);
  hung = await startHungServer();
  // The plain server's admin is a role of its own, so its password can be changed while the tests' own login stays.
  await alpha.query(`CREATE ROLE ${ALPHA_ADMIN} WITH LOGIN SUPERUSER PASSWORD '${ALPHA_PASSWORDS[0]}'`);
  cluster = await startCluster({ workloads: true });
  const servers = {
    alpha: { host: "localhost", port: alpha.port, user: ALPHA_ADMIN, sslMode: "disable", allowedNamespaces: [NS] },
    secure: { host: "localhost", port: secure.port, user: secure.user, sslRootCert: secure.caPem, allowedNamespaces: [NS] },
    hung: { host: "localhost", port: hung.port, user: "postgres", sslMode: "disable", connectTimeout: 3, allowedNamespaces: ["*"] },
  };
  const kubeconfig = installController(cluster, pg, {
    servers: { value: JSON.stringify(servers) },
    serverPasswords: { value: JSON.stringify({ alpha: ALPHA_PASSWORDS[0], secure: secure.password, hung: "never-used" }), secret: true },
  });
  // A resync slower than any wait here: what follows a server's change follows it, not the resync.
  controller = await startController("controller-servers", kubeconfig, pg, { SERVER_CHECK_SECONDS: "1", RESYNC_SECONDS: "120" });
  await eventually("the controller to lead", async () => (await controller.metric("pgkopf_leader")) === 1);
});
after(async () => {
  await controller?.kill();
  cluster?.stop();
  for (const s of [pg, alpha, secure, other]) s?.destroy();
  for (const socket of hung?.sockets ?? []) socket.destroy();
  hung?.server.close();
});

describe("more than one Postgres: PgServers, their status, tenancy, and a server down", () => {
  test("1. the program's servers are PgServers; the controller finds each Ready (Reachable), or says why not", async () => {
    const a = await untilServer("alpha", "Reachable");
    assert.match(a.status.version, /^15\./);
    assert.match(a.status.lastCheckTime, /^\d{4}-\d\d-\d\dT/);
    assert.equal(ready(a).status, "True");
    assert.match(ready(a).message, /connected to localhost:\d+ as alpha_admin \(sslmode disable\)/);
    // The TLS-only one through verify-full, with the CA from its ConfigMap.
    const s = await untilServer("secure", "Reachable");
    assert.equal(s.spec.sslMode, "verify-full");
    assert.deepEqual(s.spec.ca, { configMapName: "pg-kopf-server-secure-ca", key: "ca.crt" });
    const h = await untilServer("hung", "Unreachable");
    assert.equal(ready(h).status, "False");
    assert.match(ready(h).message, /timeout|terminated/i);
    // Apps in the cluster reach each server by a Service of its own (ExternalName for a DNS name).
    assert.equal(
      cluster.kubectl(["get", "service", "postgres-alpha", "-n", NAMESPACE, "-o", "jsonpath={.spec.externalName}"]),
      "localhost",
    );
    console.log(cluster.kubectl(["get", "pgservers", "-o", "wide"]));
    // And in the metrics, for alerting.
    const text = await (await fetch(`http://127.0.0.1:${controller.port}/metrics`)).text();
    assert.match(text, /pgkopf_server_ready\{server="alpha"\} 1/);
    assert.match(text, /pgkopf_server_ready\{server="hung"\} 0/);
  });

  test("2. each object lands on the server it names, and only there; a role's Secret points at its server", async () => {
    databases().apply("on-default", { name: "on_default", reclaimPolicy: "delete" });
    databases().apply("on-alpha", { name: "on_alpha", server: "alpha", reclaimPolicy: "delete" });
    // The same name on two servers is two databases.
    databases().apply("same-on-alpha", { name: "on_default", server: "alpha", reclaimPolicy: "delete" });
    // Where the app mounts its Secret (a volume, played by a directory the test writes the keys into).
    const mount = mkdtempSync(join(tmpdir(), "pg-kopf-mount-"));
    roles().apply("secure-app", { name: "secure_app", server: "secure", reclaimPolicy: "delete", secretMountPath: mount });
    databases().apply("on-secure", { name: "on_secure", server: "secure", owner: "secure_app", reclaimPolicy: "delete" });
    for (const name of ["on-default", "on-alpha", "same-on-alpha", "on-secure"]) await databases().untilReady(name);
    await roles().untilReady("secure-app");
    assert.ok(await dbExists(pg, "on_default"));
    assert.ok(await dbExists(alpha, "on_default"));
    assert.ok(await dbExists(alpha, "on_alpha"));
    assert.ok(!(await dbExists(pg, "on_alpha")));
    assert.ok(await dbExists(secure, "on_secure"));
    assert.equal((await secure.query("SELECT 1 FROM pg_roles WHERE rolname = 'secure_app'")).length, 1);
    assert.equal((await pg.query("SELECT 1 FROM pg_roles WHERE rolname = 'secure_app'")).length, 0);
    const keys = secretData("secure-app-credentials", NS);
    const text = (k: string) => Buffer.from(keys[k], "base64").toString();
    assert.equal(text("port"), String(secure.port));
    assert.equal(text("host"), "localhost");
    // The server's TLS for apps: its sslmode in the keys and URIs, and its CA to verify it with.
    assert.equal(text("sslmode"), "verify-full");
    assert.match(text("uri"), new RegExp(`\\?sslmode=verify-full&sslrootcert=${encodeURIComponent(`${mount}/ca.crt`)}$`));
    assert.equal(text("ca.crt"), secure.caPem);
    // An app given only the mounted Secret verifies the server: psql with the uri as it stands (libpq's own reading),
    // its password from the Secret's pgpass file rather than on a command line.
    for (const key of Object.keys(keys)) writeFileSync(join(mount, key), text(key), { mode: 0o600 });
    const uri = text("uri").replace(`:${encodeURIComponent(text("password"))}@`, "@");
    const sql = "SELECT current_user || ' ' || (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())";
    const who = execFileSync(join(PG_BIN, "psql"), [uri, "-w", "-Atc", sql], {
      env: { PATH: process.env.PATH ?? "", PGPASSFILE: join(mount, "pgpass") },
      encoding: "utf8",
    }).trim();
    assert.equal(who, "secure_app true", "verify-full with the Secret's CA, as the role");
  });

  test("2b. the server's address changed: its roles' Secrets follow at once, the password kept, with an Event", async () => {
    roles().apply("alpha-app", { name: "alpha_app", server: "alpha", reclaimPolicy: "delete" });
    await roles().untilReady("alpha-app");
    const text = (k: string) => Buffer.from(secretData("alpha-app-credentials", NS)[k], "base64").toString();
    const password = text("password");
    assert.equal(text("host"), "localhost");
    const move = (host: string) =>
      cluster.kubectl(["patch", "pgserver", "alpha", "--type", "merge", "-p", JSON.stringify({ spec: { host } })]);
    move("127.0.0.1");
    try {
      // Well before the resync: the server's check moves its objects.
      await eventually("the Secret to follow the server", () => (text("host") === "127.0.0.1" ? true : undefined), 5_000);
      assert.equal(text("password"), password);
      assert.match(text("uri"), new RegExp(`@127\\.0\\.0\\.1:${alpha.port}/`));
      const events = cluster.kubectl([
        "get",
        "events",
        "-n",
        NS,
        "--field-selector",
        "involvedObject.name=alpha-app,reason=SecretUpdated",
        "-o",
        "jsonpath={.items[*].message}",
      ]);
      assert.match(events, /Secret alpha-app-credentials rewritten, the password kept: host, jdbc-uri, pgpass, uri changed/);
      assert.ok(!events.includes(password), "the Event names keys, never values");
    } finally {
      move("localhost");
    }
    await eventually("the Secret back", () => (text("host") === "localhost" ? true : undefined), 15_000);
  });

  test("2c. a pooler declared on the server (a real PgBouncer, scram-sha-256): Secrets point at it, the server under direct-*; removed, they point back", async () => {
    const pooler = await startPgBouncer(alpha);
    roles().apply("pooled-app", { name: "pooled_app", server: "alpha", reclaimPolicy: "delete" });
    await roles().untilReady("pooled-app");
    const keys = () =>
      Object.fromEntries(
        Object.entries(secretData("pooled-app-credentials", NS)).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
      ) as Record<string, string>;
    const whoAt = async (uri: string) => {
      const client = new Client({ connectionString: uri });
      await client.connect();
      try {
        return (await client.query("SELECT current_user AS u")).rows[0].u;
      } finally {
        await client.end();
      }
    };
    /** The Secret's keys once its port is this one. */
    const pointingAt = (port: number, what: string, timeoutMs: number) =>
      eventually(
        what,
        () => {
          const k = keys();
          return k.port === String(port) ? k : undefined;
        },
        timeoutMs,
      );
    const declare = (value: object | null) =>
      cluster.kubectl(["patch", "pgserver", "alpha", "--type", "merge", "-p", JSON.stringify({ spec: { pooler: value } })]);
    let password = keys().password;
    declare({ host: pooler.host, port: pooler.port });
    try {
      const pooled = await pointingAt(pooler.port, "the Secret to point at the pooler", 5_000);
      assert.equal(pooled.password, password);
      assert.equal(pooled.host, pooler.host);
      assert.match(pooled.uri, new RegExp(`@${pooler.host.replace(/\./g, "\\.")}:${pooler.port}/postgres`));
      assert.equal(await whoAt(pooled.uri), "pooled_app", "through PgBouncer");
      assert.equal(pooled["direct-port"], String(alpha.port));
      assert.equal(await whoAt(pooled["direct-uri"]), "pooled_app", "straight to the server");

      // Switched to two credentials, then rotated, through the pooler: an app reading its Secret for every connect,
      // each 100 ms, never fails (the rotation asked waits for the role's own grace period to end).
      const seen = new Set<string>();
      const failures: string[] = [];
      let running = true;
      const app = (async () => {
        while (running) {
          const k = keys();
          try {
            const client = new Client({ connectionString: k.uri });
            await client.connect();
            try {
              seen.add((await client.query("SELECT session_user AS s")).rows[0].s);
            } finally {
              await client.end();
            }
          } catch (err) {
            failures.push(`${k.username}@${k.port}: ${(err as Error).message}`);
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const spec = { name: "pooled_app", server: "alpha", reclaimPolicy: "delete", twoCredentials: { keepPrevious: "10s" } };
      roles().apply("pooled-app", spec);
      await eventually("the Secret on the first member", () => keys().username === "pooled_app_a" || undefined, 10_000);
      roles().apply("pooled-app", spec, { "pgroles.my.local/rotate": "through-the-pooler" });
      await eventually("the rotation, once the role's grace period ended", () => keys().username === "pooled_app_b" || undefined, 30_000);
      await new Promise((r) => setTimeout(r, 1500));
      running = false;
      await app;
      assert.deepEqual(failures, [], "no connect through the pooler failed");
      console.log(`[2c] ${seen.size} roles seen through PgBouncer, ${failures.length} connects failed`);
      assert.deepEqual([...seen].sort(), ["pooled_app", "pooled_app_a", "pooled_app_b"]);
      password = keys().password;
    } finally {
      declare(null);
      pooler.stop();
    }
    const back = await pointingAt(alpha.port, "the Secret back at the server", 15_000);
    assert.ok(!Object.keys(back).some((k) => k.startsWith("direct-")), "no direct-* keys without a pooler");
    assert.equal(back.password, password);
    cluster.kubectl(["delete", "pgrole", "pooled-app", "-n", NS, "--wait=true"]);
  });

  test("3. tenancy: a namespace the server does not allow gets a refusal naming the server, and nothing is created", async () => {
    cluster.kubectl(["create", "namespace", "team-b"]);
    databases("team-b").apply("sneaky", { name: "sneaky", server: "alpha", reclaimPolicy: "delete" });
    const refused = await untilReason("sneaky", "ServerNotAllowed", "team-b");
    assert.match(
      ready(refused).message,
      /PgServer "alpha" does not serve namespace team-b \(its spec.allowedNamespaces selects kubernetes.io\/metadata.name in \(default\)\)/,
    );
    console.log(JSON.stringify(ready(refused)));
    // A server that does not exist is named as such.
    databases().apply("nowhere", { name: "nowhere", server: "nowhere" });
    assert.match(ready(await untilReason("nowhere", "ServerNotFound")).message, /no PgServer is named "nowhere"/);
    assert.ok(!(await dbExists(alpha, "sneaky")));
    assert.ok(!(await dbExists(pg, "nowhere")));
    // spec.server cannot change: the database would stay behind on the old one.
    assert.throws(
      () => databases().apply("on-alpha", { name: "on_alpha", server: "secure", reclaimPolicy: "delete" }),
      /spec.server is immutable/,
    );
  });

  test("4. a server that hangs does not slow the others: their objects are Ready while its own report Unreachable", async () => {
    const started = Date.now();
    for (let i = 0; i < 12; i++) databases().apply(`hung-${i}`, { name: `hung_${i}`, server: "hung" });
    for (let i = 0; i < 4; i++) databases().apply(`fast-${i}`, { name: `fast_${i}`, server: i % 2 ? "alpha" : undefined });
    // Twelve objects on a server whose connections time out after 3 s, four workers: had they waited for it, the
    // others would wait 9 s and more.
    for (let i = 0; i < 4; i++) await databases().untilReady(`fast-${i}`);
    const elapsed = Date.now() - started;
    console.log(`4 databases on the default and alpha servers Ready in ${elapsed} ms beside 12 on a hung server`);
    assert.ok(elapsed < 8000, `the other servers' objects waited ${elapsed} ms`);
    const hungObject = await untilReason("hung-0", "ServerUnreachable");
    assert.match(ready(hungObject).message, /PgServer "hung" is not Ready \(Unreachable: /);
  });

  test("5. a server stopped: its objects report it, the others go on; restarted with a new password and a new Secret: they recover", async () => {
    // Its admin password changes, then it stops; the Secret still has the old password. (Connections already open
    // stay logged in, which is why it keeps answering until it stops.)
    await alpha.query(`ALTER ROLE ${ALPHA_ADMIN} PASSWORD '${ALPHA_PASSWORDS[1]}'`);
    alpha.stop();
    await untilServer("alpha", "Unreachable", 15_000);
    await untilReason("on-alpha", "ServerUnreachable", NS, 15_000);
    console.log(JSON.stringify(ready(server("alpha"))));
    databases().apply("while-alpha-down", { name: "while_alpha_down" });
    await databases().untilReady("while-alpha-down");
    databases().apply("waits-for-alpha", { name: "waits_for_alpha", server: "alpha" });
    await untilReason("waits-for-alpha", "ServerUnreachable");

    alpha.start();
    const refused = await untilServer("alpha", "AuthenticationFailed", 15_000);
    assert.match(ready(refused).message, /password authentication failed for user "alpha_admin"/);
    assert.ok(!controller.output().includes(ALPHA_PASSWORDS[0]) && !controller.output().includes(ALPHA_PASSWORDS[1]));
    // The new password in the Secret takes effect at the next check: no restart.
    const pid = controller.child.pid;
    apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "pg-kopf-server-alpha", namespace: NAMESPACE },
      type: "kubernetes.io/basic-auth",
      stringData: { username: ALPHA_ADMIN, password: ALPHA_PASSWORDS[1] },
    });
    await untilServer("alpha", "Reachable", 15_000);
    await databases().untilReady("waits-for-alpha");
    await databases().untilReady("on-alpha");
    assert.ok(await dbExists(alpha, "waits_for_alpha"));
    assert.equal(controller.child.pid, pid);
    assert.equal(controller.child.exitCode, null);
  });

  test("6. TLS: a CA that did not sign the certificate, and a host name it does not list, are refused naming the cause", async () => {
    const ca = (pem: string) =>
      apply({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "pg-kopf-server-secure-ca", namespace: NAMESPACE },
        data: { "ca.crt": pem },
      });
    // The CA is read again at each check: the wrong one takes effect without a restart, and so does the right one.
    ca(other.caPem!);
    const wrongCa = await untilServer("secure", "TLSVerificationFailed", 15_000);
    assert.match(
      ready(wrongCa).message,
      /^server "secure" at localhost:\d+: .*not signed by the CA in the PgServer's spec\.ca: set the PgServer's spec\.ca to the CA that signed it/,
    );
    ca(secure.caPem!);
    await untilServer("secure", "Reachable", 15_000);

    // The same server by an address its certificate does not name (only localhost): verify-full refuses.
    apply({
      apiVersion: "my.local/v1",
      kind: "PgServer",
      metadata: { name: "secure-by-ip" },
      spec: {
        host: "127.0.0.1",
        port: secure.port,
        ca: { configMapName: "pg-kopf-server-secure-ca" },
        credentialsSecret: { name: "pg-kopf-server-secure" },
      },
    });
    const wrongName = await untilServer("secure-by-ip", "TLSVerificationFailed");
    assert.match(ready(wrongName).message, /^server "secure-by-ip" at 127\.0\.0\.1:\d+: .*does not name this host.*spec.host 127\.0\.0\.1/);
    console.log(JSON.stringify(ready(wrongName)));
    // A PgServer named default would shadow the controller's own connection: the API server refuses it.
    const shadowing = { host: "x", sslMode: "disable", credentialsSecret: { name: "x" } };
    assert.throws(
      () => apply({ apiVersion: "my.local/v1", kind: "PgServer", metadata: { name: "default" }, spec: shadowing }),
      /"default" is the server of the controller's own connection/,
    );
  });

  test("7. deletion drops each object's database on its own server", async () => {
    for (const name of ["on-alpha", "same-on-alpha", "on-secure", "on-default"])
      cluster.kubectl(["delete", "pgdb", name, "-n", NS, "--wait=false"]);
    await eventually(
      "the databases dropped",
      async () =>
        !(await dbExists(alpha, "on_alpha")) &&
        !(await dbExists(alpha, "on_default")) &&
        !(await dbExists(secure, "on_secure")) &&
        !(await dbExists(pg, "on_default")),
    );
  });

  // Regression: two PgServers for one Postgres under two spellings were two servers.
  test("8. one Postgres under a second address: the later PgServer is refused as the same server, and nothing is done through it", async () => {
    const spec = server("alpha").spec;
    apply({
      apiVersion: "my.local/v1",
      kind: "PgServer",
      metadata: { name: "alpha-by-ip" },
      spec: { ...spec, host: "127.0.0.1" },
    });
    const alias = await untilServer("alpha-by-ip", "SameServer");
    assert.equal(ready(alias).status, "False");
    assert.match(
      ready(alias).message,
      new RegExp(
        `^127\\.0\\.0\\.1:${alpha.port} reaches the same Postgres as PgServer "alpha" \\(system identifier \\d+, port ${alpha.port}, up since `,
      ),
    );
    assert.equal(ready(server("alpha")).reason, "Reachable");
    databases().apply("via-alias", { name: "via_alias", server: "alpha-by-ip", reclaimPolicy: "delete" });
    assert.match(ready(await untilReason("via-alias", "ServerNotReady")).message, /PgServer "alpha-by-ip" is not Ready \(SameServer: /);
    assert.ok(!(await dbExists(alpha, "via_alias")));
    // The controller's own server under another address, likewise.
    await pg.query(`CREATE ROLE ${ALPHA_ADMIN} WITH LOGIN PASSWORD '${ALPHA_PASSWORDS[1]}'`);
    apply({
      apiVersion: "my.local/v1",
      kind: "PgServer",
      metadata: { name: "default-by-name" },
      spec: { ...spec, host: "localhost", port: pg.port },
    });
    assert.match(ready(await untilServer("default-by-name", "SameServer")).message, /the controller's own server \("default"\)/);
    // The first one gone, the other is the server of that Postgres: its object goes on.
    cluster.kubectl(["delete", "pgserver", "alpha"]);
    await untilServer("alpha-by-ip", "Reachable");
    await databases().untilReady("via-alias");
    assert.ok(await dbExists(alpha, "via_alias"));
  });

  test("9. an admin that may manage neither databases nor roles is not Ready, naming the ALTER ROLE; half of it is said while Ready", async () => {
    await other.query(`CREATE ROLE ${ALPHA_ADMIN} WITH LOGIN PASSWORD '${ALPHA_PASSWORDS[1]}'`);
    apply({
      apiVersion: "my.local/v1",
      kind: "PgServer",
      metadata: { name: "weak" },
      spec: { host: "localhost", port: other.port, sslMode: "require", credentialsSecret: { name: "pg-kopf-server-alpha" } },
    });
    const weak = await untilServer("weak", "AdminLacksPrivilege");
    assert.equal(ready(weak).status, "False");
    assert.match(
      ready(weak).message,
      /lacks CREATEDB, without which pg-kopf cannot manage databases: .* ALTER ROLE "alpha_admin" WITH CREATEDB/,
    );
    assert.match(
      ready(weak).message,
      /lacks CREATEROLE, without which pg-kopf cannot manage roles: .* ALTER ROLE "alpha_admin" WITH CREATEROLE/,
    );
    await other.query(`ALTER ROLE ${ALPHA_ADMIN} CREATEDB`);
    const half = await untilServer("weak", "Reachable");
    assert.match(
      ready(half).message,
      /^connected to localhost:\d+ as alpha_admin \(sslmode require\); .*lacks CREATEROLE, without which pg-kopf cannot manage roles/,
    );
    assert.doesNotMatch(ready(half).message, /CREATEDB/);
  });
});
