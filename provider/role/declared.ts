// The roles this deployment's PgRole resources declare, by server, as their checks see them. The engine checks a
// resource only once every resource it depends on has been registered, so a PgDatabase that takes a PgRole's name
// output (owner: role.name) is checked after that PgRole: a role missing from Postgres but declared here is on its
// way; one not declared is not (a plain string naming it gives Pulumi no order), and the preview says so.
const declared = new Set<string>();

const keyOf = (server: string, role: string) => `${server}\u0000${role}`;

/** Records a role a PgRole resource of this deployment declares on `server`. */
export function declareRole(server: string, role: string): void {
  declared.add(keyOf(server, role));
}

/** Whether a PgRole resource of this deployment, checked before now, declares `role` on `server`. */
export function isDeclared(server: string, role: string): boolean {
  return declared.has(keyOf(server, role));
}
