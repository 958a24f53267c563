// The one shape of a field behaviour, for every kind (core/database/behaviours, core/role/behaviours): the spec's
// checks beyond its schema, the CRD's rules, the plan of a new and of an existing object, and what a refresh
// records. A kind's table has an entry per behaviour of its field table; the walks below run a table's entries, each
// with its own fields, so every kind plans, reflects and rules its fields the same way.
import type { FieldFailure } from "./errors";

/** A CEL rule on the spec, for the CRD. */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
}

/** What a reflection returns to leave the recorded value as it is. */
export const AS_RECORDED: unique symbol = Symbol("as recorded");

/**
 * One behaviour of a kind whose fields are F, planned with `Input` into steps `Step` against an `Observed` object.
 * Each function gets the fields of this behaviour only.
 */
export interface BehaviourEntry<F extends string, Input, Observed, Step> {
  /** Failures of a field's raw value beyond its schema (the kind's parse). */
  readonly validate: (field: F, raw: Readonly<Record<string, unknown>>) => FieldFailure[];
  /** The rules the CRD adds for a field (checks, transition rules). */
  readonly rules: (field: F) => CelRule[];
  /** Steps for an object being created, after its CREATE (which takes the options of the fields that have one). */
  readonly planCreate: (fields: readonly F[], input: Input) => Step[];
  /** Steps for an existing object; throws a refusal naming the field when Postgres cannot do what is asked. */
  readonly planExisting: (fields: readonly F[], input: Input & { readonly observed: Observed }) => Step[];
  /**
   * What a refresh records for a field, from the recorded value and the object as observed (AS_RECORDED: as it was);
   * `importing` when nothing was recorded, so every observable field is taken.
   */
  readonly reflect: (field: F, recorded: unknown, observed: Observed, importing: boolean) => unknown;
}

/** A kind's behaviour table, and its fields by behaviour. */
export interface BehaviourTable<B extends string, F extends string, Input, Observed, Step> {
  readonly entries: { readonly [K in B]: BehaviourEntry<F, Input, Observed, Step> };
  readonly fieldsOf: (behaviour: B) => readonly F[];
}

const behavioursOf = <B extends string>(t: { entries: Record<B, unknown> }) => Object.keys(t.entries) as B[];

/** Every behaviour's steps for an object being created, in the table's order. */
export function planCreateEach<B extends string, F extends string, I, O, S>(t: BehaviourTable<B, F, I, O, S>, input: I): S[] {
  return behavioursOf(t).flatMap((b) => t.entries[b].planCreate(t.fieldsOf(b), input));
}

/** Every behaviour's steps for an existing object, in the table's order. */
export function planExistingEach<B extends string, F extends string, I, O, S>(
  t: BehaviourTable<B, F, I, O, S>,
  input: I & { readonly observed: O },
): S[] {
  return behavioursOf(t).flatMap((b) => t.entries[b].planExisting(t.fieldsOf(b), input));
}

/** Recorded properties with what each behaviour reflects of the observed object, field by field. */
export function reflectEach<B extends string, F extends string, I, O, S>(
  t: BehaviourTable<B, F, I, O, S>,
  recorded: Readonly<Record<string, unknown>>,
  observed: O,
  importing: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...recorded };
  for (const b of behavioursOf(t)) {
    for (const field of t.fieldsOf(b)) {
      const value = t.entries[b].reflect(field, recorded[field], observed, importing);
      if (value !== AS_RECORDED) out[field] = value;
    }
  }
  return out;
}

/** Every behaviour's checks of a raw spec, field by field. */
export function failuresEach<B extends string, F extends string, I, O, S>(
  t: BehaviourTable<B, F, I, O, S>,
  raw: Readonly<Record<string, unknown>>,
): FieldFailure[] {
  return behavioursOf(t).flatMap((b) => t.fieldsOf(b).flatMap((f) => t.entries[b].validate(f, raw)));
}

/** Every behaviour's CRD rules, field by field. */
export function rulesEach<B extends string, F extends string, I, O, S>(t: BehaviourTable<B, F, I, O, S>): CelRule[] {
  return behavioursOf(t).flatMap((b) => t.fieldsOf(b).flatMap((f) => t.entries[b].rules(f)));
}

/** The pieces a behaviour without a part of its own uses. */
export const NO_FAILURES = (): FieldFailure[] => [];
export const NO_RULES = (): CelRule[] => [];
export const NO_STEPS = (): never[] => [];
export const KEEP_RECORDED = (): typeof AS_RECORDED => AS_RECORDED;
