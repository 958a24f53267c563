import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { credentialKeys, credentialsSecret, holdsKeys, ownedBy, ownerName, passwordOf, rotationAsked, secretNameOf } from "./credentials";
import type { PgRoleObject } from "../runtime/objects";

const role = (annotations?: Record<string, string>): PgRoleObject => ({
  apiVersion: "my.local/v1",
  kind: "PgRole",
  metadata: { name: "app", namespace: "team", uid: "uid-1", annotations },
  spec: { name: "app_user" },
});
const at = { host: "postgres.pg-kopf.svc.cluster.local", port: 5432, maintenanceDatabase: "postgres" };

describe("the credentials Secret", () => {
  it("has the keys apps ask for, pointing at the database when one is named", () => {
    assert.deepEqual(credentialKeys("app_user", "pw", at, "app"), {
      username: "app_user",
      password: "pw",
      host: "postgres.pg-kopf.svc.cluster.local",
      port: "5432",
      dbname: "app",
      uri: "postgresql://app_user:pw@postgres.pg-kopf.svc.cluster.local:5432/app",
      "jdbc-uri": "jdbc:postgresql://postgres.pg-kopf.svc.cluster.local:5432/app?user=app_user&password=pw",
      pgpass: "postgres.pg-kopf.svc.cluster.local:5432:app:app_user:pw\n",
    });
    const any = credentialKeys("app_user", "pw", at, undefined);
    assert.equal(any.dbname, undefined);
    // Regression: a URI without a database made psql "$uri" try a database named after the role.
    assert.equal(any.uri, "postgresql://app_user:pw@postgres.pg-kopf.svc.cluster.local:5432/postgres");
    assert.equal(any["jdbc-uri"], "jdbc:postgresql://postgres.pg-kopf.svc.cluster.local:5432/postgres?user=app_user&password=pw");
    assert.equal(any.pgpass, "postgres.pg-kopf.svc.cluster.local:5432:*:app_user:pw\n");
  });

  it("for a role without a password (Kerberos) has no password key, no pgpass line, and URIs without one", () => {
    assert.deepEqual(credentialKeys("svc_orders", undefined, at, "orders"), {
      username: "svc_orders",
      host: "postgres.pg-kopf.svc.cluster.local",
      port: "5432",
      dbname: "orders",
      uri: "postgresql://svc_orders@postgres.pg-kopf.svc.cluster.local:5432/orders",
      "jdbc-uri": "jdbc:postgresql://postgres.pg-kopf.svc.cluster.local:5432/orders?user=svc_orders",
    });
  });

  it("for a Kerberos role on a server that sets gssencmode and krbsrvname: keys and URI parameters, libpq's and pgJDBC's", () => {
    const keys = credentialKeys("svc_orders", undefined, { ...at, gssencmode: "require", krbsrvname: "pgsql" }, "orders");
    assert.equal(keys.gssencmode, "require");
    assert.equal(keys.krbsrvname, "pgsql");
    assert.equal(keys.uri, "postgresql://svc_orders@postgres.pg-kopf.svc.cluster.local:5432/orders?gssencmode=require&krbsrvname=pgsql");
    assert.equal(
      keys["jdbc-uri"],
      "jdbc:postgresql://postgres.pg-kopf.svc.cluster.local:5432/orders?user=svc_orders&gssEncMode=require&kerberosServerName=pgsql",
    );
    // A password role is told nothing of Kerberos.
    assert.equal(credentialKeys("app", "pw", { ...at, gssencmode: "require" }, "orders").gssencmode, undefined);
  });

  it("has each further database's dbname, URIs and pgpass line under its name, the plain keys kept for the first", () => {
    const keys = credentialKeys("app_user", "p@ss", at, "shop", { databases: ["shop_reports", "audit"] });
    assert.equal(keys.dbname, "shop");
    assert.equal(keys["shop_reports.dbname"], "shop_reports");
    assert.equal(keys["shop_reports.uri"], "postgresql://app_user:p%40ss@postgres.pg-kopf.svc.cluster.local:5432/shop_reports");
    assert.equal(keys["audit.jdbc-uri"], "jdbc:postgresql://postgres.pg-kopf.svc.cluster.local:5432/audit?user=app_user&password=p%40ss");
    assert.equal(keys["audit.pgpass"], "postgres.pg-kopf.svc.cluster.local:5432:audit:app_user:p@ss\n");
    assert.deepEqual(
      Object.keys(keys).filter((k) => k.includes(".")),
      [
        "shop_reports.dbname",
        "shop_reports.uri",
        "shop_reports.jdbc-uri",
        "shop_reports.pgpass",
        "audit.dbname",
        "audit.uri",
        "audit.jdbc-uri",
        "audit.pgpass",
      ],
    );
    // A Kerberos role: no pgpass line for any database.
    assert.equal(credentialKeys("svc", undefined, at, "shop", { databases: ["audit"] })["audit.pgpass"], undefined);
  });

  it("where the Secret is mounted: with a CA, both URIs name its ca.crt as sslrootcert, and so does {{ sslrootcert }}", () => {
    const tls = { ...at, sslmode: "verify-full", ca: "-----BEGIN CERTIFICATE-----", caPath: "/etc/pg-kopf/app/ca.crt" };
    const keys = credentialKeys("app_user", "p/w", tls, "app", {
      template: { PGSSLROOTCERT: "{{ sslrootcert }}", U: "postgresql://h/d?sslrootcert={{ sslrootcert }}" },
    });
    assert.equal(
      keys.uri,
      "postgresql://app_user:p%2Fw@postgres.pg-kopf.svc.cluster.local:5432/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fpg-kopf%2Fapp%2Fca.crt",
    );
    assert.match(keys["jdbc-uri"], /&sslmode=verify-full&sslrootcert=%2Fetc%2Fpg-kopf%2Fapp%2Fca\.crt$/);
    assert.equal(keys.PGSSLROOTCERT, "/etc/pg-kopf/app/ca.crt");
    assert.equal(keys.U, "postgresql://h/d?sslrootcert=%2Fetc%2Fpg-kopf%2Fapp%2Fca.crt");
    // Without a CA there is nothing to verify with: no sslrootcert.
    const plain = credentialKeys("app_user", "pw", { ...at, sslmode: "require", caPath: "/etc/pg-kopf/app/ca.crt" }, "app");
    assert.equal(plain.uri, "postgresql://app_user:pw@postgres.pg-kopf.svc.cluster.local:5432/app?sslmode=require");
  });

  it("with a pooler: host, port, URIs and pgpass point at it, the server's own under direct-*, both in templates", () => {
    const keys = credentialKeys("app_user", "pw", { ...at, sslmode: "require", pooler: { host: "pgbouncer.db", port: 6432 } }, "app", {
      databases: ["audit"],
      template: {
        MIGRATE_URL: "postgresql://{{ username }}@{{ direct_host }}:{{ direct_port }}/{{ dbname }}",
        APP: "{{ host }}:{{ port }}",
      },
    });
    assert.equal(keys.host, "pgbouncer.db");
    assert.equal(keys.port, "6432");
    assert.equal(keys.uri, "postgresql://app_user:pw@pgbouncer.db:6432/app?sslmode=require");
    assert.equal(keys["audit.uri"], "postgresql://app_user:pw@pgbouncer.db:6432/audit?sslmode=require");
    assert.equal(keys.pgpass, "pgbouncer.db:6432:app:app_user:pw\n");
    assert.equal(keys["direct-host"], "postgres.pg-kopf.svc.cluster.local");
    assert.equal(keys["direct-port"], "5432");
    assert.equal(keys["direct-uri"], "postgresql://app_user:pw@postgres.pg-kopf.svc.cluster.local:5432/app?sslmode=require");
    assert.equal(
      keys["direct-jdbc-uri"],
      "jdbc:postgresql://postgres.pg-kopf.svc.cluster.local:5432/app?user=app_user&password=pw&sslmode=require",
    );
    assert.equal(keys["direct-pgpass"], "postgres.pg-kopf.svc.cluster.local:5432:app:app_user:pw\n");
    assert.equal(keys.MIGRATE_URL, "postgresql://app_user@postgres.pg-kopf.svc.cluster.local:5432/app");
    assert.equal(keys.APP, "pgbouncer.db:6432");
    // Without a pooler, no direct-* keys, and direct_host is the host.
    const plain = credentialKeys("app_user", "pw", at, "app", { template: { D: "{{ direct_host }}" } });
    assert.equal(plain.D, at.host);
    assert.ok(!Object.keys(plain).some((k) => k.startsWith("direct-")));
  });

  it("escapes what URIs and pgpass lines cannot hold as is", () => {
    const keys = credentialKeys("we:ird@user", "p@ss:w/rd\\", { host: "::1", port: 6432, maintenanceDatabase: "postgres" }, "my db");
    assert.equal(keys.uri, "postgresql://we%3Aird%40user:p%40ss%3Aw%2Frd%5C@[::1]:6432/my%20db");
    assert.equal(keys["jdbc-uri"], "jdbc:postgresql://[::1]:6432/my%20db?user=we%3Aird%40user&password=p%40ss%3Aw%2Frd%5C");
    assert.equal(keys.pgpass, "\\:\\:1:6432:my db:we\\:ird@user:p@ss\\:w/rd\\\\\n");
    assert.equal(new URL(keys.uri).password, encodeURIComponent("p@ss:w/rd\\"));
  });

  it("is owned by the PgRole, typed basic-auth, labelled for the watch, and reads back", () => {
    const keys = credentialKeys("app_user", "pw", at, undefined);
    const secret = credentialsSecret(role(), secretNameOf(role(), undefined), keys, "r1");
    assert.equal(secret.metadata.name, "app-credentials");
    assert.equal(secret.type, "kubernetes.io/basic-auth");
    assert.deepEqual(secret.metadata.ownerReferences, [
      { apiVersion: "my.local/v1", kind: "PgRole", name: "app", uid: "uid-1", controller: true },
    ]);
    assert.equal(secret.metadata.labels?.["app.kubernetes.io/managed-by"], "pg-kopf");
    assert.ok(ownedBy(secret, role()));
    assert.equal(ownerName(secret), "app");
    assert.equal(passwordOf(secret), "pw");
    assert.ok(holdsKeys(secret, keys));
    assert.ok(!holdsKeys(secret, credentialKeys("app_user", "pw", at, "app")));
  });

  it("is not ours when another object (or nobody) controls it", () => {
    const secret = credentialsSecret(role(), "app-credentials", {}, undefined);
    assert.ok(!ownedBy(secret, { ...role(), metadata: { ...role().metadata, uid: "uid-2" } }));
    assert.ok(!ownedBy({ metadata: { name: "app-credentials", namespace: "team" } }, role()));
  });

  it("asks for a new password once per value of the rotate annotation", () => {
    const secret = credentialsSecret(role(), "app-credentials", {}, "2026-11-28");
    assert.ok(!rotationAsked(role(), secret));
    assert.ok(!rotationAsked(role({ "pgroles.my.local/rotate": "2026-11-28" }), secret));
    assert.ok(rotationAsked(role({ "pgroles.my.local/rotate": "2026-12-01" }), secret));
    assert.equal(passwordOf({ metadata: secret.metadata, data: { password: "" } }), undefined);
  });
});
