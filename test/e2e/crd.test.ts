// The generated CRD on a real kube-apiserver: it is accepted, it agrees with the core's validation on the same
// inputs, its CEL rules refuse immutable changes, and the shipped examples are valid.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { pgDatabaseCrd, CRD_NAME, parsePgDatabaseSpec } from "../../crd/pgdatabase";
import { CRD_NAME as SERVER_CRD_NAME, parsePgServerSpec, pgServerCrd } from "../../crd/pgserver";
import { CRD_NAME as ROLE_CRD_NAME, parsePgRoleSpec, pgRoleCrd } from "../../crd/pgrole";
import { parseDatabaseSpec } from "../../core/database/spec";
import { startCluster, type TestCluster } from "../harness/cluster";
import { REPO } from "../harness/pulumi";

let cluster: TestCluster;
const object = (name: string, spec: object, kind = "PgDatabase") =>
  JSON.stringify({ apiVersion: "my.local/v1", kind, metadata: { name, namespace: "default" }, spec });

/** Whether the API server accepts the object (server-side dry run, strict field validation). */
function serverAccepts(spec: object, kind = "PgDatabase"): { ok: boolean; message: string } {
  try {
    cluster.kubectl(["apply", "--dry-run=server", "--validate=strict", "-f", "-"], object("probe", spec, kind));
    return { ok: true, message: "" };
  } catch (err) {
    return { ok: false, message: String((err as { stderr?: string }).stderr ?? err) };
  }
}

before(async () => {
  cluster = await startCluster();
  for (const [crd, name] of [
    [pgDatabaseCrd(), CRD_NAME],
    [pgRoleCrd(), ROLE_CRD_NAME],
    [pgServerCrd(), SERVER_CRD_NAME],
  ] as const) {
    cluster.kubectl(["apply", "-f", "-"], JSON.stringify(crd));
    cluster.kubectl(["wait", "--for=condition=Established", `crd/${name}`, "--timeout=60s"]);
  }
});
after(() => cluster?.stop());

describe("the API server and the core agree on what is valid", () => {
  const cases: Record<string, object> = {
    minimal: { name: "app" },
    full: {
      name: "app",
      owner: "app_owner",
      encoding: "UTF8",
      lcCollate: "C",
      lcCtype: "C",
      template: "template0",
      tablespace: "pg_default",
      connectionLimit: 5,
      allowConnections: true,
      isTemplate: false,
      extensions: ["citext"],
      reclaimPolicy: "delete",
      forceDrop: true,
      adopt: true,
    },
    icu: { name: "app", localeProvider: "icu", icuLocale: "und" },
    tooLong: { name: "a".repeat(64) },
    injection: { name: 'x"; DROP DATABASE y; --' },
    reserved: { name: "template1" },
    negativeLimit: { name: "app", connectionLimit: -2 },
    unknownField: { name: "app", ownr: "x" },
    forceWithoutDelete: { name: "app", forceDrop: true },
    icuWithoutLocale: { name: "app", localeProvider: "icu" },
    localeWithoutIcu: { name: "app", icuLocale: "und" },
    badPolicy: { name: "app", reclaimPolicy: "drop" },
    duplicateExtensions: { name: "app", extensions: ["citext", "citext"] },
    hostileOwner: { name: "app", owner: "bob'; DROP ROLE x; --" },
    access: {
      name: "app",
      schemas: [{ name: "sales", owner: "app_owner" }, { name: "audit" }],
      access: [
        { role: "reporting", level: "read" },
        { role: "app", level: "write" },
        { role: "monitor", level: "connect" },
      ],
      revokePublic: true,
    },
    accessTwice: {
      name: "app",
      access: [
        { role: "r", level: "read" },
        { role: "r", level: "write" },
      ],
    },
    accessBadLevel: { name: "app", access: [{ role: "r", level: "admin" }] },
    accessPublic: { name: "app", access: [{ role: "PUBLIC", level: "read" }] },
    accessWithoutLevel: { name: "app", access: [{ role: "r" }] },
    schemaTwice: { name: "app", schemas: [{ name: "s" }, { name: "s" }] },
    schemaSystem: { name: "app", schemas: [{ name: "pg_temp_x" }] },
    schemaPublic: { name: "app", schemas: [{ name: "public" }] },
    settings: {
      name: "app",
      config: { statement_timeout: "30s", search_path: "app, public" },
      roleConfig: { reporting: { work_mem: "64MB" } },
    },
    unknownDatabaseSetting: { name: "app", config: { shared_buffers: "1GB" } },
    upperCaseDatabaseSetting: { name: "app", config: { Work_Mem: "1MB" } },
    unknownRoleInDatabaseSetting: { name: "app", roleConfig: { reporting: { shared_buffers: "1GB" } } },
    refusedRoleInDatabaseSetting: { name: "app", roleConfig: { reporting: { session_preload_libraries: "x" } } },
    settingValues: {
      name: "app",
      config: { statement_timeout: "1.5min", work_mem: "64MB", jit: "OFF", intervalstyle: "ISO_8601", log_min_duration_statement: "-1" },
    },
    badTime: { name: "app", config: { statement_timeout: "30 sec" } },
    negativeTime: { name: "app", config: { lock_timeout: "-1" } },
    badSize: { name: "app", roleConfig: { reporting: { work_mem: "64mb" } } },
    badBoolean: { name: "app", roleConfig: { reporting: { default_transaction_read_only: "maybe" } } },
    badEnum: { name: "app", config: { default_transaction_isolation: "snapshot" } },
  };
  for (const [label, spec] of Object.entries(cases)) {
    test(label, () => {
      const core = parseDatabaseSpec(spec).ok;
      const server = serverAccepts(spec);
      assert.equal(server.ok, core, `core says ${core}, API server says ${server.ok}: ${server.message}`);
    });
  }

  test("encoding names are checked by the core only (spellings vary), and reported by the controller", () => {
    assert.equal(serverAccepts({ name: "app", encoding: "KLINGON" }).ok, true);
    assert.equal(parseDatabaseSpec({ name: "app", encoding: "KLINGON" }).ok, false);
  });
});

describe("CEL rules refuse changes Postgres cannot make in place", () => {
  before(() => {
    cluster.kubectl(["apply", "-f", "-"], object("immutable", { name: "immutable_db", encoding: "UTF8" }));
  });
  for (const [field, spec, message] of [
    ["encoding", { name: "immutable_db", encoding: "LATIN1" }, /spec.encoding is immutable/],
    ["name", { name: "renamed_db", encoding: "UTF8" }, /spec.name is immutable: renaming would create a new, empty database/],
  ] as const) {
    test(`changing ${field} is refused with a clear message`, () => {
      assert.throws(
        () => cluster.kubectl(["apply", "-f", "-"], object("immutable", spec)),
        (e: { stderr?: string }) => message.test(e.stderr ?? ""),
      );
    });
  }
  // Regression: the CRD refused adding or removing an immutable field that Pulumi accepted (the plan checks a newly
  // set value against the database); one rule (core/database/fields replacingChange) now decides for both.
  test("removing an immutable field and setting it again is accepted, as in Pulumi", () => {
    cluster.kubectl(["apply", "-f", "-"], object("immutable", { name: "immutable_db" }));
    cluster.kubectl(["apply", "-f", "-"], object("immutable", { name: "immutable_db", encoding: "UTF8" }));
  });
  // Regression: the rule compared raw strings, so utf-8 was refused on an object made with UTF8 although the core
  // (and the README) take any spelling Postgres takes.
  test("another spelling of the same encoding or locale is accepted", () => {
    cluster.kubectl(["apply", "-f", "-"], object("immutable", { name: "immutable_db", encoding: "utf-8", lcCollate: "C.UTF-8" }));
    cluster.kubectl(["apply", "-f", "-"], object("immutable", { name: "immutable_db", encoding: "UTF_8", lcCollate: "c.utf8" }));
    assert.throws(
      () => cluster.kubectl(["apply", "-f", "-"], object("immutable", { name: "immutable_db", encoding: "UTF_8", lcCollate: "POSIX" })),
      (e: { stderr?: string }) => /spec.lcCollate is immutable/.test(e.stderr ?? ""),
    );
  });
  test("a mutable field changes", () => {
    cluster.kubectl(["apply", "-f", "-"], object("immutable", { name: "immutable_db", encoding: "UTF8", owner: "someone" }));
    assert.equal(cluster.kubectl(["get", "pgdb", "immutable", "-o", "jsonpath={.spec.owner} {.spec.reclaimPolicy}"]), "someone retain");
  });
});

describe("the API server and the controller agree on what is a valid PgRole", () => {
  const cases: Record<string, object> = {
    minimal: { name: "app" },
    full: {
      name: "app",
      login: true,
      inherit: false,
      createdb: true,
      createrole: false,
      connectionLimit: 10,
      validUntil: "2030-01-01T00:00:00Z",
      memberOf: ["readers", "pg_read_all_data"],
      config: { search_path: "app, public", statement_timeout: "30s" },
      reclaimPolicy: "delete",
      reassignOwnedTo: "app_admin",
      adopt: true,
      secretName: "app-db.credentials",
      database: "app",
    },
    superuser: { name: "app", superuser: true },
    replication: { name: "app", replication: false },
    bypassrls: { name: "app", bypassrls: true },
    reservedPrefix: { name: "pg_app" },
    reserved: { name: "Postgres" },
    tooLong: { name: "a".repeat(64) },
    memberOfItself: { name: "app", memberOf: ["app"] },
    memberOfServerFiles: { name: "app", memberOf: ["pg_write_server_files"] },
    memberOfReserved: { name: "app", memberOf: ["public"] },
    unknownSetting: { name: "app", config: { shared_buffers: "1GB" } },
    upperCaseSetting: { name: "app", config: { Search_Path: "x" } },
    badSettingValue: { name: "app", config: { work_mem: "lots" } },
    reassignWithoutDelete: { name: "app", reassignOwnedTo: "other" },
    reassignToItself: { name: "app", reclaimPolicy: "delete", reassignOwnedTo: "app" },
    adoptBoth: { name: "app", adopt: true, adoptFrom: "kubernetes:default/x" },
    badSecretName: { name: "app", secretName: "App_Credentials" },
    unknownField: { name: "app", passwd: "x" },
    negativeLimit: { name: "app", connectionLimit: -2 },
  };
  for (const [label, spec] of Object.entries(cases)) {
    test(label, () => {
      const controller = parsePgRoleSpec(spec as Record<string, unknown>).ok;
      const server = serverAccepts(spec, "PgRole");
      assert.equal(server.ok, controller, `controller says ${controller}, API server says ${server.ok}: ${server.message}`);
    });
  }

  // Regression: a 250-character metadata.name made a default Secret name of 262 characters; the API server refused
  // the Secret and the PgRole stayed without a status. The CRD and the controller's parse now refuse it first.
  test("a metadata.name whose default Secret name is too long is refused unless spec.secretName is set", () => {
    const name = "r".repeat(250);
    const accepts = (spec: object) => {
      try {
        cluster.kubectl(["apply", "--dry-run=server", "-f", "-"], object(name, spec, "PgRole"));
        return "";
      } catch (err) {
        return String((err as { stderr?: string }).stderr ?? err);
      }
    };
    assert.match(accepts({ name: "app" }), /spec.secretName: the default Secret name .* would pass 253 characters/);
    assert.equal(parsePgRoleSpec({ name: "app" }, name).ok, false);
    assert.equal(accepts({ name: "app", secretName: "app-credentials" }), "");
    assert.equal(parsePgRoleSpec({ name: "app", secretName: "app-credentials" }, name).ok, true);
    assert.equal(accepts({ name: "app", login: false }), "");
    assert.equal(parsePgRoleSpec({ name: "app" }, "r".repeat(241)).ok, true);
  });

  test("refusals name the field and say why", () => {
    assert.match(
      serverAccepts({ name: "app", superuser: true }, "PgRole").message,
      /spec.superuser is not supported: a superuser bypasses every check/,
    );
  });

  // Regression: SecretNotOwned advised changing spec.secretName, which the CRD refused at all times.
  test("the role's name is immutable; the Secret's name until credentials were delivered there", () => {
    cluster.kubectl(["apply", "-f", "-"], object("fixed", { name: "fixed_role", secretName: "taken" }, "PgRole"));
    cluster.kubectl(["apply", "-f", "-"], object("fixed", { name: "fixed_role" }, "PgRole"));
    const delivered = { credentials: { secretName: "fixed-credentials", uid: "u", resourceVersion: "1" } };
    cluster.kubectl(["patch", "pgrole", "fixed", "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: delivered })]);
    for (const [spec, message] of [
      [{ name: "renamed_role" }, /spec.name is immutable/],
      [{ name: "fixed_role", secretName: "elsewhere" }, /spec.secretName is immutable/],
    ] as const) {
      assert.throws(
        () => cluster.kubectl(["apply", "-f", "-"], object("fixed", spec, "PgRole")),
        (e: { stderr?: string }) => message.test(e.stderr ?? ""),
      );
    }
    cluster.kubectl(["apply", "-f", "-"], object("fixed", { name: "fixed_role", database: "app" }, "PgRole"));
  });
});

describe("the API server and the controller agree on what is a valid PgServer", () => {
  const base = { host: "db.internal", credentialsSecret: { name: "admin" }, ca: { configMapName: "db-ca" } };
  const server = (name: string, spec: object) => JSON.stringify({ apiVersion: "my.local/v1", kind: "PgServer", metadata: { name }, spec });
  const accepts = (spec: object, name = "probe") => {
    try {
      cluster.kubectl(["apply", "--dry-run=server", "--validate=strict", "-f", "-"], server(name, spec));
      return { ok: true, message: "" };
    } catch (err) {
      return { ok: false, message: String((err as { stderr?: string }).stderr ?? err) };
    }
  };
  const cases: Record<string, object> = {
    minimal: base,
    plain: { host: "10.0.0.5", sslMode: "disable", credentialsSecret: { name: "admin", namespace: "dba" } },
    everything: {
      ...base,
      port: 6432,
      sslMode: "verify-ca",
      maintenanceDatabase: "admin",
      maxConnections: 8,
      connectTimeoutSeconds: 3,
      allowedNamespaces: { matchLabels: { team: "a" }, matchExpressions: [{ key: "env", operator: "In", values: ["prod"] }] },
    },
    verifyFullWithoutCa: { host: "db.internal", credentialsSecret: { name: "admin" } },
    caFromBoth: { ...base, ca: { configMapName: "a", secretName: "b" } },
    caFromNeither: { ...base, ca: { key: "ca.crt" } },
    badPort: { ...base, port: 0 },
    tooManyConnections: { ...base, maxConnections: 1000 },
    noCredentials: { host: "db.internal", sslMode: "disable" },
    badOperator: { ...base, allowedNamespaces: { matchExpressions: [{ key: "team", operator: "Has" }] } },
  };
  for (const [label, spec] of Object.entries(cases)) {
    test(label, () => {
      const parsed = parsePgServerSpec(spec);
      const applied = accepts(spec);
      assert.equal(applied.ok, parsed.ok, `API server: ${applied.message}; controller: ${JSON.stringify(parsed)}`);
    });
  }

  test("the name default is the controller's own connection's, refused with the reason", () => {
    assert.match(accepts(base, "default").message, /"default" is the server of the controller's own connection/);
  });

  test("spec.server on a PgDatabase or PgRole is immutable, absent and default being the same", () => {
    cluster.kubectl(["apply", "-f", "-"], object("moved", { name: "moved" }));
    cluster.kubectl(["apply", "-f", "-"], object("moved", { name: "moved", server: "default" }));
    assert.throws(
      () => cluster.kubectl(["apply", "-f", "-"], object("moved", { name: "moved", server: "reports" })),
      (e: { stderr?: string }) => /spec.server is immutable/.test(e.stderr ?? ""),
    );
    cluster.kubectl(["apply", "-f", "-"], object("moved-role", { name: "moved_role", server: "reports" }, "PgRole"));
    assert.throws(
      () => cluster.kubectl(["apply", "-f", "-"], object("moved-role", { name: "moved_role" }, "PgRole")),
      (e: { stderr?: string }) => /spec.server is immutable/.test(e.stderr ?? ""),
    );
  });
});

test("every example in examples/ is a valid PgDatabase", () => {
  const dir = join(REPO, "examples");
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
  assert.ok(files.length > 0);
  for (const f of files) {
    const applied = JSON.parse(cluster.kubectl(["apply", "--dry-run=server", "--validate=strict", "-o", "json", "-f", join(dir, f)]));
    const parsed = parseDatabaseSpec(applied.spec);
    assert.ok(parsed.ok, `${f}: ${JSON.stringify(parsed)}`);
  }
});

test("every example in examples/roles/ and examples/servers/ is valid, as the API server and the controller read it", () => {
  const files = ["roles", "servers"].flatMap((sub) =>
    readdirSync(join(REPO, "examples", sub))
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => join(sub, f)),
  );
  assert.equal(files.length, 2);
  const dir = join(REPO, "examples");
  const parsers: Record<string, (spec: Record<string, unknown>) => { ok: boolean }> = {
    PgRole: parsePgRoleSpec,
    PgDatabase: parsePgDatabaseSpec,
    PgServer: parsePgServerSpec,
  };
  for (const f of files) {
    const applied = JSON.parse(cluster.kubectl(["apply", "--dry-run=server", "--validate=strict", "-o", "json", "-f", join(dir, f)]));
    for (const item of applied.kind === "List" ? applied.items : [applied]) {
      const parsed = parsers[item.kind](item.spec);
      assert.ok(parsed.ok, `${f} ${item.kind}: ${JSON.stringify(parsed)}`);
    }
  }
});
