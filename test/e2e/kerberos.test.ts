// pulumi up through a Kerberos-only Postgres (pg_hba.conf: gss for every role but the bootstrap superuser), the
// admin authenticated from a keytab named by KRB5_CLIENT_KTNAME: no password file, no password in config, and
// neither the admin's password nor the keytab's bytes in the state or the engine's log at -v=9.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { MANAGED_ADMIN, startPostgres, type TestPostgres } from "../harness/postgres";
import { startRealm, type TestRealm } from "../harness/kerberos";
import { type CliStack, createCliStack } from "../harness/project";
import * as core from "../../core";

let realm: TestRealm;
let pg: TestPostgres;
let t: CliStack;
let keytab: string;

const databases = [{ name: "krb_orders", owner: MANAGED_ADMIN, reclaimPolicy: "delete" }];
/** A service's role, its principal mapped to it (include_realm=0): no password anywhere. */
const roles = [{ name: "svc_orders", authentication: "kerberos", reclaimPolicy: "delete" }];

before(async () => {
  realm = await startRealm();
  pg = await startPostgres({ gss: { realm } });
  keytab = realm.addPrincipal(MANAGED_ADMIN);
  // The provider processes inherit the CLI's environment, as they inherit a user's shell.
  t = createCliStack(
    "kerberos",
    pg,
    {
      manageCluster: { value: "false" },
      adminHost: { value: "localhost" },
      adminPort: { value: String(pg.port) },
      adminUser: { value: pg.user },
      adminAuth: { value: "kerberos" },
      databases: { value: JSON.stringify(databases) },
      roles: { value: JSON.stringify(roles) },
    },
    { KRB5_CONFIG: realm.krb5Conf, KRB5_CLIENT_KTNAME: keytab, KRB5CCNAME: "MEMORY:pulumi" },
  );
  // No password file at all: Kerberos is the only way in.
  rmSync(t.env.PGPASSFILE);
});
after(() => {
  pg?.destroy();
  realm?.stop();
  t?.destroyDir();
});

/** Every file under `dir`, as text. */
function filesText(dir: string): string {
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => statSync(f).isFile())
    .map((f) => readFileSync(f).toString("latin1"))
    .join("\n");
}

test("preview shows the SQL, up creates the database through the Kerberos admin, a second preview plans nothing", async () => {
  const preview = t.run(["preview", "--diff"]);
  assert.match(preview, /CREATE DATABASE \\"krb_orders\\"/, preview);
  const logged = t.run(["up", "--yes", "--skip-preview", "-v=9", "--logtostderr", "--logflow"]);
  const [db] = await pg.superQuery<{ owner: string }>(
    "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'krb_orders'",
  );
  // pg_hba.conf lets the admin in by GSSAPI only, and there is no password file: this was Kerberos.
  assert.equal(db?.owner, MANAGED_ADMIN);
  const [svc] = await pg.superQuery<{ rolpassword: string | null }>("SELECT rolpassword FROM pg_authid WHERE rolname = 'svc_orders'");
  assert.equal(svc?.rolpassword, null, "the Kerberos role has no password");
  assert.deepEqual(JSON.parse(t.run(["stack", "output", "rolePasswords", "--show-secrets", "--json"])), {});
  // Its principal logs in as it, through the same core the provider uses.
  Object.assign(process.env, {
    KRB5_CONFIG: realm.krb5Conf,
    KRB5_CLIENT_KTNAME: realm.addPrincipal("svc_orders"),
    KRB5CCNAME: "MEMORY:svc",
  });
  const who = await core.withClient(
    pg.settings({ host: "localhost", user: "svc_orders", auth: "kerberos", password: undefined }),
    "krb_orders",
    async (c) => (await c.query("SELECT current_user AS u")).rows[0].u,
  );
  assert.equal(who, "svc_orders");
  const again = t.run(["preview", "--diff"]);
  assert.match(again, /Resources:\s+\d+ unchanged\s*$/, again);

  const secrets = [pg.password, readFileSync(keytab).toString("base64"), readFileSync(keytab).toString("latin1").slice(-40)];
  const state = filesText(t.backendDir);
  for (const secret of secrets) {
    assert.ok(!state.includes(secret), "no admin password or keytab byte in the state");
    assert.ok(!logged.includes(secret), "no admin password or keytab byte in the engine's log");
  }
});

test("the same stack without a ticket or keytab fails the preview with what to give, and changes nothing", async () => {
  const saved = t.env.KRB5_CLIENT_KTNAME;
  delete t.env.KRB5_CLIENT_KTNAME;
  try {
    const { status, output } = t.tryRun(["preview"]);
    assert.notEqual(status, 0);
    assert.match(output, /No Kerberos credentials available: give the process a keytab \(KRB5_CLIENT_KTNAME/, output);
    assert.doesNotMatch(output, /Unknown authenticationOk|at .*\.js:\d+/, "a message, not a crash or a stack trace");
  } finally {
    t.env.KRB5_CLIENT_KTNAME = saved;
  }
});
