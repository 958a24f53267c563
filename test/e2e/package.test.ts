// pg-kopf as a platform team uses it: packed with npm pack, installed into a Pulumi project of its own (named
// otherwise), `import { PgDatabase } from "pg-kopf"`, and the plain `pulumi up` / `destroy` against a real PostgreSQL;
// and the cluster half from `pg-kopf/cluster`, installing the controller into a real kube-apiserver (a KWOK node).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { startPostgres, type TestPostgres } from "../harness/postgres";
import { startCluster, type TestCluster } from "../harness/cluster";
import { REPO } from "../harness/project";

let pg: TestPostgres;
let cluster: TestCluster;
let dir: string;
let env: Record<string, string>;

const pulumi = (args: string[]) => {
  const r = spawnSync("pulumi", [...args, "--stack", "prod", "--non-interactive", ...(args[0] === "stack" ? [] : ["--color", "never"])], {
    cwd: dir,
    env,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
};
const REPO_MANIFEST = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
const exists = async (name: string) => (await pg.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])).length === 1;

before(async () => {
  [pg, cluster] = await Promise.all([startPostgres(), startCluster({ workloads: true })]);
  dir = mkdtempSync(join(tmpdir(), "platform-db-"));
  const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: REPO, encoding: "utf8" })
    .trim()
    .split("\n")
    .pop()!;
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify(
      {
        name: "platform-db",
        private: true,
        dependencies: {
          "pg-kopf": `file:./${packed}`,
          "@pulumi/pulumi": REPO_MANIFEST.dependencies["@pulumi/pulumi"],
          "@pulumi/kubernetes": REPO_MANIFEST.dependencies["@pulumi/kubernetes"],
        },
      },
      null,
      2,
    ),
  );
  // The packages are in npm's cache already (the repository installed them); nothing new is fetched.
  execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: "pipe" });
  writeFileSync(join(dir, "Pulumi.yaml"), "name: platform-db\nruntime: nodejs\nmain: index.js\n");
  writeFileSync(
    join(dir, "index.js"),
    [
      'const { PgDatabase, PgRole } = require("pg-kopf");',
      // A role too: its handlers load the installed package's every module they need (regression guard).
      'new PgRole("reporter", { name: "reporter", reclaimPolicy: "delete" });',
      'const orders = new PgDatabase("orders", { name: "orders", reclaimPolicy: "delete" });',
      'new PgDatabase("audit", { name: "audit" });',
      "exports.orders = orders.name;",
      // The controller, installed by the platform team's program with the components pg-kopf's own program uses.
      'const pulumi = require("@pulumi/pulumi");',
      'const k8s = require("@pulumi/kubernetes");',
      'const { PgKopfOperator, PostgresEndpoint } = require("pg-kopf/cluster");',
      'const ns = new k8s.core.v1.Namespace("db-system", { metadata: { name: "db-system" } });',
      'const postgres = new PostgresEndpoint("postgres", { namespace: ns.metadata.name, target: { hostIp: "192.0.2.10", port: 5432 },',
      '  user: "pg_kopf_admin", password: pulumi.secret("not-a-real-one"), database: "postgres", sslmode: "verify-full" });',
      'const operator = new PgKopfOperator("operator", { namespace: ns.metadata.name, image: "pg-kopf-controller", imageTag: "dev",',
      '  imagePullPolicy: "Never", replicas: 1, postgresHost: postgres.host, postgresPort: postgres.port,',
      '  secretName: postgres.secretName, hasCa: postgres.hasCa, roleNamespaces: ["default"] }, { dependsOn: [postgres] });',
      "exports.controller = operator.deploymentName;",
      "",
    ].join("\n"),
  );
  const backend = join(dir, ".state");
  mkdirSync(backend);
  const passfile = join(dir, "pgpass");
  pg.writePasswordFile(passfile);
  env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? dir,
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: randomBytes(12).toString("hex"),
    PULUMI_HOME: execFileSync("bash", [join(REPO, "scripts", "toolchain.sh"), "pulumi-home"], { encoding: "utf8" }).trim(),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
    PGPASSFILE: passfile,
    KUBECONFIG: cluster.kubeconfig,
  };
  pulumi(["stack", "init"]);
  // The documented keys, in the pg-kopf namespace, in a project called platform-db.
  pulumi(["config", "set", "pg-kopf:adminHost", pg.host]);
  pulumi(["config", "set", "pg-kopf:adminPort", String(pg.port)]);
  pulumi(["config", "set", "pg-kopf:adminUser", pg.user]);
  pulumi(["config", "set", "pg-kopf:adminSslMode", "disable"]);
});
after(() => {
  cluster?.stop();
  pg?.destroy();
});

test("an installed pg-kopf manages databases from another project's plain pulumi up, and destroy follows reclaimPolicy", async () => {
  const up = pulumi(["up", "--yes"]);
  assert.match(up, /\d+ created/);
  assert.ok(await exists("orders"));
  assert.ok(await exists("audit"));
  const [{ c }] = await pg.query<{ c: string }>(
    "SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = 'orders'",
  );
  assert.equal(c, "managed by pg-kopf: pulumi:platform-db/prod");
  cluster.kubectl(["rollout", "status", "deployment/pg-kopf-controller", "-n", "db-system", "--timeout=60s"]);
  cluster.kubectl(["get", "crd/pgdatabases.my.local", "crd/pgroles.my.local", "crd/pgservers.my.local"]);
  cluster.kubectl(["get", "clusterrole/pg-kopf-controller-db-system", "service/postgres", "-n", "db-system"]);
  pulumi(["preview", "--expect-no-changes"]);
  // The state carries the provider by reference to the installed package, not its text (issue: 11 KB a database).
  pulumi(["stack", "export", "--file", join(dir, "state.json")]);
  const state = JSON.parse(readFileSync(join(dir, "state.json"), "utf8"));
  const dynamic = state.deployment.resources.filter((r: { type: string }) => r.type.startsWith("pulumi-nodejs:dynamic/"));
  assert.ok(dynamic.length >= 3, "the databases and the role");
  for (const r of dynamic) {
    for (const props of [r.inputs, r.outputs]) {
      assert.match(props.__provider, /require\("pg-kopf\/dist\/provider\/(database|role)\/dispatch\.js"\)/, r.urn);
      assert.ok(props.__provider.length < 400, `${r.urn}: a serialized provider of ${props.__provider.length} bytes`);
    }
  }
  pulumi(["destroy", "--yes"]);
  assert.ok(!(await exists("orders")), "reclaimPolicy delete drops it");
  assert.ok(await exists("audit"), "retain keeps it");
  assert.deepEqual(await pg.query("SELECT 1 FROM pg_roles WHERE rolname = 'reporter'"), []);
});
