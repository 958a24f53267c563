// The one settings vocabulary: each key's value checked as Postgres' parser would, keys outside it refused with the
// reason (or the key meant), lists compared as Postgres re-spells them, and what the server refuses (a key it does
// not have yet, a superuser key the admin may not set) named before any SQL.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  parseSetconfig,
  REFUSED_SETTINGS,
  reflectSettings,
  sameSettingValue,
  SETTING_KEYS,
  serverSettingFailures,
  settingProblem,
  settingsChanges,
  settingsFailures,
} from "./settings";

test("values are checked by type, as Postgres parses them", () => {
  const good: [string, string][] = [
    ["statement_timeout", "30s"],
    ["statement_timeout", "1.5min"],
    ["statement_timeout", "0"],
    ["lock_timeout", "250 ms"],
    ["work_mem", "64MB"],
    ["temp_buffers", "1024"],
    ["log_min_duration_statement", "-1"],
    ["random_page_cost", "1.1"],
    ["default_transaction_read_only", "ON"],
    ["default_transaction_isolation", "REPEATABLE READ"],
    ["client_min_messages", "warning"],
    ["search_path", '"$user", public'],
    ["timezone", "Europe/Paris"],
  ];
  for (const [key, value] of good) assert.equal(settingProblem(key, value), undefined, `${key}=${value}`);
  const bad: [string, string, RegExp][] = [
    ["statement_timeout", "30 sec", /not a time.*us, ms, s, min, h, d/],
    ["statement_timeout", "30S", /case matters/],
    ["statement_timeout", "-1", /negative/],
    ["work_mem", "64mb", /not a size.*kB, MB/],
    ["random_page_cost", "fast", /not a number/],
    ["default_transaction_read_only", "maybe", /not a boolean/],
    ["default_transaction_isolation", "snapshot", /not one of serializable/],
    ["search_path", "app,,public", /empty item/],
  ];
  for (const [key, value, why] of bad) assert.match(settingProblem(key, value) ?? "", why, `${key}=${value}`);
});

test("a key outside the vocabulary is refused with the reason, the key meant, or its lower-case spelling", () => {
  assert.match(settingProblem("session_preload_libraries", "auto_explain") ?? "", /loads a library/);
  assert.match(settingProblem("role", "admin") ?? "", /memberOf/);
  assert.match(settingProblem("statment_timeout", "1s") ?? "", /did you mean statement_timeout\?/);
  assert.match(settingProblem("Work_Mem", "1MB") ?? "", /lower case, work_mem/);
  assert.match(settingProblem("no_such_thing", "1") ?? "", /not a setting pg-kopf sets\. Use one of search_path/);
  assert.match(settingProblem("search_path", ["app", "public"]) ?? "", /one string, "app, public"/);
  for (const key of Object.keys(REFUSED_SETTINGS)) assert.ok(!(key in SETTING_KEYS), key);
  assert.deepEqual(
    settingsFailures("config", { statement_timeout: "soon", lock_timeout: "1s" }).map((f) => f.field),
    ["config.statement_timeout"],
  );
});

test("keys Postgres stores in its own spelling (TimeZone) are read in lower case, as the spec writes them", () => {
  assert.deepEqual(parseSetconfig(["TimeZone=UTC", "DateStyle=ISO, DMY", "search_path=a=b"]), {
    timezone: "UTC",
    datestyle: "ISO, DMY",
    search_path: "a=b",
  });
});

test("lists compare item by item, as Postgres re-spells them", () => {
  assert.ok(sameSettingValue("search_path", "$user,public", '"$user", public'));
  assert.ok(!sameSettingValue("search_path", "public, app", "app, public"));
  assert.ok(!sameSettingValue("statement_timeout", "30s", "30000"), "a unit is compared as written: Postgres stores it so");
});

test("only what pg-kopf set is reset or reflected; a key set by hand is left alone", () => {
  const have = { statement_timeout: "30s", work_mem: "4MB" };
  assert.deepEqual(settingsChanges({}, have, { statement_timeout: "30s" }), { set: [], reset: ["statement_timeout"] });
  assert.deepEqual(settingsChanges({}, have, {}), { set: [], reset: [] });
  assert.deepEqual(settingsChanges({}, {}, { statement_timeout: "30s" }), { set: [], reset: [] }, "already gone: nothing to reset");
  assert.deepEqual(reflectSettings({ statement_timeout: "1min" }, have), { statement_timeout: "30s" });
  assert.deepEqual(reflectSettings({ lock_timeout: "1s" }, have), {}, "reset by hand: no longer recorded");
});

test("the server refuses a key it does not have yet, and a superuser key the admin may not set", () => {
  const admin = { versionNum: 130012, superuser: false, user: "rds_admin" };
  const failures = serverSettingFailures("config", { idle_session_timeout: "1h", log_statement: "all", work_mem: "8MB" }, admin);
  assert.deepEqual(
    failures.map((f) => f.field),
    ["config.idle_session_timeout", "config.log_statement"],
  );
  assert.match(failures[0].message, /Postgres 13 has no idle_session_timeout \(it came in 14\)/);
  assert.match(failures[1].message, /only a superuser may set log_statement.*GRANT SET ON PARAMETER log_statement TO rds_admin/);
  assert.deepEqual(serverSettingFailures("config", { log_statement: "all" }, { ...admin, superuser: true }), []);
  const granted = { ...admin, versionNum: 160002, settable: new Set(["log_statement"]) };
  assert.deepEqual(serverSettingFailures("config", { log_statement: "all" }, granted), [], "granted SET ON PARAMETER");
});
