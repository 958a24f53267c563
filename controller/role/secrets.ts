// The controller's reads and writes of credentials Secrets, and the watch that brings a PgRole back when its Secret
// is deleted or edited. Only Secrets labelled as pg-kopf's are watched, and the cache keeps their metadata only: no
// password stays in the controller's memory beyond the reconcile that needs it.
import { apiError, type KubeClient } from "../kube/client";
import { Informer } from "../kube/informer";
import { MANAGED_BY_SELECTOR, ownerName, type SecretObject } from "./credentials";

const secretsPath = (namespace?: string) => (namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets` : "/api/v1/secrets");

export class SecretApi {
  constructor(private readonly client: KubeClient) {}

  /** The Secret, or undefined when there is none. Throws KubeApiError otherwise (403: not ours to read). */
  async get(namespace: string, name: string): Promise<SecretObject | undefined> {
    try {
      return await this.client.get<SecretObject>(`${secretsPath(namespace)}/${encodeURIComponent(name)}`);
    } catch (err) {
      if (apiError(err, "notFound")) return undefined;
      throw err;
    }
  }

  /** Creates it; 409 when one of that name appeared meanwhile. */
  create(secret: SecretObject): Promise<SecretObject> {
    return this.client.create<SecretObject>(secretsPath(secret.metadata.namespace), secret);
  }

  /** Deletes it; nothing when it is already gone. */
  async delete(namespace: string, name: string): Promise<void> {
    try {
      await this.client.delete(`${secretsPath(namespace)}/${encodeURIComponent(name)}`);
    } catch (err) {
      if (!apiError(err, "notFound")) throw err;
    }
  }

  /** Replaces it, with its resourceVersion as the precondition: 409 when it changed since it was read. */
  replace(secret: SecretObject): Promise<SecretObject> {
    return this.client.replace<SecretObject>(
      `${secretsPath(secret.metadata.namespace)}/${encodeURIComponent(secret.metadata.name)}`,
      secret,
    );
  }
}

/** Where PgRoles may have credentials Secrets: every namespace, or the listed ones (ROLE_NAMESPACES). */
export type SecretNamespaces = "all" | readonly string[];

export function secretsAllowed(namespaces: SecretNamespaces, namespace: string): boolean {
  return namespaces === "all" || namespaces.includes(namespace);
}

/**
 * Follows pg-kopf's Secrets in the allowed namespaces (one watch for all, or one per namespace) and reports the
 * owning PgRole's cache key (namespace/name) of each one added, changed or deleted.
 */
export class SecretWatcher {
  private readonly informers: Informer<SecretObject>[];

  constructor(
    client: KubeClient,
    namespaces: SecretNamespaces,
    onOwner: (key: string) => void,
    onError: (err: unknown, retryInMs: number) => void,
  ) {
    const report = (secret: SecretObject) => {
      const owner = ownerName(secret);
      if (owner !== undefined) onOwner(`${secret.metadata.namespace}/${owner}`);
    };
    const handlers = { onAdd: report, onUpdate: report, onDelete: report, onError };
    // Only what identifies the Secret and its owner is kept.
    const transform = (s: SecretObject): SecretObject => ({ metadata: s.metadata });
    this.informers = (namespaces === "all" ? [undefined] : namespaces).map(
      (ns) => new Informer<SecretObject>(client, secretsPath(ns), handlers, { labelSelector: MANAGED_BY_SELECTOR, transform }),
    );
  }

  start(): void {
    for (const informer of this.informers) informer.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}
