// Running an operation again, after a jittered pause that doubles each time, while its failure is one that passes.
// One loop for the retries of busy servers (core/connect) and of lost races (core/concurrency).

export interface Backoff {
  /** Whether the failure of attempt number `attempt` (from 1) is worth another run. */
  readonly again: (err: unknown, attempt: number) => boolean;
  /** The pause after attempt n is drawn from [p/2, p], p = min(maxMs, firstMs * 2^n). */
  readonly firstMs: number;
  readonly maxMs: number;
  /** No pause reaches past this time (ms since the epoch); `again` decides whether one is taken at all. */
  readonly deadline?: number;
}

/** Runs `fn`, and again after a pause while `again` says so; the last failure is thrown as it came. */
export async function withBackoff<T>(fn: () => Promise<T>, b: Backoff): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!b.again(err, attempt)) throw err;
      const ceiling = Math.min(b.maxMs, b.firstMs * 2 ** attempt);
      // A failure that says how long it lasts (PgKopfError.retryAfterMs) is waited out, up to the longest pause.
      const hint = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
      const pause = typeof hint === "number" ? Math.min(b.maxMs, hint) : ceiling / 2 + Math.random() * (ceiling / 2);
      await new Promise((r) => setTimeout(r, b.deadline === undefined ? pause : Math.min(pause, Math.max(0, b.deadline - Date.now()))));
    }
  }
}
