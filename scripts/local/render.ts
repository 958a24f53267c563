// The Kubernetes objects the Pulumi program declares, rendered without an engine: the program runs under Pulumi's
// mocks in a child process (mocks are process-wide) and each kubernetes:* registration becomes a manifest. Lets
// tests and the local stack put the program's own objects on a real API server while the kubernetes resource plugin
// cannot be built here (see README "Local stack").
import { execFileSync } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";

export type StackValues = Record<string, unknown>;
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** The program's Kubernetes objects for these stack config values, in the order it declares them. */
export function renderManifests(values: StackValues): Manifest[] {
  // The values (with the admin password) go through stdin, never the command line.
  const out = execFileSync(process.execPath, [__filename], {
    input: JSON.stringify(values),
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
  });
  return JSON.parse(out) as Manifest[];
}

/** Secret values reach the mocks wrapped; a manifest needs the plain value. */
function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (obj[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) return unwrapSecrets(obj.value);
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

async function render(values: StackValues): Promise<Manifest[]> {
  const manifests: Manifest[] = [];
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        if (!args.type.startsWith("kubernetes:")) return { id: `${args.name}-id`, state: args.inputs };
        // Objects without a name get one after their resource, as the kubernetes provider names them.
        const inputs = {
          ...args.inputs,
          metadata: { ...args.inputs.metadata, name: args.inputs.metadata?.name ?? `${args.name}-rendered` },
        };
        manifests.push(unwrapSecrets(inputs) as Manifest);
        return { id: `${args.name}-id`, state: inputs };
      },
      call: (args) => args.inputs,
    },
    "pg-kopf",
    "render",
    true,
  );
  const { program } = await import("../../infra/program");
  await program({
    name: "pg-kopf",
    get: (k) => (values[k] === undefined ? undefined : String(values[k])),
    getObject: <T>(k: string) => values[k] as T | undefined,
    getSecret: (k) => (values[k] === undefined ? undefined : pulumi.secret(String(values[k]))),
  });
  // Let the mock monitor receive every registration.
  await new Promise((r) => setTimeout(r, 100));
  return manifests;
}

if (require.main === module) {
  let input = "";
  process.stdin.on("data", (d) => (input += d));
  process.stdin.on("end", () => {
    render(JSON.parse(input)).then(
      (m) => process.stdout.write(JSON.stringify(m)),
      (err: Error) => {
        process.stderr.write(`${err.message}\n`);
        process.exitCode = 1;
      },
    );
  });
}
