import assert from "node:assert/strict";
import { test } from "node:test";
import * as core from "../../core";
import { afterFailure } from "./reconcile";

test("a failure comes back after its own hint, else a passing one after the backoff and a permanent one at the slow retry", () => {
  const busy = core.classifyError(Object.assign(new Error("sorry, too many clients already"), { code: "53300" }));
  assert.deepEqual(afterFailure(busy, 60_000).outcome, { kind: "requeueAfter", ms: 5_000 });
  assert.deepEqual(afterFailure(new core.PostgresUnavailable("deadlock detected"), 60_000).outcome, { kind: "retry" });
  assert.deepEqual(afterFailure(new core.NotOwned("not ours"), 60_000).outcome, { kind: "requeueAfter", ms: 60_000 });
  assert.equal(afterFailure(new core.PostgresUnavailable("connection refused"), 60_000).waitsForServer, true);
});
