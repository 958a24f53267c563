import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { apiError, KubeApiError, KubeClient } from "./client";

// A server that answers a watch with one event and then keeps the connection open without a byte more, and a
// missing object with a Status, as the API server does.
let throttled = 0;
const server = createServer((req, res) => {
  // Throttled twice (Retry-After: 1), then answered; /throttled/always never answers otherwise.
  if (req.url?.startsWith("/throttled")) {
    throttled++;
    if (req.url === "/throttled/always" || throttled <= 2) {
      res.writeHead(429, { "Content-Type": "application/json", "Retry-After": req.url === "/throttled/always" ? "0" : "1" });
      res.end(JSON.stringify({ kind: "Status", reason: "TooManyRequests", message: "too many requests", code: 429 }));
      return;
    }
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ ok: true, after: throttled }));
    return;
  }
  if (req.url?.startsWith("/missing")) {
    res.writeHead(404, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ kind: "Status", reason: "NotFound", message: 'pgdatabases "x" not found', code: 404 }));
    return;
  }
  res.writeHead(200, { "Content-Type": "application/json" });
  res.write(`${JSON.stringify({ type: "ADDED", object: { metadata: { name: "a", resourceVersion: "1" } } })}\n`);
});
let client: KubeClient;

before(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  client = new KubeClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, authorization: () => undefined });
});
after(() => {
  // Also after a timed-out test: the silent connection must not keep the process alive.
  client.close();
  server.closeAllConnections();
  server.close();
});

// Regression: a watch whose connection died without closing (no FIN, no RST) hung the informer forever.
test("a watch that goes silent past its limit fails, after delivering what came", { timeout: 10_000 }, async () => {
  const seen: string[] = [];
  const started = Date.now();
  await assert.rejects(
    client.watch<{ metadata: { name: string } }>("/watch", (e) => seen.push(e.object.metadata.name), new AbortController().signal, 300),
    /watch \/watch: nothing received in 300 ms; the connection is gone/,
  );
  assert.deepEqual(seen, ["a"]);
  assert.ok(Date.now() - started < 5000);
});

test("API errors carry the HTTP status and the server's message", async () => {
  await assert.rejects(
    client.get("/missing/x"),
    (err: KubeApiError) =>
      err instanceof KubeApiError && err.code === 404 && /GET \/missing\/x: 404 pgdatabases "x" not found/.test(err.message),
  );
});

test("errors are typed by status", async () => {
  const err = await client.get("/missing/y").catch((e: unknown) => e);
  assert.ok(apiError(err, "notFound"));
  assert.ok(!apiError(err, "conflict") && !apiError(err, "tooManyRequests"));
  assert.ok(!apiError(new Error("ECONNREFUSED"), "notFound"));
});

test("a throttled request (429) is sent again after the server's Retry-After, and succeeds", async () => {
  throttled = 0;
  const started = Date.now();
  assert.deepEqual(await client.get("/throttled/once"), { ok: true, after: 3 });
  assert.ok(Date.now() - started >= 1900, `waited ${Date.now() - started} ms for two Retry-After: 1`);
});

test("a request throttled on every attempt fails with the 429, after a bounded number of tries", async () => {
  throttled = 0;
  const err = await client.get("/throttled/always").catch((e: unknown) => e);
  assert.ok(apiError(err, "tooManyRequests"), String(err));
  assert.equal((err as KubeApiError).retryAfterMs, 0);
  assert.equal(throttled, 5);
});
