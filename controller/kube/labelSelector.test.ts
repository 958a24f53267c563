import assert from "node:assert/strict";
import { test } from "node:test";
import { describeSelector, matchesSelector } from "./labelSelector";

const labels = { "kubernetes.io/metadata.name": "shop", team: "shop", env: "prod" };

test("matchLabels: every label must be there with its value", () => {
  assert.ok(matchesSelector({ matchLabels: { team: "shop" } }, labels));
  assert.ok(matchesSelector({ matchLabels: { team: "shop", env: "prod" } }, labels));
  assert.ok(!matchesSelector({ matchLabels: { team: "shop", env: "dev" } }, labels));
  assert.ok(!matchesSelector({ matchLabels: { owner: "x" } }, labels));
});

test("matchExpressions: In, NotIn, Exists, DoesNotExist, as the API server evaluates them", () => {
  assert.ok(matchesSelector({ matchExpressions: [{ key: "env", operator: "In", values: ["prod", "staging"] }] }, labels));
  assert.ok(!matchesSelector({ matchExpressions: [{ key: "env", operator: "In", values: ["dev"] }] }, labels));
  assert.ok(!matchesSelector({ matchExpressions: [{ key: "missing", operator: "In", values: ["x"] }] }, labels));
  assert.ok(matchesSelector({ matchExpressions: [{ key: "env", operator: "NotIn", values: ["dev"] }] }, labels));
  // NotIn holds for an object without the label, as in Kubernetes.
  assert.ok(matchesSelector({ matchExpressions: [{ key: "missing", operator: "NotIn", values: ["x"] }] }, labels));
  assert.ok(!matchesSelector({ matchExpressions: [{ key: "env", operator: "NotIn", values: ["prod"] }] }, labels));
  assert.ok(matchesSelector({ matchExpressions: [{ key: "team", operator: "Exists" }] }, labels));
  assert.ok(!matchesSelector({ matchExpressions: [{ key: "team", operator: "DoesNotExist" }] }, labels));
  assert.ok(matchesSelector({ matchExpressions: [{ key: "other", operator: "DoesNotExist" }] }, labels));
});

test("every term must hold; the empty selector selects everything", () => {
  assert.ok(matchesSelector({}, labels));
  assert.ok(matchesSelector({}, {}));
  assert.ok(
    !matchesSelector({ matchLabels: { team: "shop" }, matchExpressions: [{ key: "env", operator: "In", values: ["dev"] }] }, labels),
  );
});

test("described as kubectl writes selectors", () => {
  assert.equal(describeSelector({}), "everything");
  assert.equal(
    describeSelector({ matchLabels: { team: "shop" }, matchExpressions: [{ key: "env", operator: "NotIn", values: ["dev", "qa"] }] }),
    "team=shop,env notin (dev,qa)",
  );
});
