import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AuthenticationFailed,
  classifyError,
  DatabaseInUse,
  InvalidSpec,
  PgKopfError,
  PlanChanged,
  PostgresRejected,
  PostgresUnavailable,
  TlsFailed,
} from "./errors";

const pgError = (code: string, message = "boom") => Object.assign(new Error(message), { code });

test("server conditions that pass are transient", () => {
  for (const code of ["53300", "55P03", "57P03", "08006", "40P01"]) {
    const e = classifyError(pgError(code));
    assert.equal(e.transient, true, code);
    assert.equal(e.reason, "PostgresUnavailable", code);
    assert.equal(e.sqlstate, code);
  }
});

test("socket failures are transient", () => {
  for (const code of ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND"]) {
    assert.equal(classifyError(pgError(code)).transient, true, code);
  }
  assert.equal(classifyError(new Error("Connection terminated unexpectedly")).transient, true);
});

test("an unknown role is a spec problem naming the field", () => {
  const e = classifyError(pgError("42704", 'role "nobody" does not exist'), "owner");
  assert.ok(e instanceof InvalidSpec);
  assert.equal(e.transient, false);
  assert.deepEqual(e.failures, [{ field: "owner", message: 'role "nobody" does not exist' }]);
});

test("a database in use is retried, a bad password is not", () => {
  assert.equal(classifyError(pgError("55006")).reason, "DatabaseInUse");
  assert.equal(classifyError(pgError("55006")).transient, true);
  const auth = classifyError(pgError("28P01", 'password authentication failed for user "admin"'));
  assert.equal(auth.reason, "AuthenticationFailed");
  assert.equal(auth.transient, false);
});

test("typed errors pass through unchanged; anything else is a permanent rejection", () => {
  const typed = new PgKopfError("NotOwned", "x", { transient: false });
  assert.equal(classifyError(typed), typed);
  const other = classifyError(pgError("42601", "syntax error"));
  assert.equal(other.reason, "PostgresRejected");
  assert.equal(other.transient, false);
  assert.equal(classifyError("weird").reason, "PostgresRejected");
});

// Regression: certificate failures were reported as PostgresRejected with Node's own hint, and a pg_hba rejection
// of a plain-text connection said to check the password.
test("TLS failures have their own reason, naming the setting that fixes them", () => {
  const ca = classifyError(pgError("SELF_SIGNED_CERT_IN_CHAIN", "self-signed certificate in certificate chain"));
  assert.equal(ca.reason, "TlsFailed");
  assert.equal(ca.transient, false);
  assert.match(ca.message, /sslrootcert/);
  // Named as the user sets it, without Node's advice to use the system CA store (wrong here).
  const named = classifyError(
    pgError(
      "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
      "unable to get local issuer certificate. To trust it, try running Node.js with --use-system-ca.",
    ),
    undefined,
    "pg-kopf:servers.secure.sslRootCert",
  );
  assert.equal(
    named.message,
    "unable to get local issuer certificate: the server's certificate is not signed by the CA in pg-kopf:servers.secure.sslRootCert: set pg-kopf:servers.secure.sslRootCert to the CA that signed it",
  );
  assert.match(classifyError(pgError("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match")).message, /verify-ca/);
  const hba = classifyError(
    pgError("28000", 'no pg_hba.conf entry for host "127.0.0.1", user "postgres", database "postgres", no encryption'),
  );
  assert.equal(hba.reason, "TlsFailed");
  assert.match(hba.message, /sslmode require/);
  assert.equal(classifyError(new Error("The server does not support SSL connections")).reason, "TlsFailed");
});

// Regression: a server shutting down was reported as "server starting up" (one SQLSTATE for both).
test("a server refusing connections for now is said in its own words", () => {
  assert.equal(
    classifyError(pgError("57P03", "the database system is shutting down")).message,
    "server not accepting connections now: the database system is shutting down",
  );
});

test("each reason has its class, and a failure that says how long it lasts carries the hint", () => {
  const cases: [string, new (...args: never[]) => PgKopfError][] = [
    ["53300", PostgresUnavailable],
    ["08006", PostgresUnavailable],
    ["28P01", AuthenticationFailed],
    ["SELF_SIGNED_CERT_IN_CHAIN", TlsFailed],
    ["42601", PostgresRejected],
    ["55006", DatabaseInUse],
    ["42P04", InvalidSpec],
  ];
  for (const [code, cls] of cases) assert.ok(classifyError(pgError(code)) instanceof cls, `${code}: ${cls.name}`);
  assert.equal(classifyError(pgError("53300", "sorry, too many clients already")).retryAfterMs, 5_000);
  assert.equal(classifyError(pgError("40P01", "deadlock detected")).retryAfterMs, undefined);
  const placed = classifyError(pgError("28P01", "password authentication failed")).within('server "a" (db.example:5432)');
  assert.ok(placed instanceof AuthenticationFailed && placed.reason === "AuthenticationFailed" && !placed.transient);
  assert.match(placed.message, /^server "a" \(db.example:5432\): password authentication failed/);
  assert.match(new PlanChanged("role", ["a"], ["b"]).message, /^the role changed since the plan was shown: planned \["a"\], now \["b"\]/);
});
