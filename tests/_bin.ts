/**
 * Helpers for tests that run webcache as a process: the bundle `dist/webcache.js` (what ships) is
 * preferred; it is built on first use when missing.
 *
 * @module
 */
import { DENO_RUN_FLAGS } from "../core/deno_flags.ts";

const ROOT = new URL("../", import.meta.url).pathname;
/** Absolute path of the bundle. */
export const BUNDLE = `${ROOT}dist/webcache.js`;
/** Flags webcache needs from Deno (`run` and {@link DENO_RUN_FLAGS}). */
export const DENO_FLAGS = ["run", ...DENO_RUN_FLAGS];

let built: Promise<void> | undefined;

/** Builds the bundle once per test process if it does not exist. */
export function ensureBundle(): Promise<void> {
  built ??= (async () => {
    try {
      await Deno.stat(BUNDLE);
      return;
    } catch {
      // build below
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}scripts/build.ts`],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`Cannot build bundle: ${new TextDecoder().decode(out.stderr)}`);
  })();
  return built;
}

/** Result of running webcache to completion. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the bundle with `args` and waits for it to exit.
 *
 * @param opts.cwd working directory (default the repo root)
 * @param opts.env extra environment
 */
export async function runWebcache(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  await ensureBundle();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...DENO_FLAGS, BUNDLE, ...args],
    cwd: opts.cwd ?? ROOT,
    env: opts.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Starts the bundle as a long-running child process (stdout/stderr piped).
 * The caller must kill it and await `status`.
 */
export async function spawnWebcache(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; stdout?: "piped" | "null" | "inherit" } = {},
): Promise<Deno.ChildProcess> {
  await ensureBundle();
  return new Deno.Command(Deno.execPath(), {
    args: [...DENO_FLAGS, BUNDLE, ...args],
    cwd: opts.cwd ?? ROOT,
    env: opts.env,
    stdout: opts.stdout ?? "piped",
    stderr: "piped",
  }).spawn();
}

/** The repository root (with a trailing slash). */
export const REPO_ROOT = ROOT;
