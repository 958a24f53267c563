// What the spec schemas of every kind share: Postgres names (their schema and byte limit), integers as SQL, and
// the failures a TypeBox schema reports, each naming its field and the fix.
import type { TSchema } from "@sinclair/typebox";
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { FieldFailure } from "./errors";

/** Names a GRANT takes for something other than a role (PUBLIC, the session's roles): never a role's name. */
export const NOT_ROLES: readonly string[] = ["public", "current_user", "session_user", "current_role", "none"];

/** Postgres names are at most 63 bytes (NAMEDATALEN - 1); any other character but NUL is allowed (quoted). */
export const MAX_NAME_BYTES = 63;
export const NAME_PATTERN = "^[^\\x00]+$";

/** The schema of a Postgres name (database, role, tablespace...): 1-63 characters here, bytes checked by the parsers. */
export const nameSchema = (description: string) =>
  Type.String({ minLength: 1, maxLength: MAX_NAME_BYTES, pattern: NAME_PATTERN, description });

/** An integer as SQL. Numbers reach SQL only after validation; this guards the one path that is not driver-escaped. */
export const sqlInteger = (n: number): string => {
  if (!Number.isInteger(n)) throw new TypeError(`not an integer: ${n}`);
  return String(n);
};

/**
 * What a spec schema says of `input`, one failure per field (dotted path), each naming the field: an unknown field
 * lists the known ones, a known one gets its fix. Fields already in `reported` are not reported again. Pure.
 */
export function schemaFailures(
  schema: TSchema & { properties: object },
  input: unknown,
  fix: (field: string) => string | undefined,
  reported: readonly FieldFailure[] = [],
): FieldFailure[] {
  const failures: FieldFailure[] = [];
  for (const error of Value.Errors(schema, input)) {
    const field = error.path.replace(/^\//, "").replace(/\//g, ".") || "spec";
    const top = field.split(".")[0];
    if ([...reported, ...failures].some((f) => f.field === field)) continue; // one message per field is enough
    let message = error.message;
    if (field !== "spec" && !(top in schema.properties)) {
      message = `unknown field; known fields are ${Object.keys(schema.properties).join(", ")}`;
    } else if (fix(top)) {
      message = `${error.message}: ${fix(top)}`;
    }
    failures.push({ field, message });
  }
  return failures;
}

/** A list of names as a CEL list literal, for `x in [...]` rules. The names are the project's constants. */
export function celList(values: readonly string[]): string {
  return `[${values.map((v) => `'${v}'`).join(", ")}]`;
}
