import { test } from "node:test";
import assert from "node:assert/strict";
import * as core from "../../core";
import { twoCredentialsFailures } from "./turns";

const spec = (input: object): core.role.PgRoleSpec => {
  const r = core.role.parseRoleSpec(input);
  if (!r.ok) throw new Error(JSON.stringify(r.failures));
  return r.spec;
};
const target = { name: "app-creds", namespace: "default" };

test("twoCredentials in Pulumi: needs credentialsSecret and a password role, names the field otherwise", () => {
  assert.deepEqual(twoCredentialsFailures(spec({ name: "app" }), { twoCredentials: { keepPrevious: "30m" } }, target), []);
  assert.deepEqual(twoCredentialsFailures(spec({ name: "app" }), {}, undefined), [], "not asked: nothing to say");
  const cases: [object, Record<string, unknown>, typeof target | undefined, RegExp][] = [
    [{ name: "app" }, { twoCredentials: {} }, undefined, /^twoCredentials: .* needs credentialsSecret/],
    [{ name: "app", authentication: "kerberos" }, { twoCredentials: {} }, target, /^twoCredentials: a Kerberos role/],
    [{ name: "x".repeat(62) }, { twoCredentials: {} }, target, /^name: .* at most 61 bytes/],
    [{ name: "app" }, { twoCredentials: { keepPrevious: "5s" } }, target, /^twoCredentials\.keepPrevious: "5s" is shorter than 10s/],
    [{ name: "app" }, { twoCredentials: { keepPrevious: "1d" } }, target, /^twoCredentials\.keepPrevious: "1d" is not a duration/],
    [{ name: "app" }, { twoCredentials: { keep: "1h" } }, target, /^twoCredentials: expected \{keepPrevious/],
  ];
  for (const [s, news, t, reason] of cases) {
    const [failure] = twoCredentialsFailures(spec(s), news, t);
    assert.match(failure?.reason ?? "", reason, JSON.stringify(news));
  }
});
