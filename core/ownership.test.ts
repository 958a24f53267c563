import { test } from "node:test";
import assert from "node:assert/strict";
import { entryManager, ownership, ownershipStamp, pulumiManager } from "./ownership";
import { aliases, type ServerIdentity } from "./server/identity";

const role = { kind: "role" as const, name: "app" };
const stamped = (manager: string, oid = 42) => ({ comment: ownershipStamp(manager), oid });

test("a stack's stamp names its server entry, except on the default server, as stamps always did there", () => {
  assert.equal(pulumiManager("shop", "prod"), "pulumi:shop/prod");
  assert.equal(pulumiManager("shop", "prod", "default"), "pulumi:shop/prod");
  assert.equal(pulumiManager("shop", "prod", "analytics"), "pulumi:shop/prod#analytics");
  // A manager recorded before stamps named their entry gains it once, and only once.
  assert.equal(entryManager("pulumi:shop/prod", "analytics"), "pulumi:shop/prod#analytics");
  assert.equal(entryManager("pulumi:shop/prod#analytics", "analytics"), "pulumi:shop/prod#analytics");
});

test("two entries of one stack never share a stamp: neither alters nor drops what the other made", () => {
  const ctx = { manager: "pulumi:shop/prod#b" };
  assert.throws(() => ownership(role, stamped("pulumi:shop/prod#a"), ctx, "alter"), /is managed by pulumi:shop\/prod#a/);
  assert.throws(() => ownership(role, stamped("pulumi:shop/prod#a"), ctx, "drop"), /Left in place\.$/);
});

test("what a resource stamped under its former name is its own again on that object only, and never dropped by it", () => {
  const ctx = { manager: "pulumi:shop/prod#a", formerly: { manager: "pulumi:shop/prod", oid: 42 } };
  assert.deepEqual(ownership(role, stamped("pulumi:shop/prod"), ctx, "alter"), { takeOver: true });
  // Another object of that name (the state records another oid): someone else's.
  assert.throws(
    () => ownership(role, stamped("pulumi:shop/prod", 43), ctx, "alter"),
    /is managed by pulumi:shop\/prod, so pulumi:shop\/prod#a will not alter it/,
  );
  assert.throws(
    () => ownership(role, stamped("pulumi:shop/prod"), ctx, "drop"),
    /Left in place: its stamp predates stamps that name their server entry, so another entry of the stack may declare it\. For pg-kopf to drop it, run pulumi up/,
  );
});

test("aliases: each entry that repeats an earlier one's Postgres, with that one; unknown identities match nothing", () => {
  const at = (systemIdentifier: string, port = 5432, startedAt = "1.5"): ServerIdentity => ({ systemIdentifier, port, startedAt });
  const found = aliases([
    { entry: "a", identity: at("1") },
    { entry: "b", identity: at("1", 5433) }, // another cluster restored from a's backup, on another port
    { entry: "c", identity: at("1", 5432, "2.5") }, // a's replica or clone, started at another time
    { entry: "d" },
    { entry: "e", identity: at("1") },
    { entry: "f", identity: at("1", 5433) },
  ]);
  assert.deepEqual(
    found.map((f) => [f.entry, f.same]),
    [
      ["e", "a"],
      ["f", "b"],
    ],
  );
});

test("an engine's takeover rule replaces the adoptFrom advice with the remedy that works there", () => {
  const db = { kind: "database" as const, name: "shop" };
  const ctx = {
    manager: "kubernetes:team-b/shop",
    adoptsFrom: (stamped: string) => (stamped.startsWith("kubernetes:team-b/") ? undefined : `ask ${stamped} to let go`),
  };
  assert.throws(
    () => ownership(db, stamped("kubernetes:team-a/shop"), ctx, "alter"),
    (e: Error) => {
      assert.match(e.message, /is managed by kubernetes:team-a\/shop.*ask kubernetes:team-a\/shop to let go/);
      assert.doesNotMatch(e.message, /set adoptFrom/);
      return true;
    },
  );
  // Where the engine allows it, the usual advice stays.
  assert.throws(() => ownership(db, stamped("kubernetes:team-b/other"), ctx, "alter"), /set adoptFrom: "kubernetes:team-b\/other"/);
});
