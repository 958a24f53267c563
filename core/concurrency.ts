// Parallel operations on one server (the engine runs resources in parallel, the controller several reconciles at once)
// update shared catalog rows: one object's ACL, one owner's default privileges, a database's row. Those statements
// are serialised by a transaction-scoped advisory lock per database, and the races a lock cannot cover (two
// databases' transactions touching one shared row) are retried. See docs/adr/0016.
import { createHash } from "node:crypto";
import type { Client } from "pg";
import { withBackoff } from "./backoff";

/** The advisory lock class pg-kopf's locks use ("pgkf"), so they never collide with an application's own. */
const LOCK_CLASS = 0x70676b66;

/** A signed 32-bit key for a lock name. */
function lockKey(name: string): number {
  return createHash("sha256").update(name).digest().readInt32BE(0);
}

/**
 * Takes the lock on the privileges of the database `client` is connected to, until its transaction ends. Advisory
 * locks are per database, so this serialises pg-kopf's privilege changes (GRANT, REVOKE, ALTER DEFAULT PRIVILEGES,
 * REASSIGN OWNED, DROP OWNED) in that database, from every process of both engines. Call inside a transaction.
 */
export async function lockPrivileges(client: Client): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock($1::int, $2::int)", [LOCK_CLASS, lockKey("privileges")]);
}

/** Whether an error is a race with a concurrent transaction, which running the same transaction again resolves. */
export function isConcurrencyFailure(err: unknown): boolean {
  type Failure = { code?: unknown; sqlstate?: unknown; message?: unknown; constraint?: unknown; cause?: unknown };
  for (let e = err as Failure | undefined; e; e = e.cause as typeof e) {
    const code = typeof e.sqlstate === "string" ? e.sqlstate : typeof e.code === "string" ? e.code : undefined;
    if (code === "40001" || code === "40P01") return true;
    // Two transactions inserting one catalog row (the same GRANT of a role, by removals that each give the admin
    // their reassignOwnedTo heir): Postgres checks, then inserts, and the later fails on the catalog's unique index.
    if (code === "23505" && typeof e.constraint === "string" && e.constraint.startsWith("pg_")) return true;
    if (typeof e.message === "string" && /tuple concurrently (updated|deleted)/.test(e.message)) return true;
  }
  return false;
}

/** How many times a transaction that lost a race runs in all. */
export const CONCURRENCY_ATTEMPTS = 8;

/**
 * Runs `fn` (a whole transaction: it must be safe to run again after a rollback) and runs it again, after a jittered
 * backoff, when it lost a race (isConcurrencyFailure), up to CONCURRENCY_ATTEMPTS times. Other errors pass at once.
 */
export function retryingRaces<T>(fn: () => Promise<T>): Promise<T> {
  return withBackoff(fn, {
    again: (err, attempt) => attempt < CONCURRENCY_ATTEMPTS && isConcurrencyFailure(err),
    firstMs: 25,
    maxMs: 1000,
  });
}
