import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ServerWaiters } from "./waiters";

test("objects waiting on a server are woken together once it answers, and only then; other servers keep waiting", async () => {
  const up = new Set<string>();
  const woken: string[] = [];
  const probed: string[] = [];
  const waiters = new ServerWaiters({
    probe: async (s) => {
      probed.push(s);
      if (s === "broken") throw new Error("probe failed");
      return up.has(s);
    },
    wake: (k) => woken.push(k),
    intervalMs: 10,
  });
  waiters.wait("default", "db/a");
  waiters.wait("default", "db/b");
  waiters.wait("other", "role/c");
  waiters.wait("broken", "role/d");
  await sleep(50);
  assert.deepEqual(woken, []);
  assert.ok(probed.filter((s) => s === "default").length >= 2, "probed again while down");
  up.add("default");
  await sleep(50);
  assert.deepEqual(woken.sort(), ["db/a", "db/b"]);
  assert.equal(waiters.size, 2);
  up.add("other");
  await sleep(50);
  assert.deepEqual(woken.sort(), ["db/a", "db/b", "role/c"]);
  waiters.stop();
  assert.equal(waiters.size, 0);
  const count = probed.length;
  await sleep(30);
  assert.equal(probed.length, count, "no probe after stop");
});
