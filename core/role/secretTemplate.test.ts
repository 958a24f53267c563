import assert from "node:assert/strict";
import { test } from "node:test";
import { renderTemplate, STANDARD_KEYS, templateFailures } from "./secretTemplate";

const parts = {
  username: "we:ird@user",
  password: "p@ss:w/rd?&",
  host: "db.internal",
  port: "6432",
  dbname: "my db",
  sslmode: "verify-full",
};

test("in a URI every placeholder is percent-encoded where it sits; elsewhere only the _urlencoded ones", () => {
  const keys = renderTemplate(
    {
      DATABASE_URL: "postgresql://{{ username }}:{{ password }}@{{ host }}:{{ port }}/{{ dbname }}?sslmode={{sslmode}}",
      JDBC: "jdbc:postgresql://{{ host }}:{{ port }}/{{ dbname }}",
      PASSWORD: "{{ password }}",
      DSN: "host={{ host }} dbname={{ dbname }} url=https://x/?p={{ password_urlencoded }}",
    },
    parts,
  );
  assert.equal(keys.DATABASE_URL, "postgresql://we%3Aird%40user:p%40ss%3Aw%2Frd%3F%26@db.internal:6432/my%20db?sslmode=verify-full");
  assert.equal(keys.JDBC, "jdbc:postgresql://db.internal:6432/my%20db");
  assert.equal(keys.PASSWORD, "p@ss:w/rd?&");
  assert.equal(keys.DSN, "host=db.internal dbname=my db url=https://x/?p=p%40ss%3Aw%2Frd%3F%26");
  assert.equal(renderTemplate({ U: "postgresql://{{ host }}:{{ port }}" }, { ...parts, host: "::1" }).U, "postgresql://[::1]:6432");
  assert.deepEqual(renderTemplate(undefined, parts), {});
});

test("refused, naming the key: an unknown placeholder, a stray brace, a key pg-kopf writes, a password a Kerberos role lacks", () => {
  const failures = (template: Record<string, string>, hasPassword = true) =>
    templateFailures(template, { field: "secretTemplate", hasPassword, reserved: STANDARD_KEYS }).map((f) => `${f.field}: ${f.message}`);
  assert.deepEqual(failures({ A: "{{ username }}", B: "{{ password_urlencoded }}" }), []);
  assert.match(
    failures({ URL: "{{ pasword }}" })[0],
    /^secretTemplate\.URL: \{\{ pasword \}\} is not a placeholder; use \{\{ username \}\}/,
  );
  assert.match(failures({ URL: "{{ username }" })[0], /^secretTemplate\.URL: has a \{\{ or \}\} that is not a placeholder/);
  assert.match(failures({ uri: "{{ host }}" })[0], /^secretTemplate\.uri: is a key pg-kopf writes itself/);
  assert.match(failures({ URL: "{{ password }}" }, false)[0], /this role has no password \(authentication kerberos\)/);
  assert.deepEqual(failures({ URL: "{{ username }}" }, false), []);
});
