// The controller's HTTP client for the Kubernetes API: JSON requests and watch streams over one keep-alive
// connection pool, with the target's TLS and credentials. Only what the controller uses (see docs/adr/0011).
import { request as httpRequest, type IncomingMessage } from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import { createInterface } from "node:readline";
import type { KubeTarget } from "./config";

/** An API error: the HTTP status as `code` (404, 409, 422...) and the server's Status message. */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string | undefined,
    message: string,
    /** The server's Retry-After, in milliseconds (429, 503). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "KubeApiError";
  }
}

/** The API's answers the controller acts on, by the HTTP status that says them. */
const API_STATUS = {
  /** The object (or its namespace) is not there. */
  notFound: 404,
  /** It changed since it was read (a resourceVersion precondition), or one of that name exists. */
  conflict: 409,
  /** A watch's resourceVersion is too old; list again. */
  gone: 410,
  /** The object is invalid (a schema or CEL rule; a finalizer on an object being deleted). */
  invalid: 422,
  /** RBAC, a quota or an admission webhook refused it. */
  forbidden: 403,
  /** The API server asks to slow down (priority and fairness, a rate limit). */
  tooManyRequests: 429,
} as const;

/** Whether `err` is an API error of that kind. */
export const apiError = (err: unknown, kind: keyof typeof API_STATUS): boolean =>
  err instanceof KubeApiError && err.code === API_STATUS[kind];

/** A request the API server answered 429 is sent again after its Retry-After (capped), this many times at most. */
const THROTTLED_ATTEMPTS = 5;
const RETRY_AFTER_CAP_MS = 10_000;
/** Without a Retry-After header: what client-go waits. */
const RETRY_AFTER_DEFAULT_MS = 1_000;

export type PatchType = "json" | "merge";
const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  json: "application/json-patch+json",
  merge: "application/merge-patch+json",
};

export interface WatchEvent<T> {
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  readonly object: T;
}

/** A request that got no answer in this time failed (the watch has its own, longer, server-side timeout). */
const REQUEST_TIMEOUT_MS = 30_000;

export class KubeClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(private readonly target: KubeTarget) {
    this.url = new URL(target.server);
    // One pool for every request; a watch holds one socket for its lifetime, the rest are reused.
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: 32,
      ca: target.ca,
      cert: target.cert,
      key: target.key,
      rejectUnauthorized: !target.insecureSkipTlsVerify,
      servername: target.tlsServerName,
    });
  }

  get<T>(path: string): Promise<T> {
    return this.json("GET", path);
  }

  create<T>(path: string, body: unknown): Promise<T> {
    return this.json("POST", path, body);
  }

  replace<T>(path: string, body: unknown): Promise<T> {
    return this.json("PUT", path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.json("DELETE", path);
  }

  patch<T>(path: string, body: unknown, type: PatchType): Promise<T> {
    return this.json("PATCH", path, body, PATCH_CONTENT_TYPE[type]);
  }

  /**
   * Streams a watch: calls `onEvent` for each event until the server ends the stream (its timeoutSeconds) or
   * `signal` aborts. Resolves when the stream ends, rejects on a failed request or a broken connection, and on
   * `silenceMs` without a byte (a connection that died without closing; 0: never).
   */
  async watch<T>(path: string, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal, silenceMs = 0): Promise<void> {
    const res = await this.send("GET", path, undefined, undefined, signal, 0);
    if (res.statusCode !== 200) throw await errorOf(res, "GET", path);
    let silence: NodeJS.Timeout | undefined;
    const listen = () => {
      clearTimeout(silence);
      if (silenceMs > 0)
        silence = setTimeout(
          () => res.destroy(new Error(`watch ${path}: nothing received in ${silenceMs} ms; the connection is gone`)),
          silenceMs,
        );
    };
    listen();
    res.on("data", listen);
    const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const line of lines) if (line) onEvent(JSON.parse(line) as WatchEvent<T>);
    } finally {
      clearTimeout(silence);
      lines.close();
      res.destroy();
    }
    if (!res.complete && !signal.aborted) throw new Error(`watch ${path}: connection closed mid-stream`);
  }

  /** Closes the pooled connections. */
  close(): void {
    this.agent.destroy();
  }

  private async json<T>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      const res = await this.send(method, path, payload, contentType, undefined, REQUEST_TIMEOUT_MS);
      if (res.statusCode !== undefined && res.statusCode < 300) return JSON.parse(await text(res)) as T;
      const err = await errorOf(res, method, path);
      // Throttled: the server said when to come back. The request changed nothing, so sending it again is safe.
      if (!apiError(err, "tooManyRequests") || attempt >= THROTTLED_ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, Math.min(err.retryAfterMs ?? RETRY_AFTER_DEFAULT_MS, RETRY_AFTER_CAP_MS)));
    }
  }

  private send(
    method: string,
    path: string,
    body: string | undefined,
    contentType: string | undefined,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<IncomingMessage> {
    const headers: Record<string, string> = { Accept: "application/json", "User-Agent": "pg-kopf-controller" };
    const authorization = this.target.authorization();
    if (authorization) headers.Authorization = authorization;
    if (body !== undefined) {
      headers["Content-Type"] = contentType ?? "application/json";
      headers["Content-Length"] = String(Buffer.byteLength(body));
    }
    const options = {
      method,
      host: this.url.hostname.replace(/^\[|\]$/g, ""),
      port: this.url.port || (this.url.protocol === "https:" ? 443 : 80),
      path: `${this.url.pathname.replace(/\/$/, "")}${path}`,
      headers,
      signal,
    };
    return new Promise((resolve, reject) => {
      const req = this.url.protocol === "https:" ? httpsRequest({ ...options, agent: this.agent }, resolve) : httpRequest(options, resolve);
      req.on("error", reject);
      if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
      req.end(body);
    });
  }
}

async function text(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function errorOf(res: IncomingMessage, method: string, path: string): Promise<KubeApiError> {
  const code = res.statusCode ?? 0;
  const body = await text(res).catch(() => "");
  let status: { message?: string; reason?: string } = {};
  try {
    status = JSON.parse(body);
  } catch {
    // Not a Status object (a proxy's page, an empty body): the HTTP status says enough.
  }
  // Retry-After in seconds (the API server's form); an HTTP date is taken as "soon".
  const retryAfter = Number(res.headers["retry-after"]);
  const retryAfterMs = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined;
  const message = `${method} ${path}: ${code} ${status.message ?? (body.slice(0, 200) || res.statusMessage)}`;
  return new KubeApiError(code, status.reason, message, retryAfterMs);
}
