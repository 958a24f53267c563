import { test } from "node:test";
import assert from "node:assert/strict";
import {
  chooseTurns,
  KEEP_PREVIOUS_ANNOTATION,
  keepPreviousOf,
  PREVIOUS_UNTIL_ANNOTATION,
  PREVIOUS_USERNAME_ANNOTATION,
  previousAnnotations,
  type TurnsInput,
} from "./turns";
import type { SecretObject } from "./credentials";

const NOW = Date.parse("2026-12-01T12:00:00Z");
const HOUR = 3600_000;
const at = (ms: number) => new Date(ms).toISOString();

function secret(username: string, previous?: [string, number]): SecretObject {
  return {
    metadata: {
      name: "app-credentials",
      namespace: "default",
      ...(previous ? { annotations: { [PREVIOUS_USERNAME_ANNOTATION]: previous[0], [PREVIOUS_UNTIL_ANNOTATION]: at(previous[1]) } } : {}),
    },
    data: { username: Buffer.from(username).toString("base64"), password: Buffer.from("pw").toString("base64") },
  };
}
const input = (more: Partial<TurnsInput>): TurnsInput => ({
  owner: "app",
  twoCredentials: true,
  keepPreviousMs: HOUR,
  secret: undefined,
  mustRotate: false,
  wantsRotation: false,
  now: NOW,
  ...more,
});

test("one credential, no members ever: the role converges alone, as before", () => {
  assert.deepEqual(chooseTurns(input({ twoCredentials: false, secret: secret("app") })), { rotating: false });
  assert.deepEqual(chooseTurns(input({ twoCredentials: false, secret: secret("app"), wantsRotation: true })), { rotating: true });
});

test("a new role with two credentials starts on its first member, with no previous one", () => {
  assert.deepEqual(chooseTurns(input({ mustRotate: true })), { rotating: true, turns: { current: "app_a" } });
});

test("a rotation moves to the idle member and keeps the one apps used for keepPrevious", () => {
  assert.deepEqual(chooseTurns(input({ secret: secret("app_a"), wantsRotation: true })), {
    rotating: true,
    turns: { current: "app_b", previous: { name: "app_a", until: at(NOW + HOUR) } },
  });
  assert.deepEqual(chooseTurns(input({ secret: secret("app_b", ["app_a", NOW - 1]) })), {
    rotating: false,
    turns: { current: "app_b", previous: { name: "app_a", until: at(NOW - 1) } },
  });
});

test("a rotation waits until the previous credential's grace period ends, whoever it is; a lost Secret does not wait", () => {
  const inGrace = secret("app_b", ["app_a", NOW + 60_000]);
  assert.deepEqual(chooseTurns(input({ secret: inGrace, wantsRotation: true })), {
    rotating: false,
    turns: { current: "app_b", previous: { name: "app_a", until: at(NOW + 60_000) } },
    waitsUntil: at(NOW + 60_000),
  });
  // Just switched to two credentials, the role itself in its grace period: the next rotation waits for it too.
  assert.equal(chooseTurns(input({ secret: secret("app_a", ["app", NOW + 1000]), wantsRotation: true })).waitsUntil, at(NOW + 1000));
  const after = chooseTurns(input({ secret: secret("app_b", ["app_a", NOW - 1]), wantsRotation: true }));
  assert.deepEqual(after.turns, { current: "app_a", previous: { name: "app_b", until: at(NOW + HOUR) } });
  // The Secret deleted: the member the status recorded keeps working, the other gets the new password.
  assert.deepEqual(chooseTurns(input({ mustRotate: true, recordedUsername: "app_b" })).turns, {
    current: "app_a",
    previous: { name: "app_b", until: at(NOW + HOUR) },
  });
});

test("switching to two credentials and back is a rotation; the role apps used keeps logging in meanwhile", () => {
  assert.deepEqual(chooseTurns(input({ secret: secret("app") })), {
    rotating: true,
    turns: { current: "app_a", previous: { name: "app", until: at(NOW + HOUR) } },
  });
  assert.deepEqual(chooseTurns(input({ twoCredentials: false, secret: secret("app_b", ["app_a", NOW - 1]) })), {
    rotating: true,
    turns: { current: "app", previous: { name: "app_b", until: at(NOW + HOUR) } },
  });
  // Back on the role itself, the member is still converged (to NOLOGIN once its time is up).
  assert.deepEqual(chooseTurns(input({ twoCredentials: false, secret: secret("app", ["app_b", NOW - 1]) })), {
    rotating: false,
    turns: { current: "app", previous: { name: "app_b", until: at(NOW - 1) } },
  });
});

test("the Secret records the previous credential and the keepPrevious in effect, for switching back", () => {
  const marks = previousAnnotations({ name: "app_a", until: at(NOW) }, "10s");
  assert.deepEqual(marks, {
    [PREVIOUS_USERNAME_ANNOTATION]: "app_a",
    [PREVIOUS_UNTIL_ANNOTATION]: at(NOW),
    [KEEP_PREVIOUS_ANNOTATION]: "10s",
  });
  assert.equal(keepPreviousOf({ metadata: { name: "s", namespace: "n", annotations: marks } }), "10s");
  assert.deepEqual(previousAnnotations(undefined, undefined), {});
});
