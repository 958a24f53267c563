import { test } from "node:test";
import assert from "node:assert/strict";
import { WorkQueue, type Outcome } from "./queue";

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

test("never processes one key twice at once; a change during processing runs it again after", async () => {
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  const q = new WorkQueue(
    async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs++;
      await tick(20);
      running--;
      return { kind: "done" };
    },
    { concurrency: 4, baseDelayMs: 10, maxDelayMs: 100 },
  );
  q.add("a");
  await tick();
  q.add("a");
  q.add("a");
  await tick(80);
  assert.equal(maxRunning, 1);
  assert.equal(runs, 2, "one run, then one more for the changes that arrived meanwhile");
});

test("runs at most `concurrency` keys at a time", async () => {
  let running = 0;
  let maxRunning = 0;
  const q = new WorkQueue(
    async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await tick(10);
      running--;
      return { kind: "done" };
    },
    { concurrency: 3, baseDelayMs: 10, maxDelayMs: 100 },
  );
  for (let i = 0; i < 20; i++) q.add(`k${i}`);
  await tick(150);
  assert.equal(maxRunning, 3);
});

test("backoff doubles per failure, is capped, and is jittered", () => {
  const q = new WorkQueue(async () => ({ kind: "done" }), { concurrency: 1, baseDelayMs: 100, maxDelayMs: 1000 });
  const delays = Array.from({ length: 6 }, () => q.backoff("k"));
  const bounds = [100, 200, 400, 800, 1000, 1000];
  for (const [i, d] of delays.entries()) assert.ok(d >= bounds[i] * 0.5 && d <= bounds[i] * 1.5, `retry ${i}: ${d}`);
});

test("retries a failing key with growing delays and stops when it succeeds", async () => {
  const times: number[] = [];
  let calls = 0;
  const q = new WorkQueue(
    async (): Promise<Outcome> => {
      times.push(Date.now());
      return ++calls < 4 ? { kind: "retry" } : { kind: "done" };
    },
    { concurrency: 1, baseDelayMs: 20, maxDelayMs: 1000 },
  );
  q.add("k");
  await tick(600);
  assert.equal(calls, 4);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  assert.ok(gaps[2] > gaps[0], `gaps grow: ${gaps}`);
});

test("a handler that throws is retried, not lost", async () => {
  let calls = 0;
  const errors: unknown[] = [];
  const q = new WorkQueue(
    async () => {
      if (++calls === 1) throw new Error("boom");
      return { kind: "done" };
    },
    { concurrency: 1, baseDelayMs: 5, maxDelayMs: 10, onError: (_k, e) => errors.push(e) },
  );
  q.add("k");
  await tick(60);
  assert.equal(calls, 2);
  assert.equal(errors.length, 1);
});

test("shutdown waits for the key in flight and drops the rest", async () => {
  let finished = 0;
  const q = new WorkQueue(
    async () => {
      await tick(30);
      finished++;
      return { kind: "done" };
    },
    { concurrency: 1, baseDelayMs: 5, maxDelayMs: 10 },
  );
  q.add("a");
  q.add("b");
  await tick();
  await q.shutdown();
  assert.equal(finished, 1);
  q.add("c");
  await tick(50);
  assert.equal(finished, 1);
});
