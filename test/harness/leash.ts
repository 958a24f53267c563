// What the local stack and the test harness start must not outlive them. A child of theirs ends with them when they
// stop normally (their exit handlers kill it), but not when they are killed hard (SIGKILL, a CI timeout), and
// Postgres is a daemon that pg_ctl leaves behind in any case. A leash is a small detached process, one per harness
// process, that holds the read end of a pipe from it: the pipe closes however the harness ends, and the leash then
// signals every process tied to it, and exits.
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";

let leash: ChildProcess | undefined;

function started(): ChildProcess {
  if (leash) return leash;
  leash = spawn(process.execPath, [__filename, "--leash"], { detached: true, stdio: ["pipe", "ignore", "ignore"] });
  // Neither the leash nor its pipe keeps the harness alive.
  leash.unref();
  (leash.stdin as unknown as { unref(): void }).unref();
  return leash;
}

/** Ties `pid` to this process: when this process ends, however it ends, `pid` is sent `signal`. */
export function tie(pid: number | undefined, signal: NodeJS.Signals = "SIGKILL"): void {
  if (pid !== undefined) started().stdin!.write(`tie ${pid} ${signal}\n`);
}

/** Unties `pid` (it was stopped, and its number may be reused). */
export function untie(pid: number | undefined): void {
  if (pid !== undefined && leash) leash.stdin!.write(`untie ${pid}\n`);
}

/**
 * A daemon of a test's and its directory, gone together: the returned stop() kills it and removes the directory,
 * once, and so does this process's exit; the leash covers a harder end.
 */
export function stopWithDir(child: ChildProcess, dir: string): () => void {
  tie(child.pid, "SIGKILL");
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    child.kill("SIGKILL");
    untie(child.pid);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", stop);
  return stop;
}

function runLeash(): void {
  const tied = new Map<number, NodeJS.Signals>();
  let pending = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      const [verb, pid, signal] = line.split(" ");
      if (verb === "tie") tied.set(Number(pid), signal as NodeJS.Signals);
      if (verb === "untie") tied.delete(Number(pid));
    }
  });
  process.stdin.on("close", () => {
    for (const [pid, signal] of tied) {
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
    }
    process.exit(0);
  });
}

if (require.main === module && process.argv[2] === "--leash") runLeash();
