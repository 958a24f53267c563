import assert from "node:assert/strict";
import { test } from "node:test";
import { CLAIM_LIFETIME_MS, claimsCreation, doneClaim, prepareForChange } from "./creating";
import { CLAIMED_AT_ANNOTATION, CREATING_ANNOTATION, PG_DATABASE, type PgDatabaseObject } from "../runtime/objects";
import type { ResourceApi } from "../runtime/writes";

const AT = "2026-12-05T17:00:00.000Z";
const now = Date.parse(AT) + 60_000;

function object(annotations?: Record<string, string>, creationClaim?: string): PgDatabaseObject {
  return {
    apiVersion: "my.local/v1",
    kind: "PgDatabase",
    metadata: { name: "app", namespace: "default", uid: "u1", resourceVersion: "7", annotations },
    spec: { name: "app" },
    ...(creationClaim ? { status: { creationClaim } } : {}),
  };
}

test("a claim is live while recorded, not marked done by the status, and younger than its lifetime", () => {
  const claimed = { [CREATING_ANNOTATION]: "app", [CLAIMED_AT_ANNOTATION]: AT };
  assert.equal(claimsCreation(object(claimed), "app", now), true, "a creation cut off a minute ago");
  assert.equal(claimsCreation(object(claimed), "other", now), false, "it names one database only");
  assert.equal(claimsCreation(object(claimed, AT), "app", now), false, "the status marked it done");
  assert.equal(claimsCreation(object(claimed, "2026-12-01T00:00:00.000Z"), "app", now), true, "an older claim's mark is not this one's");
  // Restored from a backup without its status, long after: the claim must not take over what someone made since.
  assert.equal(claimsCreation(object(claimed), "app", Date.parse(AT) + CLAIM_LIFETIME_MS), false);
  assert.equal(claimsCreation(object({ ...claimed, [CLAIMED_AT_ANNOTATION]: "not a time" }), "app", now), false);
  assert.equal(claimsCreation(object(), "app", now), false);
  // An earlier release's claim has no time and is removed once the database is stamped.
  assert.equal(claimsCreation(object({ [CREATING_ANNOTATION]: "app" }), "app", now), true);
});

test("the status marks the object's claim done, and keeps the last one it marked", () => {
  assert.deepEqual(doneClaim(object({ [CREATING_ANNOTATION]: "app", [CLAIMED_AT_ANNOTATION]: AT })), { creationClaim: AT });
  assert.deepEqual(doneClaim(object({}, AT)), { creationClaim: AT });
  assert.deepEqual(doneClaim(object({ [CREATING_ANNOTATION]: "app" })), {});
});

test("the finalizer and a fresh claim are one write, guarded by the resourceVersion read", async () => {
  const patches: object[][] = [];
  const api = {
    kind: PG_DATABASE,
    patch: async (obj: PgDatabaseObject, ops: object[]) => {
      patches.push(ops);
      return obj;
    },
  } as unknown as ResourceApi;
  const when = new Date(AT);
  await prepareForChange(api, object(), "app", when);
  await prepareForChange(api, object({ keep: "me" }), "app", when);
  assert.deepEqual(patches[0].slice(2), [
    { op: "add", path: "/metadata/annotations", value: { [CREATING_ANNOTATION]: "app", [CLAIMED_AT_ANNOTATION]: AT } },
  ]);
  assert.deepEqual(patches[1].slice(2), [
    { op: "add", path: "/metadata/annotations/pgdatabases.my.local~1creating", value: "app" },
    { op: "add", path: "/metadata/annotations/pgdatabases.my.local~1creating-at", value: AT },
  ]);
  for (const p of patches) assert.deepEqual(p[0], { op: "test", path: "/metadata/resourceVersion", value: "7" });
  assert.equal(patches.length, 2);
});
