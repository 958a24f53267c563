// WorkQueue: a keyed queue with bounded concurrency. A key is never processed twice at once (a change arriving
// meanwhile is processed after), and failed keys come back after exponential backoff with jitter.

/** What processing a key asks for next. */
export type Outcome =
  | { readonly kind: "done" }
  /** Transient failure: retry after the key's next backoff delay. */
  | { readonly kind: "retry" }
  /** Come back after a fixed delay (periodic checks, slow retries of permanent errors). */
  | { readonly kind: "requeueAfter"; readonly ms: number };

export interface QueueOptions {
  readonly concurrency: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Called with the depth whenever it changes (for metrics). */
  readonly onDepth?: (depth: number) => void;
  /** Called when the handler itself throws; the key is retried with backoff. */
  readonly onError?: (key: string, err: unknown) => void;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  /** Keys that changed while being processed: run again right after. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopping = false;
  private idle: (() => void) | undefined;

  constructor(
    private readonly handler: (key: string) => Promise<Outcome>,
    private readonly options: QueueOptions,
  ) {}

  /** Enqueues a key now. Idempotent while the key is waiting. */
  add(key: string): void {
    if (this.stopping) return;
    this.clearTimer(key);
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.reportDepth();
    this.pump();
  }

  /** Enqueues a key after a delay, unless something enqueues it sooner. */
  addAfter(key: string, ms: number): void {
    if (this.stopping) return;
    this.clearTimer(key);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, timer);
  }

  /** The next retry delay of a key: base * 2^failures, capped, with +-50% jitter so retries do not align. */
  backoff(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** n);
    return Math.round(delay * (0.5 + Math.random()));
  }

  /** Stops taking keys and resolves when the keys being processed are finished. Waiting keys are dropped. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const key of [...this.timers.keys()]) this.clearTimer(key);
    this.queue.length = 0;
    this.queued.clear();
    this.reportDepth();
    if (this.active.size === 0) return;
    await new Promise<void>((resolve) => (this.idle = resolve));
  }

  private pump(): void {
    while (!this.stopping && this.active.size < this.options.concurrency && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.active.add(key);
      this.reportDepth();
      void this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await this.handler(key);
    } catch (err) {
      this.options.onError?.(key, err);
      outcome = { kind: "retry" };
    }
    this.active.delete(key);
    if (outcome.kind === "done") this.failures.delete(key);
    if (this.dirty.delete(key)) {
      this.add(key);
    } else if (outcome.kind === "retry") {
      this.addAfter(key, this.backoff(key));
    } else if (outcome.kind === "requeueAfter") {
      this.addAfter(key, outcome.ms);
    }
    if (this.stopping && this.active.size === 0) this.idle?.();
    this.pump();
  }

  private clearTimer(key: string): void {
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
  }

  private reportDepth(): void {
    this.options.onDepth?.(this.queue.length);
  }
}
