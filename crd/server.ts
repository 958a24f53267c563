// The field that puts a PgDatabase or PgRole on a server (spec.server, naming a PgServer), shared by both kinds'
// CRDs and parses: its schema, its immutability rule, and how it is split off the spec the core validates.
import { Type } from "@sinclair/typebox";
import type { FieldFailure } from "../core/errors";
import { schemaFailures } from "../core/schema";
import { DEFAULT_SERVER } from "../core/connect";

export { DEFAULT_SERVER };

export const SERVER_FIELD = {
  server: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
      description: `The PgServer the object lives on (default "${DEFAULT_SERVER}": the controller's own connection). A name is unique per server. Immutable.`,
    }),
  ),
};

/** The CEL rule that keeps an object on its server: moving would leave the database or role behind, unmanaged. */
export const SERVER_IMMUTABLE_RULE = {
  rule: `(has(self.server) ? self.server : '${DEFAULT_SERVER}') == (has(oldSelf.server) ? oldSelf.server : '${DEFAULT_SERVER}')`,
  message:
    "spec.server is immutable: the database or role stays on the server it was made on. Create a new object on the other server and move the data.",
};

const ServerSchema = Type.Object(SERVER_FIELD, { additionalProperties: false });

/**
 * The spec without `server`, the server it names (default when absent), and what is wrong with the name (a failure
 * naming spec field server). Pure.
 */
export function splitServer(input: Record<string, unknown> | undefined): {
  server: string;
  rest: Record<string, unknown>;
  failures: FieldFailure[];
} {
  const { server, ...rest } = input ?? {};
  const failures = server === undefined ? [] : schemaFailures(ServerSchema, { server }, () => "name a PgServer (kubectl get pgservers)");
  return { server: serverOf(input), rest, failures };
}

/** The server a spec names, unvalidated (default when absent): for matching objects to servers. Pure. */
export function serverOf(input: Record<string, unknown> | undefined): string {
  return typeof input?.server === "string" ? input.server : DEFAULT_SERVER;
}
