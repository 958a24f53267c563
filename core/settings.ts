// Session settings pg-kopf sets on an object (ALTER ROLE ... SET), written once for every kind that has them: which
// keys are allowed, how a value's items compare (Postgres re-spells lists), the spec's checks and CEL rule, the
// SET and RESET from the settings an object has to those asked for, and what a refresh records.
import type { FieldFailure } from "./errors";
import { celList } from "./schema";

/** The keys a settings field may hold, and which of them take a list (SET key TO 'a', 'b'). */
export interface SettingsKeys {
  readonly keys: readonly string[];
  readonly lists: readonly string[];
}

/** A setting's value as comparable items: list settings split on commas, each trimmed and unquoted. */
export function settingItems(keys: SettingsKeys, key: string, value: string): string[] {
  if (!keys.lists.includes(key)) return [value];
  return value.split(",").map((item) =>
    item
      .trim()
      .replace(/^"(.*)"$/, "$1")
      .replace(/""/g, '"'),
  );
}

/** Whether two values of a setting are the same setting (Postgres stores `a,b` as `a, b`, quoting where needed). */
export function sameSettingValue(keys: SettingsKeys, key: string, a: string, b: string): boolean {
  return JSON.stringify(settingItems(keys, key, a)) === JSON.stringify(settingItems(keys, key, b));
}

/** What changes: each wanted setting that differs is set, each setting the map no longer has is reset. */
export function settingsChanges(
  keys: SettingsKeys,
  want: Readonly<Record<string, string>>,
  have: Readonly<Record<string, string>>,
): { readonly set: readonly [string, string][]; readonly reset: readonly string[] } {
  return {
    set: Object.entries(want).filter(([key, value]) => have[key] === undefined || !sameSettingValue(keys, key, value, have[key])),
    reset: Object.keys(have).filter((key) => !(key in want)),
  };
}

/** The failures of a settings map beyond its schema: unknown keys, empty list items. */
export function settingsFailures(field: string, keys: SettingsKeys, raw: unknown, kind: string): FieldFailure[] {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return [];
  return Object.entries(raw).flatMap(([key, value]): FieldFailure[] => {
    if (!keys.keys.includes(key.toLowerCase()) || key !== key.toLowerCase())
      return [
        { field: `${field}.${key}`, message: `is not a setting pg-kopf sets for ${kind}; use one of ${keys.keys.join(", ")} (lower case)` },
      ];
    if (typeof value === "string" && settingItems(keys, key, value).some((item) => item === ""))
      return [{ field: `${field}.${key}`, message: "has an empty item; write the list as a, b" }];
    return [];
  });
}

/** The same key rule as a CEL rule on the spec, for the CRD. */
export function settingsRule(field: string, keys: SettingsKeys): { rule: string; message: string } {
  return {
    rule: `!has(self.${field}) || self.${field}.all(k, k in ${celList(keys.keys)})`,
    message: `spec.${field}: pg-kopf sets only ${keys.keys.join(", ")} (lower case)`,
  };
}

/** What a refresh records: each setting as recorded when Postgres says the same (it may spell a list differently), else as it is. */
export function reflectSettings(
  keys: SettingsKeys,
  recorded: Readonly<Record<string, string>>,
  observed: Readonly<Record<string, string>>,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(observed).map(([key, value]) => {
      const same = recorded[key] !== undefined && sameSettingValue(keys, key, recorded[key], value);
      return [key, same ? recorded[key] : value];
    }),
  );
}
