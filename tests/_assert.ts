/**
 * Minimal assertions for tests (@std/assert lives on JSR, which this machine cannot reach).
 * Each throws an `AssertionError` with a readable message.
 *
 * @module
 */

/** Raised by a failed assertion. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Asserts that `cond` is truthy. */
export function assert(cond: unknown, msg = "Assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((v, i) => v === b[i]);
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Map && b instanceof Map) {
    return a.size === b.size && [...a].every(([k, v]) => b.has(k) && deepEqual(v, b.get(k)));
  }
  if (a instanceof Set && b instanceof Set) return a.size === b.size && [...a].every((v) => b.has(v));
  const ka = Object.keys(a as object).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function show(v: unknown): string {
  try {
    return Deno.inspect(v, { depth: 6, colors: false });
  } catch {
    return String(v);
  }
}

/** Asserts deep equality (undefined properties are ignored, as in @std/assert's assertEquals). */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}values differ\nactual:   ${show(actual)}\nexpected: ${show(expected)}`,
    );
  }
}

/** Asserts deep inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (deepEqual(actual, expected)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}values are equal: ${show(actual)}`);
  }
}

/** Asserts that `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  if (!actual.includes(expected)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}expected ${show(actual)} to include ${show(expected)}`);
  }
}

/** Asserts that `actual` matches `re`. */
export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  if (!re.test(actual)) throw new AssertionError(`${msg ? msg + ": " : ""}expected ${show(actual)} to match ${re}`);
}

/** Asserts `a < b`-style numeric bounds. */
export function assertLess(actual: number, limit: number, msg?: string): void {
  if (!(actual < limit)) throw new AssertionError(`${msg ? msg + ": " : ""}expected ${actual} < ${limit}`);
}

/** Asserts `actual > limit`. */
export function assertGreater(actual: number, limit: number, msg?: string): void {
  if (!(actual > limit)) throw new AssertionError(`${msg ? msg + ": " : ""}expected ${actual} > ${limit}`);
}

/** Asserts `|actual - expected| <= tolerance`. */
export function assertAlmostEquals(actual: number, expected: number, tolerance: number, msg?: string): void {
  if (Math.abs(actual - expected) > tolerance) {
    throw new AssertionError(`${msg ? msg + ": " : ""}expected ${actual} to be within ${tolerance} of ${expected}`);
  }
}

/** Asserts that `fn` throws (optionally an instance of `Cls`) and returns the error. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  Cls?: new (...args: never[]) => E,
  msg?: string,
): E {
  try {
    fn();
  } catch (e) {
    if (Cls && !(e instanceof Cls)) {
      throw new AssertionError(`expected ${Cls.name}, got ${show(e)}`);
    }
    if (msg && !(e as Error).message.includes(msg)) {
      throw new AssertionError(`expected message to include ${show(msg)}, got ${show((e as Error).message)}`);
    }
    return e as E;
  }
  throw new AssertionError("expected function to throw");
}

/** Asserts that the promise rejects (optionally with `Cls`) and returns the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  Cls?: new (...args: never[]) => E,
  msg?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    if (Cls && !(e instanceof Cls)) throw new AssertionError(`expected ${Cls.name}, got ${show(e)}`);
    if (msg && !(e as Error).message.includes(msg)) {
      throw new AssertionError(`expected message to include ${show(msg)}, got ${show((e as Error).message)}`);
    }
    return e as E;
  }
  throw new AssertionError("expected promise to reject");
}
