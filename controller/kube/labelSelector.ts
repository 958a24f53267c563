// Kubernetes label selectors (matchLabels and matchExpressions), evaluated against an object's labels as the API
// server evaluates them: every term must hold; an empty selector selects everything.
import type { LabelSelector } from "../../crd/pgserver";

/** Whether `labels` satisfy `selector`. Pure. */
export function matchesSelector(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    const holds =
      operator === "Exists"
        ? has
        : operator === "DoesNotExist"
          ? !has
          : operator === "In"
            ? has && values.includes(labels[key])
            : !has || !values.includes(labels[key]);
    if (!holds) return false;
  }
  return true;
}

/** The selector in kubectl's words, for messages: "team=a,env in (prod)"; "everything" when empty. */
export function describeSelector(selector: LabelSelector): string {
  const terms = [
    ...Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(selector.matchExpressions ?? []).map(({ key, operator, values = [] }) =>
      operator === "Exists"
        ? key
        : operator === "DoesNotExist"
          ? `!${key}`
          : `${key} ${operator === "In" ? "in" : "notin"} (${values.join(",")})`,
    ),
  ];
  return terms.length ? terms.join(",") : "everything";
}
