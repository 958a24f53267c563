// Objects whose last reconcile found their server not answering (down, restarting, unreachable), by server: while any
// wait, the server is probed every interval, and as soon as it answers they are all brought back at once, instead of
// each at its own growing backoff (which after a minute's outage reached tens of seconds).

export interface ServerWaitersOptions {
  /** Whether `server` answers now. Never waits longer than a connection attempt. */
  readonly probe: (server: string) => Promise<boolean>;
  /** Brings a waiting object back (the queue's add). */
  readonly wake: (key: string) => void;
  readonly intervalMs: number;
}

export class ServerWaiters {
  private readonly waiting = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: ServerWaitersOptions) {}

  /** Records that `key` waits for `server` to answer. */
  wait(server: string, key: string): void {
    if (this.stopped) return;
    const keys = this.waiting.get(server) ?? new Set<string>();
    keys.add(key);
    this.waiting.set(server, keys);
    this.schedule();
  }

  /** How many objects wait, over all servers. */
  get size(): number {
    let n = 0;
    for (const keys of this.waiting.values()) n += keys.size;
    return n;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.waiting.clear();
  }

  private schedule(): void {
    if (this.timer || this.stopped || this.waiting.size === 0) return;
    this.timer = setTimeout(() => void this.probeAll(), this.options.intervalMs);
    this.timer.unref();
  }

  private async probeAll(): Promise<void> {
    await Promise.all(
      [...this.waiting.keys()].map(async (server) => {
        if (!(await this.options.probe(server).catch(() => false))) return;
        const keys = this.waiting.get(server) ?? new Set<string>();
        this.waiting.delete(server);
        for (const key of keys) this.options.wake(key);
      }),
    );
    this.timer = undefined;
    this.schedule();
  }
}
