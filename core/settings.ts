// Session settings pg-kopf sets (ALTER ROLE ... SET, ALTER DATABASE ... SET, ALTER ROLE ... IN DATABASE ... SET),
// written once for every kind and field that has them: the one vocabulary of keys and what each key's value is, how
// values compare (Postgres re-spells lists), the spec's checks and CEL rule, the SET and RESET from what an object has
// and what pg-kopf last applied, and what a refresh records. Decisions: docs/adr/0022-settings-vocabulary-and-memory.md.
import { Type } from "@sinclair/typebox";
import type { AdminView } from "./admin";
import { type FieldFailure, InvalidSpec } from "./errors";
import { celList } from "./schema";

/** A settings map: key -> value as in SET (a list setting as one string, "app, public"). */
export type Settings = Readonly<Record<string, string>>;

/** What a key's value is, as Postgres parses it (its GUC type); text values are left for Postgres to judge. */
type SettingValue =
  /** An integer or decimal with an optional time unit; -1 only where `minusOne` (it means "off"). */
  | { readonly type: "duration"; readonly minusOne?: true }
  /** An integer or decimal with an optional memory unit; -1 only where `minusOne`. */
  | { readonly type: "memory"; readonly minusOne?: true }
  | { readonly type: "real" }
  | { readonly type: "bool" }
  | { readonly type: "enum"; readonly values: readonly string[] }
  /** A comma-separated list of names: SET key TO 'a', 'b'. */
  | { readonly type: "list" }
  | { readonly type: "text" };

interface SettingKey {
  readonly value: SettingValue;
  /** server_version_num of the first Postgres that has the key. */
  readonly since?: number;
  /** Only a superuser (or, from 15, a role granted SET ON PARAMETER) may set it: refused for an admin that may not. */
  readonly superuser?: true;
}

const duration: SettingValue = { type: "duration" };
const memory: SettingValue = { type: "memory" };
const bool: SettingValue = { type: "bool" };
const text: SettingValue = { type: "text" };
const oneOf = (...values: string[]): SettingValue => ({ type: "enum", values });
const MESSAGE_LEVELS = ["debug5", "debug4", "debug3", "debug2", "debug1", "log", "notice", "warning", "error"];

/**
 * The one vocabulary of settings a declared object may carry: session settings (Postgres' user context, which any role
 * may set for itself, so a non-superuser admin can set them), and a few logging ones only a superuser may set. Nothing
 * that loads code or changes who a session is: see REFUSED_SETTINGS.
 */
export const SETTING_KEYS: Readonly<Record<string, SettingKey>> = {
  search_path: { value: { type: "list" } },
  statement_timeout: { value: duration },
  lock_timeout: { value: duration },
  idle_in_transaction_session_timeout: { value: duration },
  idle_session_timeout: { value: duration, since: 140000 },
  transaction_timeout: { value: duration, since: 170000 },
  work_mem: { value: memory },
  maintenance_work_mem: { value: memory },
  temp_buffers: { value: memory },
  effective_cache_size: { value: memory },
  random_page_cost: { value: { type: "real" } },
  jit: { value: bool },
  default_transaction_isolation: { value: oneOf("serializable", "repeatable read", "read committed", "read uncommitted") },
  default_transaction_read_only: { value: bool },
  default_transaction_deferrable: { value: bool },
  default_text_search_config: { value: text },
  timezone: { value: text },
  datestyle: { value: text },
  intervalstyle: { value: oneOf("postgres", "postgres_verbose", "sql_standard", "iso_8601") },
  client_min_messages: { value: oneOf(...MESSAGE_LEVELS) },
  log_statement: { value: oneOf("none", "ddl", "mod", "all"), superuser: true },
  log_min_duration_statement: { value: { type: "duration", minusOne: true }, superuser: true },
  log_min_messages: { value: oneOf(...MESSAGE_LEVELS, "info", "fatal", "panic"), superuser: true },
  log_lock_waits: { value: bool, superuser: true },
  temp_file_limit: { value: { type: "memory", minusOne: true }, superuser: true },
};

/** Settings Postgres has that no declared object may carry, and why. */
export const REFUSED_SETTINGS: Readonly<Record<string, string>> = {
  session_preload_libraries: "loads a library into every session, which is the server operator's decision (postgresql.conf)",
  local_preload_libraries: "loads a library into every session, which is the server operator's decision (postgresql.conf)",
  role: "changes the role every session acts as; grant memberships with memberOf instead",
};

/** What to write instead, appended to a schema failure of a settings field. */
export const SETTINGS_FIX = 'map each key to its value as a string, as in SET, e.g. {statement_timeout: "30s", search_path: "app, public"}';

/**
 * The schema of a settings map: keys and values as strings (a list setting as one string, as Postgres stores it),
 * bounded so that the API server can cost the CRD's rules over it. The keys and values are checked by settingsFailures.
 */
export function settingsMapSchema(description: string) {
  return Type.Record(Type.String({ minLength: 1, maxLength: 63 }), Type.String({ minLength: 1, maxLength: 1024 }), {
    maxProperties: 32,
    description: `${description} Keys: ${SETTING_NAMES.join(", ")}.`,
  });
}

/** An optional settings field. */
export const settingsSchema = (description: string) => Type.Optional(settingsMapSchema(description));

/** Every key of the vocabulary, in its order. */
export const SETTING_NAMES: readonly string[] = Object.keys(SETTING_KEYS);
/** The keys only a superuser may set. */
export const SUPERUSER_SETTINGS: readonly string[] = SETTING_NAMES.filter((k) => SETTING_KEYS[k].superuser);

const isList = (key: string) => SETTING_KEYS[key]?.value.type === "list";

/** A setting's value as comparable items: list settings split on commas, each trimmed and unquoted. */
export function settingItems(key: string, value: string): string[] {
  if (!isList(key)) return [value];
  return value.split(",").map((item) =>
    item
      .trim()
      .replace(/^"(.*)"$/, "$1")
      .replace(/""/g, '"'),
  );
}

/** Whether two values of a setting are the same setting (Postgres stores `a,b` as `a, b`, quoting where needed). */
export function sameSettingValue(key: string, a: string, b: string): boolean {
  return JSON.stringify(settingItems(key, a)) === JSON.stringify(settingItems(key, b));
}

/**
 * What changes: each wanted setting that differs is set; each one pg-kopf applied before (`previous`) that the map no
 * longer has is reset. A setting made by hand on a key pg-kopf never set is left alone.
 */
export function settingsChanges(
  want: Settings,
  have: Settings,
  previous: Settings,
): { readonly set: readonly [string, string][]; readonly reset: readonly string[] } {
  return {
    set: Object.entries(want).filter(([key, value]) => have[key] === undefined || !sameSettingValue(key, value, have[key])),
    reset: Object.keys(previous).filter((key) => !(key in want) && have[key] !== undefined),
  };
}

const UNITS = { duration: ["us", "ms", "s", "min", "h", "d"], memory: ["B", "kB", "MB", "GB", "TB"] };
const BOOLS = ["on", "off", "true", "false", "yes", "no", "1", "0"];

const NUMBER = String.raw`(?:\d+\.?\d*|\.\d+)`;
/**
 * The pattern a value of a numeric type matches, as Postgres parses it (guc.c parse_int, parse_real): written once in
 * the syntax both JavaScript and the API server's CEL (RE2) read, so the spec's check and the CRD's rule agree.
 */
function valuePattern(value: SettingValue): string | undefined {
  switch (value.type) {
    case "duration":
    case "memory": {
      const units = UNITS[value.type].join("|");
      return String.raw`^\s*\+?${NUMBER}\s*(?:${units})?\s*$` + (value.minusOne ? String.raw`|^\s*-1\s*$` : "");
    }
    case "real":
      return String.raw`^\s*[+-]?${NUMBER}(?:[eE][+-]?\d+)?\s*$`;
    default:
      return undefined;
  }
}

/** The values a value of a boolean or enum key may take (in any case), for the spec's check and the CRD's rule. */
function valueChoices(value: SettingValue): readonly string[] | undefined {
  return value.type === "bool" ? BOOLS : value.type === "enum" ? value.values : undefined;
}

/** Why Postgres would refuse a value for the key's type, as its parser does (guc.c parse_int/parse_real/parse_bool). */
function valueProblem(value: SettingValue, v: string): string | undefined {
  const pattern = valuePattern(value);
  if (pattern && !new RegExp(pattern).test(v)) {
    if (value.type === "real") return `"${v}" is not a number; write e.g. 1.1`;
    if (/^\s*-\s*[\d.]/.test(v))
      return `"${v}" is negative; use 0 or more${"minusOne" in value && value.minusOne ? " (or -1 for off)" : ""}`;
    const units = UNITS[value.type as "duration" | "memory"];
    const example = value.type === "duration" ? "30s" : "64MB";
    return `"${v}" is not a ${value.type === "duration" ? "time" : "size"}; write a number with one of the units ${units.join(", ")} (case matters), e.g. ${example}`;
  }
  const choices = valueChoices(value);
  if (choices && !choices.includes(v.toLowerCase()))
    return value.type === "bool"
      ? `"${v}" is not a boolean; use one of ${choices.join(", ")}`
      : `"${v}" is not one of ${choices.join(", ")}`;
  if (value.type === "list" && settingItems("search_path", v).some((item) => item === ""))
    return "has an empty item; write the list as a, b";
  return undefined;
}

/**
 * The CRD's value rules over a settings map (the CEL expression `map`): one rule for each group of keys whose values
 * match one pattern or take one set of choices. Text values are left to Postgres.
 */
export function settingsValueRules(map: string, field: string): { rule: string; message: string }[] {
  const groups = new Map<string, { keys: string[]; test: (v: string) => string; says: string }>();
  for (const key of SETTING_NAMES) {
    const value = SETTING_KEYS[key].value;
    const pattern = valuePattern(value);
    const choices = valueChoices(value);
    if (!pattern && !choices) continue;
    const id = pattern ?? JSON.stringify(choices);
    const off = "minusOne" in value && value.minusOne ? ", or -1 for off" : "";
    const numeric = value.type === "real" ? "a number" : value.type === "duration" ? `a time (30s${off})` : `a size (64MB${off})`;
    const says = pattern ? numeric : `one of ${choices!.join(", ")}`;
    const test = pattern ? (v: string) => `${v}.matches(r'${pattern}')` : (v: string) => `${v}.lowerAscii() in ${celList(choices!)}`;
    const group = groups.get(id) ?? { keys: [], test, says };
    group.keys.push(key);
    groups.set(id, group);
  }
  return [...groups.values()].map(({ keys, test, says }) => ({
    rule: `${celList(keys)}.all(k, !(k in ${map}) || ${test(`${map}[k]`)})`,
    message: `spec.${field}: ${keys.join(", ")} ${keys.length === 1 ? "takes" : "take"} ${says}`,
  }));
}

/** The vocabulary's key nearest to a misspelled one (at most two edits away), to suggest. */
function nearestKey(key: string): string | undefined {
  const distance = (a: string, b: string): number => {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const next = [i];
      for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      row = next;
    }
    return row[b.length];
  };
  const [best] = SETTING_NAMES.map((k) => [k, distance(key, k)] as const).sort((a, b) => a[1] - b[1]);
  return best && best[1] <= 2 ? best[0] : undefined;
}

/** What is wrong with one key and its value, if anything: a key outside the vocabulary (and why), a value Postgres would refuse. */
export function settingProblem(key: string, value: unknown): string | undefined {
  if (key in REFUSED_SETTINGS) return `is not set by pg-kopf: it ${REFUSED_SETTINGS[key]}`;
  const known = SETTING_KEYS[key];
  if (!known) {
    if (SETTING_KEYS[key.toLowerCase()]) return `write the key in lower case, ${key.toLowerCase()}`;
    const near = nearestKey(key.toLowerCase());
    return `is not a setting pg-kopf sets${near ? `; did you mean ${near}?` : "."} Use one of ${SETTING_NAMES.join(", ")}`;
  }
  if (Array.isArray(value)) return `write the list as one string, "${value.join(", ")}"`;
  return typeof value === "string" ? valueProblem(known.value, value) : undefined;
}

/** The failures of a settings map beyond its schema (the key set and each value), each naming `field.key`. */
export function settingsFailures(field: string, raw: unknown): FieldFailure[] {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return [];
  return Object.entries(raw).flatMap(([key, value]): FieldFailure[] => {
    const problem = settingProblem(key, value);
    return problem ? [{ field: `${field}.${key}`, message: problem }] : [];
  });
}

/** The key set as a CEL condition on a map expression, for the CRD. */
export function settingsKeysCel(map: string): string {
  return `${map}.all(k, k in ${celList(SETTING_NAMES)})`;
}

/** What the CRD says when a key is outside the vocabulary. */
export const SETTINGS_KEYS_MESSAGE = `pg-kopf sets only ${SETTING_NAMES.join(", ")} (lower case)`;

/** The rules of a settings field, for the CRD: its key set, and each key's value as its type allows. */
export function settingsRules(field: string): { rule: string; message: string }[] {
  const guard = (rule: string) => `!has(self.${field}) || ${rule}`;
  return [
    { rule: guard(settingsKeysCel(`self.${field}`)), message: `spec.${field}: ${SETTINGS_KEYS_MESSAGE}` },
    ...settingsValueRules(`self.${field}`, field).map((r) => ({ ...r, rule: guard(r.rule) })),
  ];
}

/**
 * Refusals against the server (InvalidSpec-style failures, naming `field.key`): a key this Postgres does not have yet,
 * and a superuser key the admin may not set (`settable`: the superuser keys it may, from SET ON PARAMETER).
 */
export function serverSettingFailures(
  field: string,
  settings: Settings,
  server: { readonly versionNum: number; readonly superuser: boolean; readonly user: string; readonly settable?: ReadonlySet<string> },
): FieldFailure[] {
  return Object.keys(settings).flatMap((key): FieldFailure[] => {
    const known = SETTING_KEYS[key];
    if (!known) return [];
    if (known.since && server.versionNum < known.since)
      return [
        {
          field: `${field}.${key}`,
          message: `Postgres ${Math.floor(server.versionNum / 10000)} has no ${key} (it came in ${known.since / 10000}); remove it`,
        },
      ];
    if (known.superuser && !server.superuser && !server.settable?.has(key))
      return [
        {
          field: `${field}.${key}`,
          message:
            `only a superuser may set ${key}, and the admin "${server.user}" is not one; remove it, set it in the server's ` +
            `configuration (a managed service's parameter group), or, from Postgres 15, GRANT SET ON PARAMETER ${key} TO ${server.user}`,
        },
      ];
    return [];
  });
}

/** Refuses (InvalidSpec, naming each) settings of the maps (field path -> map) this server lacks or the admin may not set. */
export function refuseServerSettings(maps: readonly (readonly [string, Settings | undefined])[], admin: AdminView | undefined): void {
  if (!admin) return;
  const server = { ...admin.facts, settable: admin.settable };
  const failures = maps.flatMap(([field, map]) => serverSettingFailures(field, map ?? {}, server));
  if (failures.length) throw new InvalidSpec(failures);
}

/**
 * What a refresh records: each setting pg-kopf recorded, as recorded while Postgres says the same (it may spell a list
 * differently), as it is when changed by hand (drift the next update repairs), and gone when reset by hand. A
 * setting made by hand on another key is not recorded: it is not pg-kopf's.
 */
export function reflectSettings(recorded: Settings, observed: Settings): Record<string, string> {
  return Object.fromEntries(
    Object.entries(recorded).flatMap(([key, value]): [string, string][] => {
      const now = observed[key];
      if (now === undefined) return [];
      return [[key, sameSettingValue(key, value, now) ? value : now]];
    }),
  );
}

/** The superuser-only keys among settings maps: what the admin view checks SET ON PARAMETER for. */
export function superuserKeysIn(maps: readonly (Settings | undefined)[]): string[] {
  return [...new Set(maps.flatMap((m) => Object.keys(m ?? {}).filter((k) => SUPERUSER_SETTINGS.includes(k))))];
}

/**
 * The settings of pg_db_role_setting's setconfig (key=value; the key never contains "=", the value may). Keys in lower
 * case: Postgres stores some in its own spelling (TimeZone, IntervalStyle, DateStyle) and matches them in any case.
 */
export function parseSetconfig(setconfig: readonly string[] | null): Record<string, string> {
  return Object.fromEntries((setconfig ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")).toLowerCase(), kv.slice(kv.indexOf("=") + 1)]));
}

/** The SQL value list of SET key TO ...: a list setting's items each as a literal. */
export function settingValueSql(key: string, value: string, literal: (v: string) => string): string {
  return settingItems(key, value).map(literal).join(", ");
}
