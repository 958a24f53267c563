// The property bags the engine hands the provider, and what every resource's handlers read from them the same way:
// spec fields, the manager, how errors leave, how an unplanned preview is marked.
import * as pulumi from "@pulumi/pulumi";
import * as core from "../core";
import { adminConnection, type ConfigSource, DEFAULT_SERVER } from "./config";
import { isDeclared } from "./role/declared";

/** The resource's properties as the engine passes them around: the spec, the manager, and outputs. */
export type Props = Record<string, unknown>;

/** How a plan that could not be made at preview time (Postgres unreachable) is shown; up then plans afresh. */
export const NOT_PLANNED = "-- not planned: ";

/** Keys every resource adds to its inputs (the engine's, the manager, outputs, the plan, the server and its conflict). */
const RESOURCE_KEYS = ["__provider", "manager", "oid", "plannedSql", "server", "serverConflict"];

/**
 * The user's part of a resource's inputs, to be validated as its spec: everything but the keys the resource adds
 * (RESOURCE_KEYS and the kind's own `extra`), and unset values.
 */
export function userInputs(props: Props, extra: readonly string[] = []): Record<string, unknown> {
  const added = new Set([...RESOURCE_KEYS, ...extra]);
  return Object.fromEntries(Object.entries(props).filter(([k, v]) => !added.has(k) && v !== undefined && v !== null));
}

/** The fields of a spec schema present in a property bag (engine keys, outputs and secrets dropped). */
export function fieldsOf(schema: { properties: object }, props: Props): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    if (props[key] !== undefined && props[key] !== null) out[key] = props[key];
  }
  return out;
}

/**
 * The manager stamped on what the resource creates, as a stamp of its server entry; the resource class always sets
 * it. A state recorded before stamps named their entry gets the entry's name here, so that its deletion drops only
 * what carries the entry's stamp.
 */
export function managerOf(props: Props, resource: string): string {
  if (typeof props.manager !== "string" || props.manager === "") {
    throw new core.InvalidSpec([{ field: "manager", message: `missing; the ${resource} resource sets it to the stack's identity` }]);
  }
  return core.entryManager(props.manager, serverOf(props));
}

/**
 * Who the resource is, for the ownership rule: its manager and, when its state recorded another one (a stamp from
 * before stamps named their entry, a renamed stack), that one with the oid of what it made, as formerly its own.
 */
export function ownershipOf(props: Props, resource: string, recorded?: Props): core.OwnershipContext {
  const manager = managerOf(props, resource);
  const former = recorded?.manager;
  if (typeof former !== "string" || former === manager || typeof recorded?.oid !== "number") return { manager };
  return { manager, formerly: { manager: former, oid: recorded.oid } };
}

/** Errors leave the provider with the failing field and reason in the message, never with connection secrets. */
export function rethrow(err: unknown): never {
  const e = inPulumiWords(core.classifyError(err));
  throw new Error(`${e.reason}: ${e.message}`);
}

/** A failure with the remedy a Pulumi user applies, where the core's is the engines' common one. */
function inPulumiWords(e: core.PgKopfError): core.PgKopfError {
  if (!(e instanceof core.RoleMissing)) return e;
  const field = e.field === "access" ? "{ role: role.name } in access" : `${e.field}: role.name`;
  return e.withRemedy(
    `if a PgRole of this program creates it, pass that PgRole's name output (${field}) so that Pulumi creates the role first; otherwise create the role, or remove it from ${e.field}`,
  );
}

/**
 * Runs a deletion, and lets the resource go without dropping anything when the ownership rule says what exists is
 * not its own (another manager took it over, or its stamp could be another entry's): the engine then removes the
 * resource from the state, the database or role stays, and a warning says so. Any other failure fails the delete.
 */
export async function removeOrLeave(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const e = core.classifyError(err);
    if (!(e instanceof core.NotOwned)) rethrow(e);
    pulumi.log.warn(`${e.reason}: ${e.message} The resource leaves the stack.`);
  }
}

/** Spec failures in the words of Pulumi's check: one entry per top-level property. */
export function checkFailures(failures: readonly core.FieldFailure[]): { property: string; reason: string }[] {
  return failures.map((f) => ({ property: f.field.split(".")[0], reason: `${f.field}: ${f.message}` }));
}

/**
 * Connections a provider process keeps open for the engine's calls during one deployment: the engine calls check,
 * read and diff for many resources at once, and each call opening its own connection (TCP, TLS, SCRAM, a backend)
 * added 0.1-0.4 s to up, preview and destroy of 50 databases (npm run bench:controller, Pulumi part).
 */
const PROVIDER_POOL = 4;

/** The admin connection from stack config (configure) or, when the engine never called configure, PG* variables. */
export function providerConnection(config: ConfigSource | undefined, env: NodeJS.ProcessEnv): core.ConnectionSettings {
  const settings = adminConnection(config ?? { get: () => undefined }, env);
  return core.withPool(core.withBusyRetry(settings, PROVIDER_BUSY_RETRY_SECONDS), PROVIDER_POOL);
}

/**
 * How long the provider waits for a server that refuses connections for now (too many connections, starting up or
 * shutting down) before failing the resource: the engine does not retry a failed create.
 */
export const PROVIDER_BUSY_RETRY_SECONDS = 60;

/**
 * What check shows when planning failed: a refusal the plan made (InvalidSpec, NotOwned) fails check, naming the
 * field; a passing condition (Postgres unreachable) previews as not planned; anything else (a wrong CA, password or
 * sslmode will not fix itself by the time up runs) fails the preview, naming it.
 */
export function unplanned(err: unknown, props?: Props): { failures: { property: string; reason: string }[] } | { plannedSql: string[] } {
  const e = core.classifyError(err);
  if (e instanceof core.InvalidSpec) return { failures: checkFailures(e.failures) };
  if (e instanceof core.NotOwned) return { failures: [{ property: "name", reason: `name: ${e.message}` }] };
  if (e instanceof core.RoleMissing) {
    // Declared by a PgRole this resource depends on: created before this one's create plans again. Otherwise
    // nothing creates it in time, and up would fail (or leave a database half made): the preview fails now.
    const server = serverOf(props);
    if (!e.roles.every((r) => isDeclared(server, r))) return { failures: [{ property: e.field, reason: inPulumiWords(e).message }] };
    return {
      plannedSql: [
        `${NOT_PLANNED}${e.field}: role ${e.roles.map((r) => `"${r}"`).join(", ")} is declared by a PgRole of this program and created first; planned at up`,
      ],
    };
  }
  if (!e.transient) throw new Error(`${e.reason}: ${e.message}`);
  return { plannedSql: [`${NOT_PLANNED}${e.reason}: ${e.message}`] };
}

/**
 * Refuses, at preview, an admin that lacks what managing `kind` takes (CREATEDB, CREATEROLE): one message naming all
 * of it and the statement that grants it, before any statement runs.
 */
export function requireAdmin(settings: core.ConnectionSettings, admin: core.AdminView, kind: "databases" | "roles"): void {
  const short = core.adminShortfall(admin.facts, kind, core.serverWhere(settings));
  if (short) throw short;
}

/** The server a property bag names (absent: the default server). */
export function serverOf(props: Props | undefined): string {
  return typeof props?.server === "string" ? props.server : DEFAULT_SERVER;
}

/**
 * A resource stays on its server: moving it would leave the old one behind and create another, empty, elsewhere.
 * The failure check returns for a changed server, or undefined.
 */
export function serverChange(olds: Props | undefined, news: Props): { property: string; reason: string } | undefined {
  if (!olds || typeof olds.name !== "string" || serverOf(olds) === serverOf(news)) return undefined;
  return {
    property: "server",
    reason: `server: cannot change from "${serverOf(olds)}" to "${serverOf(news)}": it would stay there and another would be made here. Declare a new resource for the other server, and move the data yourself.`,
  };
}

/**
 * The failure check returns when the program found the resource's server to be one Postgres with another entry
 * (provider/distinctServers), or undefined.
 */
export function serverConflictOf(news: Props): { property: string; reason: string } | undefined {
  return typeof news.serverConflict === "string" ? { property: "server", reason: `server: ${news.serverConflict}` } : undefined;
}

/** The server key of a property bag, carried into inputs and outputs as given (absent for the default server). */
export function serverKey(props: Props): { server?: string } {
  return typeof props.server === "string" ? { server: props.server } : {};
}

/** The mark of a notice in plannedSql: a line for the reviewer, not a statement. */
export const NOTICE = "-- note: ";

/**
 * The notice that the object the state records (by oid) is no longer in Postgres, or undefined. It also makes the
 * plan new work: the re-creating statements alone can be the very ones recorded as run at creation.
 */
export function goneNotice(olds: Props | undefined, observed: { oid: number } | undefined, what: string, then: string): string | undefined {
  if (observed || typeof olds?.oid !== "number") return undefined;
  return `${NOTICE}${what} (oid ${olds.oid}) is gone from Postgres, dropped out of band; ${then}`;
}

/** The statements check planned (notices left out), or undefined when it could not plan (up then plans afresh). */
export function plannedStatements(props: Props): string[] | undefined {
  const planned = props.plannedSql;
  if (!Array.isArray(planned) || planned.some((s) => String(s).startsWith(NOT_PLANNED))) return undefined;
  return planned.map(String).filter((s) => !s.startsWith(NOTICE));
}

/**
 * Whether the new plan has statements that have not already run. A refresh gives back the statements last run
 * (see read), which are no new work; drift in a field the spec sets shows in the refreshed outputs themselves.
 */
export function hasPlannedWork(olds: Props, news: Props): boolean {
  const planned = Array.isArray(news.plannedSql) ? news.plannedSql.map(String).filter((s) => !s.startsWith(NOT_PLANNED)) : [];
  return planned.length > 0 && JSON.stringify(planned) !== JSON.stringify(olds.plannedSql);
}

/** A settings map the state recorded (config, or one role's entry of roleConfig), or undefined when none is. */
export function recordedSettings(value: unknown): core.Settings | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as core.Settings) : undefined;
}
