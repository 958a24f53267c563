// Every role field, through every layer its behaviour reaches: the schema, the CRD (its schema and rules), the plan
// (creating and converging), and a refresh's reflection. SAMPLES is keyed by the field names and CHECKS by the
// behaviours, so a new field or behaviour does not compile until it is covered here.
import assert from "node:assert/strict";
import { test } from "node:test";
import { roleSpecSchema } from "../../crd/pgrole";
import { ownershipStamp } from "../ownership";
import { reflectRole, ROLE_BEHAVIOURS, roleBehaviourRules } from "./behaviours";
import { ROLE_FIELD_NAMES, type RoleBehaviour, type RoleFieldName, roleBehaviourOf, roleFieldsOf } from "./fields";
import type { ObservedRole } from "./observe";
import { planRole } from "./plan";
import { PgRoleSpecSchema, parseRoleSpec, type PgRoleSpec } from "./spec";
import { roleStepField, type RoleStep } from "./steps";

interface Sample {
  /** The value the role has. */
  readonly a: unknown;
  /** The value the spec asks for. */
  readonly b: unknown;
  readonly with?: Record<string, unknown>;
}

const SAMPLES: { readonly [F in RoleFieldName]: Sample } = {
  name: { a: "app", b: "app2" },
  login: { a: true, b: false },
  inherit: { a: true, b: false },
  createdb: { a: false, b: true },
  createrole: { a: false, b: true },
  connectionLimit: { a: -1, b: 5 },
  validUntil: { a: "2030-01-01T00:00:00+00:00", b: "2031-01-01T00:00:00Z" },
  memberOf: { a: ["old"], b: ["readers"] },
  config: { a: { lock_timeout: "5s" }, b: { statement_timeout: "30s" } },
  authentication: { a: "password", b: "kerberos" },
  removePassword: { a: false, b: true, with: { authentication: "kerberos" } },
  reclaimPolicy: { a: "retain", b: "delete" },
  reassignOwnedTo: { a: "heir", b: "other_heir", with: { reclaimPolicy: "delete" } },
  adopt: { a: false, b: true },
  adoptFrom: { a: "pulumi:other/dev", b: "pulumi:another/dev" },
};

const manager = "pulumi:app/dev";
const ctx = { manager };
const base: ObservedRole = {
  name: "app",
  oid: 1,
  login: true,
  inherit: true,
  createdb: false,
  createrole: false,
  connectionLimit: -1,
  superuser: false,
  memberOf: [],
  config: {},
  comment: ownershipStamp(manager),
};

function specWith(field: RoleFieldName, value: unknown): PgRoleSpec {
  const r = parseRoleSpec({ name: "app", ...SAMPLES[field].with, [field]: value });
  assert.ok(r.ok, `${field}: ${JSON.stringify(r)}`);
  return r.spec;
}
const observedWith = (field: RoleFieldName, value: unknown): ObservedRole => ({ ...base, [field]: value });
const kinds = (steps: readonly RoleStep[]) => steps.map((s) => s.kind);
/** The steps a plan of a role created with `field` adds to creating one without it. */
const createdWith = (field: RoleFieldName, value: unknown) => planRole(specWith(field, value), undefined, ctx).slice(2);

const CHECKS: { readonly [B in RoleBehaviour]: (field: RoleFieldName, s: Sample) => void } = {
  identity: (field, s) => {
    assert.deepEqual(planRole(specWith(field, s.a), base, ctx), []);
  },
  attribute: (field, s) => {
    const [create] = planRole(specWith(field, s.b), undefined, ctx);
    assert.equal((create as { attributes: Record<string, unknown> }).attributes[field], s.b, "CREATE ROLE takes it");
    assert.deepEqual(planRole(specWith(field, s.b), observedWith(field, s.a), ctx), [
      { kind: "alterRole", role: "app", attribute: field, value: s.b },
    ]);
    assert.equal(reflectRole({ [field]: s.b }, observedWith(field, s.a))[field], s.a, "a refresh reflects it");
  },
  memberships: (field, s) => {
    assert.deepEqual(kinds(createdWith(field, s.b)), ["grantRole"]);
    const steps = planRole(specWith(field, s.b), observedWith(field, s.a), ctx);
    assert.deepEqual(kinds(steps), ["grantRole", "revokeRole"]);
    for (const step of steps) assert.equal(roleStepField(step), field, "a failure names it");
    assert.deepEqual(reflectRole({ [field]: s.b }, observedWith(field, s.a))[field], s.a, "a refresh reflects it");
  },
  settings: (field, s) => {
    assert.deepEqual(kinds(createdWith(field, s.b)), ["setRoleConfig"]);
    const previous = { [field]: s.a };
    assert.deepEqual(kinds(planRole(specWith(field, s.b), observedWith(field, s.a), { ...ctx, previous })), [
      "setRoleConfig",
      "resetRoleConfig",
    ]);
    assert.deepEqual(
      kinds(planRole(specWith(field, s.b), observedWith(field, s.a), ctx)),
      ["setRoleConfig"],
      "a key set by hand is left alone",
    );
    const byHand = { ...(s.a as object), work_mem: "4MB" };
    assert.deepEqual(
      reflectRole({ [field]: s.a }, observedWith(field, byHand))[field],
      s.a,
      "a refresh reflects what pg-kopf set, and only that",
    );
  },
  authentication: (field, s) => {
    const spec = specWith(field, s.b);
    const [create] = planRole(spec, undefined, ctx, { verifier: "SCRAM-SHA-256$x" });
    assert.equal((create as { verifier?: string }).verifier, undefined, "a Kerberos role is created with no password");
    assert.deepEqual(
      kinds(planRole(spec, base, ctx, { verifier: "SCRAM-SHA-256$x" })),
      field === "removePassword" ? ["removePassword"] : [],
    );
    assert.deepEqual(planRole(spec, base, { ...ctx, previous: { passwordRemoved: true } }), [], "removed once, not again");
    assert.deepEqual(reflectRole({ [field]: s.b }, base)[field], s.b, "recorded as given");
  },
  policy: (field, s) => {
    assert.deepEqual(createdWith(field, s.b), [], "no SQL of its own");
    assert.deepEqual(planRole(specWith(field, s.b), base, ctx), []);
    assert.deepEqual(reflectRole({ [field]: s.b }, base)[field], s.b, "recorded as given");
  },
};

test("every role field is seen by the schema, the CRD, the plan and a refresh, as its behaviour says", () => {
  const crd = roleSpecSchema();
  const crdRules = (crd["x-kubernetes-validations"] as { rule: string }[]).map((r) => r.rule);
  for (const rule of roleBehaviourRules()) assert.ok(crdRules.includes(rule.rule), rule.message);
  for (const field of ROLE_FIELD_NAMES) {
    assert.ok(field in PgRoleSpecSchema.properties, `${field}: in the spec schema`);
    assert.ok(field in (crd.properties as object), `${field}: in the CRD`);
    try {
      CHECKS[roleBehaviourOf(field)](field, SAMPLES[field]);
    } catch (err) {
      (err as Error).message = `${field} (${roleBehaviourOf(field)}): ${(err as Error).message}`;
      throw err;
    }
  }
});

test("every role behaviour has fields", () => {
  for (const b of Object.keys(ROLE_BEHAVIOURS) as RoleBehaviour[]) assert.ok(roleFieldsOf(b).length > 0, `${b} has no field`);
});

test("a Kerberos role logs in and only it removes a password; the CRD refuses the same", () => {
  const failures = (input: object) => {
    const r = parseRoleSpec({ name: "app", ...input });
    return r.ok ? [] : r.failures.map((f) => `${f.field}: ${f.message}`);
  };
  assert.deepEqual(failures({ authentication: "kerberos", login: false }), [
    "login: a Kerberos role logs in as its principal; remove login: false, or authentication",
  ]);
  assert.deepEqual(failures({ removePassword: true }), [
    "removePassword: only applies with authentication: kerberos; set it, or remove removePassword",
  ]);
  assert.match(failures({ authentication: "gss" }).join(), /authentication: .*use "password" or "kerberos"/);
  assert.deepEqual(failures({ authentication: "kerberos", removePassword: true }), []);
});
