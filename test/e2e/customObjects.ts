// Custom objects in a test cluster, through kubectl: apply, read, wait for their Ready condition. Shared by the
// controller's end-to-end tests of each kind.
import type { TestCluster } from "../harness/cluster";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The object's Ready condition, if it has one. */
export const ready = (obj: any) => obj?.status?.conditions?.find((c: any) => c.type === "Ready");

/** Polls `probe` until it returns something truthy; on timeout, fails with `tail()` (the controllers' logs). */
export async function eventually<T>(
  what: string,
  probe: () => T | Promise<T>,
  tail: () => string,
  timeoutMs = 30_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const last = await probe();
    if (last) return last as NonNullable<T>;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}; controller log tail:\n${tail()}`);
}

export interface CustomObjects {
  apply(name: string, spec: object, annotations?: Record<string, string>): void;
  get(name: string): any | undefined;
  /** Waits until the object is Ready with `reason` for its current generation. */
  untilReady(name: string, reason?: string): Promise<any>;
}

export function customObjects(cluster: TestCluster, kind: string, resource: string, namespace: string, tail: () => string): CustomObjects {
  const get = (name: string) => {
    try {
      return JSON.parse(cluster.kubectl(["get", resource, name, "-n", namespace, "-o", "json"]));
    } catch {
      return undefined;
    }
  };
  return {
    apply(name, spec, annotations) {
      const metadata = { name, namespace, ...(annotations ? { annotations } : {}) };
      cluster.kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "my.local/v1", kind, metadata, spec }));
    },
    get,
    untilReady: (name, reason = "Reconciled") =>
      eventually(
        `${kind} ${name} Ready/${reason}`,
        () => {
          const obj = get(name);
          const c = ready(obj);
          return c?.reason === reason && obj.status.observedGeneration === obj.metadata.generation ? obj : undefined;
        },
        tail,
      ),
  };
}
