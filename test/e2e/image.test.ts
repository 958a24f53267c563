// The controller's image as the Dockerfile builds it (scripts/image.sh: buildah, on local look-alikes of its two base
// images): what it holds, file by file, within a size budget; how it runs (user, entrypoint, arguments); and that the
// controller's every module loads from it with the dependencies it ships.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CONTROLLER_ARGS } from "../../infra/operator";
import { REPO } from "../harness/project";

const IMAGE = "pg-kopf-controller:e2e";
/**
 * Measured 161 MiB (the Node binary is 118 of it, libpq with MIT Kerberos and their libraries 8.7, the binding 0.9); a devDependency
 * back in it would add 95 MiB or more.
 */
const IMAGE_BUDGET_MIB = 170;
const NODE_MODULES_BUDGET_MIB = 20;

const image = (...args: string[]) =>
  execFileSync("bash", [join(REPO, "scripts", "image.sh"), ...args], { cwd: REPO, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
let files: { size: number; path: string }[] = [];
const mib = (paths: { size: number }[]) => paths.reduce((n, f) => n + f.size, 0) / 1024 / 1024;
/** The packages of /app/node_modules at the top level (scoped ones as @scope/name). */
const topLevel = () => [
  ...new Set(
    files.flatMap(({ path }) => {
      const m = /^\/app\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
      return m ? [m[1]] : [];
    }),
  ),
];

before(() => {
  image("build", "e2e");
  files = image("files", IMAGE)
    .trim()
    .split("\n")
    .map((line) => {
      const [size, ...path] = line.split(" ");
      return { size: Number(size), path: path.join(" ") };
    });
});

after(() => image("remove", IMAGE));

describe("the controller's image", () => {
  test("holds production dependencies only, and fits its size budget", () => {
    const lock = JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8")).packages as Record<string, { dev?: boolean }>;
    const manifest = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
    const shipped = topLevel();
    assert.ok(shipped.includes("pg") && shipped.includes("pino"), `the controller's dependencies: ${shipped.join(", ")}`);
    // Regression: npm uninstall after the prune installed the devDependencies again (Biome, TypeScript, Postgres).
    const dev = shipped.filter((name) => lock[`node_modules/${name}`]?.dev === true || name in manifest.devDependencies);
    assert.deepEqual(dev, [], "devDependencies in the image");
    // The Pulumi SDKs are for the program, not the controller.
    assert.deepEqual(
      shipped.filter((name) => name.startsWith("@pulumi/")),
      [],
    );
    const modules = files.filter((f) => f.path.startsWith("/app/node_modules/"));
    assert.ok(mib(modules) <= NODE_MODULES_BUDGET_MIB, `node_modules is ${mib(modules).toFixed(1)} MiB`);
    assert.ok(mib(files) <= IMAGE_BUDGET_MIB, `the image is ${mib(files).toFixed(1)} MiB`);
    console.log(`image ${mib(files).toFixed(1)} MiB, node_modules ${mib(modules).toFixed(1)} MiB, ${shipped.length} packages`);
  });

  test("its own files are the compiled controller, core and CRDs, and package.json: no sources, tests or declarations", () => {
    const own = files.filter((f) => f.path.startsWith("/app/") && !f.path.startsWith("/app/node_modules/")).map((f) => f.path);
    const outside = own.filter((p) => p !== "/app/package.json" && !/^\/app\/dist\/(controller|core|crd)\/[\w/]+\.js$/.test(p));
    assert.deepEqual(outside, []);
    assert.ok(!own.some((p) => p.endsWith(".test.js")));
    assert.ok(own.includes("/app/dist/controller/main.js"));
  });

  test("runs node as user 65532 with the Deployment's arguments, and every controller module loads in it", () => {
    const config = JSON.parse(image("inspect", IMAGE)).OCIv1.config;
    assert.equal(config.User, "65532:65532");
    assert.deepEqual(config.Entrypoint, ["/nodejs/bin/node"]);
    assert.deepEqual(config.Cmd, CONTROLLER_ARGS);
    assert.equal(config.WorkingDir, "/app");
    const loaded = image(
      "run",
      IMAGE,
      "/nodejs/bin/node",
      "-e",
      [
        'const { readdirSync } = require("node:fs");',
        'const all = readdirSync("dist/controller", { recursive: true }).filter((f) => f.endsWith(".js"));',
        'for (const f of all) require("./dist/controller/" + f);',
        "console.log(JSON.stringify({ uid: process.getuid(), modules: all.length, node: process.version }));",
      ].join(" "),
    );
    const report = JSON.parse(loaded.trim().split("\n").at(-1)!);
    assert.equal(report.uid, 65532);
    assert.ok(report.modules > 20, loaded);
    assert.match(report.node, /^v24\./);
  });

  test("has libpq and MIT Kerberos for Kerberos servers: pg-native loads, from the libraries the image carries", () => {
    const libraries = files.filter((f) => f.path.startsWith("/usr/lib/pg-kopf/")).map((f) => f.path.split("/").at(-1));
    for (const lib of ["libpq.so.5", "libgssapi_krb5.so.2", "libkrb5.so.3"]) assert.ok(libraries.includes(lib), `${lib} in ${libraries}`);
    // None of the runtime's own: two copies of libc or OpenSSL would be two versions.
    assert.deepEqual(
      libraries.filter((l) => /^(libc|libssl|libcrypto|libstdc\+\+)\./.test(l ?? "")),
      [],
    );
    const loaded = image(
      "run",
      IMAGE,
      "/nodejs/bin/node",
      "-e",
      'const native = require("pg").native; console.log(JSON.stringify({ native: typeof native?.Client, rss: process.memoryUsage().rss }));',
    );
    const report = JSON.parse(loaded.trim().split("\n").at(-1)!);
    assert.equal(report.native, "function", loaded);
    console.log(`libpq and Kerberos: ${mib(files.filter((f) => f.path.startsWith("/usr/lib/pg-kopf/"))).toFixed(1)} MiB of libraries`);
  });
});
