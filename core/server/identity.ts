// Which Postgres a connection reaches, as the server reports itself rather than as its address is spelled: two
// server entries (localhost and 127.0.0.1, a DNS alias, a second load balancer name) that reach one Postgres are one
// server, and managing it through both would let one entry's resources take what the other's made.
import type { Client } from "pg";
import { withClient, type ConnectionSettings } from "../connect";
import { classifyError } from "../errors";

/**
 * A running Postgres: the cluster's system identifier (fixed at initdb; a replica and a restored copy share it),
 * the port it listens on, and when its postmaster started (which tells a clone or a replica apart from the
 * original). All three are readable by any role.
 */
export interface ServerIdentity {
  readonly systemIdentifier: string;
  readonly port: number;
  /** pg_postmaster_start_time() as seconds since the epoch, to the microsecond. */
  readonly startedAt: string;
}

/** The identity of the Postgres `client` is connected to. Throws a typed PgKopfError. */
export async function observeIdentityWith(client: Client): Promise<ServerIdentity> {
  try {
    const { rows } = await client.query<{ system_identifier: string; port: number; started_at: string }>(
      `SELECT (SELECT system_identifier FROM pg_control_system())::text AS system_identifier,
              current_setting('port')::int AS port,
              extract(epoch FROM pg_postmaster_start_time())::text AS started_at`,
    );
    const r = rows[0];
    return { systemIdentifier: r.system_identifier, port: r.port, startedAt: r.started_at };
  } catch (err) {
    throw classifyError(err);
  }
}

/** The identity of the Postgres `settings` reach, on a connection of their own (or of their pool). */
export function observeIdentity(settings: ConnectionSettings): Promise<ServerIdentity> {
  return withClient(settings, undefined, observeIdentityWith);
}

/** Whether two identities are one running Postgres. */
export function sameServer(a: ServerIdentity, b: ServerIdentity): boolean {
  return a.systemIdentifier === b.systemIdentifier && a.port === b.port && a.startedAt === b.startedAt;
}

/** An identity as messages name it. */
export function describeIdentity(i: ServerIdentity): string {
  const started = new Date(Number(i.startedAt) * 1000).toISOString();
  return `system identifier ${i.systemIdentifier}, port ${i.port}, up since ${started}`;
}

/** A server that another one already is: which entry, spelled how, is the same Postgres as which other. */
export interface Alias<T> {
  readonly entry: T;
  readonly same: T;
  readonly identity: ServerIdentity;
}

/**
 * The entries that reach a Postgres an earlier entry reaches, each with the first entry it repeats. Entries whose
 * identity is unknown (unreachable) are compared with nothing. Pure; the order given decides which is "first".
 */
export function aliases<T>(entries: readonly { entry: T; identity?: ServerIdentity }[]): Alias<T>[] {
  const found: Alias<T>[] = [];
  const seen: { entry: T; identity: ServerIdentity }[] = [];
  for (const { entry, identity } of entries) {
    if (!identity) continue;
    const first = seen.find((s) => sameServer(s.identity, identity));
    if (first) found.push({ entry, same: first.entry, identity });
    else seen.push({ entry, identity });
  }
  return found;
}
