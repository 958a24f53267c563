// Leader election on a coordination.k8s.io Lease, so that of several controller processes only one acts. The
// lease is taken and renewed with optimistic concurrency (resourceVersion); expiry is judged by our own clock
// since we last saw the lease change, so skewed clocks between nodes do not matter.
import { apiError, type KubeClient } from "../kube/client";

/** The fields of a coordination.k8s.io/v1 Lease the election reads and writes. */
interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** Now as a MicroTime: RFC 3339 with exactly six fractional digits, as the API server expects. */
function microTime(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export interface LeaderOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  readonly renewIntervalMs: number;
  readonly retryIntervalMs: number;
  readonly log: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private observed: { holder?: string; renewTime?: string; at: number } = { at: 0 };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly o: LeaderOptions,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Runs the election until stop(): calls onStarted when this process becomes leader and onStopped when it loses
   * the lease (renewal failed past the lease duration). Never throws; API errors are retried.
   */
  run(onStarted: () => void, onStopped: () => void): void {
    const loop = async () => {
      if (this.stopped) return;
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, "lease update failed");
      }
      if (ok && !this.leading) {
        this.leading = true;
        this.o.log.info({ identity: this.o.identity }, "became leader");
        onStarted();
      } else if (!ok && this.leading && Date.now() - this.observed.at > (this.o.leaseDurationSeconds * 1000 * 2) / 3) {
        // Step down at 2/3 of the lease (client-go's renew deadline), before a standby may take over.
        this.leading = false;
        this.o.log.warn({ identity: this.o.identity }, "lost leadership");
        onStopped();
      }
      if (!this.stopped) this.timer = setTimeout(loop, this.leading ? this.o.renewIntervalMs : this.o.retryIntervalMs);
    };
    void loop();
  }

  /** Stops campaigning and, if leading, releases the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.client.get<Lease>(this.path());
      if (lease.spec?.holderIdentity === this.o.identity) {
        lease.spec = { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: microTime() };
        await this.client.replace(this.path(), lease);
      }
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, "could not release the lease");
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationSeconds } = this.o;
    const now = microTime();
    let lease: Lease;
    try {
      lease = await this.client.get<Lease>(this.path());
    } catch (err) {
      if (!apiError(err, "notFound")) throw err;
      await this.client.create(this.path(false), {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace },
        spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
      } satisfies Lease);
      this.observed = { holder: identity, renewTime: now, at: Date.now() };
      return true;
    }
    const spec = lease.spec ?? {};
    const renewTime = spec.renewTime;
    if (spec.holderIdentity !== this.observed.holder || renewTime !== this.observed.renewTime) {
      this.observed = { holder: spec.holderIdentity, renewTime, at: Date.now() };
    }
    const heldByOther = !!spec.holderIdentity && spec.holderIdentity !== identity;
    const duration = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    if (heldByOther && Date.now() - this.observed.at < duration) return false;
    const taking = spec.holderIdentity !== identity;
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: now,
      ...(taking ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
    };
    // replace carries the resourceVersion we read: if someone else wrote meanwhile, this fails with 409.
    await this.client.replace(this.path(), lease);
    this.observed = { holder: identity, renewTime: now, at: Date.now() };
    return true;
  }

  /** The lease's path, or its collection's. */
  private path(named = true): string {
    const collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.o.namespace)}/leases`;
    return named ? `${collection}/${encodeURIComponent(this.o.name)}` : collection;
  }
}
