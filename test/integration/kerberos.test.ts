// The core's admin connection by Kerberos (GSSAPI through libpq) against a real MIT KDC and a Postgres 15 whose
// pg_hba.conf asks for gss: by keytab and by a kinit ticket cache, GSS encryption observed in pg_stat_gssapi, renewal
// from the keytab, and each failure typed with the setting to change. Regression: a server asking for GSSAPI made the
// pure-JS driver throw outside any promise ("Unknown authenticationOk message type 7"), ending the whole process.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as core from "../../core";
import { MANAGED_ADMIN, matrixCell, startPostgres, type TestPostgres } from "../harness/postgres";
import { startRealm, type TestRealm } from "../harness/kerberos";

// Debian's Postgres 15 is built with GSSAPI; the suite needs no other cell.
const cell = matrixCell();
const skip = cell.major !== 15 || cell.admin !== "createrole" ? "Kerberos runs once, on Debian's Postgres 15" : false;

let realm: TestRealm;
let pg: TestPostgres;
let adminKeytab: string;

/** The process's Kerberos environment, as the controller's Deployment or a user's shell would set it. */
function useCredentials(vars: { keytab?: string; cache?: string }) {
  delete process.env.KRB5_CLIENT_KTNAME;
  if (vars.keytab) process.env.KRB5_CLIENT_KTNAME = vars.keytab;
  // A fresh in-memory cache per case: no ticket of an earlier case is reused.
  process.env.KRB5CCNAME = vars.cache ?? `MEMORY:case-${Math.random().toString(36).slice(2)}`;
}

const kerberos = (extra: Parameters<TestPostgres["settings"]>[0] = {}) =>
  pg.settings({ host: "localhost", auth: "kerberos", password: undefined, ...extra });

const session = (s: core.ConnectionSettings) =>
  core.withClient(s, undefined, async (c) => {
    const { rows } = await c.query(
      "SELECT current_user AS role, g.gss_authenticated, g.encrypted, g.principal FROM pg_stat_gssapi g WHERE g.pid = pg_backend_pid()",
    );
    return rows[0] as { role: string; gss_authenticated: boolean; encrypted: boolean; principal: string };
  });

describe("Kerberos admin connection", { skip }, () => {
  before(async () => {
    realm = await startRealm();
    process.env.KRB5_CONFIG = realm.krb5Conf;
    pg = await startPostgres({ gss: { realm } });
    adminKeytab = realm.addPrincipal(MANAGED_ADMIN);
  });
  after(() => {
    pg?.destroy();
    realm?.stop();
  });

  test("regression: a password connection to a server that asks for GSSAPI fails typed, naming the method and the setting", async () => {
    useCredentials({});
    const err = await core
      .withClient(pg.settings({ host: "localhost" }), undefined, () => Promise.resolve())
      .then(
        () => assert.fail("connected without Kerberos"),
        (e: unknown) => e,
      );
    assert.ok(err instanceof core.AuthenticationFailed, String(err));
    assert.match(err.message, /asks for GSSAPI \(Kerberos\) authentication/);
    assert.match(err.message, /set PGKOPF_AUTH to kerberos/);
    assert.match(err.message, new RegExp(`localhost:${pg.port}`));
  });

  test("regression: the process survives the same failure from its own child (no uncaught exception)", () => {
    // In a process of its own, as the controller or the provider would run it: it must end by itself, not crash.
    const script = `
      const core = require(${JSON.stringify(join(__dirname, "../../core"))});
      const s = core.connectionSettings({ host: "localhost", port: ${pg.port}, user: "${MANAGED_ADMIN}", password: "x", sslmode: "disable" });
      core.withClient(s, undefined, () => Promise.resolve()).catch((e) => { console.log(e.reason); });`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "AuthenticationFailed");
  });

  test("connects by keytab, no password anywhere, GSS-encrypted by default", async () => {
    useCredentials({ keytab: adminKeytab });
    const s = kerberos();
    assert.equal(s.password, undefined);
    const got = await session(s);
    assert.deepEqual(got, { role: MANAGED_ADMIN, gss_authenticated: true, encrypted: true, principal: `${MANAGED_ADMIN}@${realm.realm}` });
  });

  test("connects by a kinit ticket cache, no keytab in the process", async () => {
    const cache = `FILE:${join(realm.dir, "user.ccache")}`;
    realm.kinit(MANAGED_ADMIN, adminKeytab, cache);
    useCredentials({ cache });
    assert.equal((await session(kerberos())).gss_authenticated, true);
  });

  test("gssencmode disable: authenticated by Kerberos, not encrypted by it; require: encrypted", async () => {
    useCredentials({ keytab: adminKeytab });
    const plain = await session(kerberos({ gssencmode: "disable", sslmode: "disable" }));
    assert.deepEqual([plain.gss_authenticated, plain.encrypted], [true, false]);
    const sealed = await session(kerberos({ gssencmode: "require" }));
    assert.deepEqual([sealed.gss_authenticated, sealed.encrypted], [true, true]);
  });

  test("the core converges a database and a role through a Kerberos admin, and re-plans to nothing", async () => {
    useCredentials({ keytab: adminKeytab });
    const pooled = core.withPool(kerberos(), 2);
    try {
      const parsed = core.parseDatabaseSpec({ name: "krb_app", owner: "krb_app_owner" });
      assert.ok(parsed.ok);
      const role = core.role.parseRoleSpec({ name: "krb_app_owner" });
      assert.ok(role.ok);
      await core.role.convergeRole(pooled, role.spec, { manager: "test:kerberos" });
      const { steps } = await core.convergeDatabase(pooled, parsed.spec, { manager: "test:kerberos" });
      assert.ok(steps.some((step) => step.kind === "createDatabase"));
      assert.deepEqual((await core.convergeDatabase(pooled, parsed.spec, { manager: "test:kerberos" })).steps, []);
      assert.equal((await pg.superQuery("SELECT 1 FROM pg_database WHERE datname = 'krb_app'")).length, 1);
    } finally {
      await pooled.pool?.end();
    }
  });

  test("a ticket that expires is renewed from the keytab, in the same process", async () => {
    const shortLived = "krb_short";
    const keytab = realm.addPrincipal(shortLived, { maxLifeSeconds: 2 });
    await pg.superQuery(`CREATE ROLE ${shortLived} LOGIN`);
    useCredentials({ keytab });
    assert.equal((await session(kerberos({ user: shortLived }))).role, shortLived);
    await new Promise((r) => setTimeout(r, 3_500));
    assert.equal((await session(kerberos({ user: shortLived }))).role, shortLived);
  });

  test("a Kerberos PgRole: created with no password, its principal logs in; removePassword removes one it had, once", async () => {
    useCredentials({ keytab: adminKeytab });
    const ctx = { manager: "test:kerberos" };
    const parse = (input: object) => {
      const r = core.role.parseRoleSpec(input);
      assert.ok(r.ok, JSON.stringify(r));
      return r.spec;
    };
    // Given a verifier anyway (a caller's mistake), the plan sets none.
    const fresh = parse({ name: "svc_orders", authentication: "kerberos" });
    const created = await core.role.convergeRole(kerberos(), fresh, ctx, { password: { verifier: core.scramVerifier("unused") } });
    assert.deepEqual(
      created.steps.map(core.role.describeRoleStep).filter((s) => /PASSWORD/.test(s)),
      [],
    );
    const [row] = await pg.superQuery<{ rolpassword: string | null }>("SELECT rolpassword FROM pg_authid WHERE rolname = 'svc_orders'");
    assert.equal(row.rolpassword, null);
    useCredentials({ keytab: realm.addPrincipal("svc_orders") });
    assert.equal((await session(kerberos({ user: "svc_orders" }))).role, "svc_orders");

    // A role that had a password: left as it is unless the spec says to remove it.
    await pg.superQuery("CREATE ROLE legacy_app LOGIN PASSWORD 'old-secret'");
    useCredentials({ keytab: adminKeytab });
    const adopted = await core.role.convergeRole(kerberos(), parse({ name: "legacy_app", authentication: "kerberos", adopt: true }), ctx);
    assert.ok(!adopted.steps.some((s) => s.kind === "removePassword"));
    const remove = parse({ name: "legacy_app", authentication: "kerberos", removePassword: true });
    const removed = await core.role.convergeRole(kerberos(), remove, ctx);
    assert.deepEqual(removed.steps.map(core.role.describeRoleStep), ['ALTER ROLE "legacy_app" WITH PASSWORD NULL']);
    const [after] = await pg.superQuery<{ rolpassword: string | null }>("SELECT rolpassword FROM pg_authid WHERE rolname = 'legacy_app'");
    assert.equal(after.rolpassword, null);
    const previous = core.role.appliedAuthentication(remove);
    assert.deepEqual((await core.role.convergeRole(kerberos(), remove, { ...ctx, previous })).steps, [], "once");
  });

  test("servers with keytabs of their own, connected to at once, each as its own principal; the process's environment as before", async () => {
    // Two admins, each known to pg-kopf by its own keytab, none in the process's environment.
    await pg.superQuery("CREATE ROLE krb_admin_a LOGIN; CREATE ROLE krb_admin_b LOGIN");
    const keytabs = { krb_admin_a: realm.addPrincipal("krb_admin_a"), krb_admin_b: realm.addPrincipal("krb_admin_b") };
    useCredentials({});
    const before = { ...process.env };
    const servers = Object.entries(keytabs).map(([user, keytab]) => ({ user, settings: kerberos({ user, keytab }) }));
    // Fresh connections and pooled ones (pg's Pool connects with a callback), interleaved.
    const pooled = servers.map(({ user, settings }) => ({ user, settings: core.withPool(settings, 3) }));
    const all = [...servers, ...pooled];
    const seen = await Promise.all(
      Array.from({ length: 24 }, (_, i) => all[i % all.length]).map(async ({ user, settings }) => ({
        user,
        as: (await session(settings)).role,
      })),
    );
    await Promise.all(pooled.map((p) => p.settings.pool?.end()));
    for (const { user, as } of seen) assert.equal(as, user);
    for (const key of ["KRB5_CLIENT_KTNAME", "KRB5CCNAME", "KRB5_CONFIG"]) assert.equal(process.env[key], before[key], key);
  });

  test("a server's own krb5.conf is used instead of the process's", async () => {
    // The process's krb5.conf knows no KDC for the realm; the server's does.
    const elsewhere = join(realm.dir, "elsewhere.conf");
    writeFileSync(elsewhere, "[libdefaults]\n  default_realm = ELSEWHERE.TEST\n  dns_lookup_kdc = false\n");
    process.env.KRB5_CONFIG = elsewhere;
    try {
      useCredentials({});
      const own = kerberos({ keytab: adminKeytab, krb5Conf: realm.krb5Conf });
      assert.equal((await session(own)).role, MANAGED_ADMIN);
      // A copy at another path: a cache of its own, without the tickets the first connection got.
      const copy = join(realm.dir, "admin-copy.keytab");
      copyFileSync(adminKeytab, copy);
      const err = await core
        .withClient(kerberos({ keytab: copy }), undefined, () => Promise.resolve())
        .then(
          () => assert.fail("connected without the realm's krb5.conf"),
          (e: unknown) => e,
        );
      assert.ok(err instanceof core.PgKopfError, String(err));
    } finally {
      process.env.KRB5_CONFIG = realm.krb5Conf;
    }
  });

  describe("failures, typed, naming what to change", () => {
    const failure = async (s: core.ConnectionSettings) =>
      core
        .withClient(s, undefined, () => Promise.resolve())
        .then(
          () => assert.fail("connected"),
          (e: unknown) => e as core.PgKopfError,
        );

    test("no ticket and no keytab", async () => {
      useCredentials({});
      const err = await failure(kerberos());
      assert.ok(err instanceof core.AuthenticationFailed);
      assert.match(err.message, /No Kerberos credentials available: give the process a keytab \(KRB5_CLIENT_KTNAME/);
    });

    test("a keytab for another principal than the role", async () => {
      useCredentials({ keytab: realm.addPrincipal("someone_else") });
      const err = await failure(kerberos());
      assert.ok(err instanceof core.AuthenticationFailed);
      assert.match(err.message, new RegExp(`did not accept this process's Kerberos principal as the role "${MANAGED_ADMIN}"`));
      assert.match(err.message, /pg_ident\.conf/);
    });

    test("an address instead of the name in the service principal", async () => {
      useCredentials({ keytab: adminKeytab });
      const err = await failure(kerberos({ host: "127.0.0.1" }));
      assert.ok(err instanceof core.AuthenticationFailed);
      assert.match(err.message, /no service principal postgres\/127\.0\.0\.1@PGKOPF\.TEST/);
      assert.match(err.message, /not an IP address; in the cluster, the Service's name/);
    });

    test("a service name the server's principal does not have", async () => {
      useCredentials({ keytab: adminKeytab });
      const err = await failure(kerberos({ krbsrvname: "pgsql" }));
      assert.match(err.message, /no service principal pgsql\/localhost@PGKOPF\.TEST.*krbsrvname its service \(here "pgsql"\)/);
    });

    test("a server that asks this role for a password", async () => {
      useCredentials({ keytab: adminKeytab });
      const err = await failure(kerberos({ user: "postgres" }));
      assert.ok(err instanceof core.AuthenticationFailed);
      assert.match(err.message, /asks role "postgres" for a password, but this connection authenticates with Kerberos/);
    });

    test("a server's keytab that holds no key of the role's principal names the keytab", async () => {
      useCredentials({});
      const other = realm.addPrincipal("someone_else_again");
      const err = await failure(kerberos({ keytab: other }));
      assert.ok(err instanceof core.AuthenticationFailed);
      assert.match(err.message, /did not accept this process's Kerberos principal as the role/);
    });

    test("clock skew: a KDC an hour ahead issues tickets the server calls not yet valid", async () => {
      const skewed = await startRealm({ clockOffset: "+1h" });
      const server = await startPostgres({ gss: { realm: skewed } });
      try {
        const keytab = skewed.addPrincipal(MANAGED_ADMIN);
        useCredentials({});
        const err = await failure(
          server.settings({ host: "localhost", auth: "kerberos", password: undefined, keytab, krb5Conf: skewed.krb5Conf }),
        );
        assert.ok(err instanceof core.AuthenticationFailed, String(err));
        assert.match(err.message, /clock skew: this host's clock and the KDC's or the server's differ.*synchronise them \(NTP\)/);
      } finally {
        server.destroy();
        skewed.stop();
      }
    });

    test("a setting that needs Kerberos without it, and malformed values, name the field", () => {
      assert.throws(() => core.connectionSettings({ keytab: adminKeytab }), /auth.*keytab needs Kerberos/s);
      assert.throws(
        () => core.connectionSettings({ auth: "kerberos", keytab: "/no/such.keytab" }),
        (e: unknown) => e instanceof core.InvalidSpec && /keytab.*cannot read \/no\/such\.keytab: ENOENT/s.test(e.message),
      );
      assert.throws(() => core.connectionSettings({ auth: "kerberos", krb5Conf: "/no/krb5.conf" }), /krb5Conf.*cannot read/s);
      assert.throws(() => core.connectionSettings({ gssencmode: "require" }), /auth.*gssencmode require needs Kerberos/s);
      assert.throws(() => core.connectionSettings({ auth: "gss" }), /"gss" is not an authentication method; use password or kerberos/);
      assert.throws(() => core.connectionSettings({ auth: "kerberos", gssencmode: "always" }), /"always" is not a gssencmode/);
      assert.throws(() => core.connectionSettings({ auth: "kerberos", krbsrvname: "a b" }), /not a Kerberos service name/);
    });
  });
});
