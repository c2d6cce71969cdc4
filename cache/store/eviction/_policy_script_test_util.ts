/**
 * Test helper: runs a script of policy operations and records what `evict()` returned.
 *
 * Script steps: `"+a:10"` inserts `a` of 10 bytes (`"+a"` is 1 byte), `"t a"` touches `a`, `"-a"`
 * removes `a`, `"e"` evicts one key (recorded; `undefined` shown as `-`).
 *
 * @module
 */
import type { EvictionPolicy } from "../store.ts";

/** Runs `steps` against `policy` and returns the keys evicted, in order. */
export function runScript(policy: EvictionPolicy<string>, steps: string[]): string[] {
  const out: string[] = [];
  for (const step of steps) {
    if (step.startsWith("+")) {
      const [key, bytes] = step.slice(1).split(":");
      policy.insert(key, bytes === undefined ? 1 : Number(bytes));
    } else if (step.startsWith("t ")) {
      policy.touch(step.slice(2));
    } else if (step.startsWith("-")) {
      policy.remove(step.slice(1));
    } else if (step === "e") {
      out.push(policy.evict() ?? "-");
    } else {
      throw new SyntaxError(`Cannot run policy script: unknown step "${step}"`);
    }
  }
  return out;
}
