/**
 * The health checker contract: one probe of one real server, returning a {@link CheckResult}
 * instead of throwing (checks degrade and count, they do not crash).
 *
 * @module
 */

/** Outcome of one probe. */
export interface CheckResult {
  /** Whether the server passed. */
  ok: boolean;
  /** Why it failed (`timeout`, `refused`, `status 503`, `digest mismatch`...). */
  reason?: string;
  /** Duration of the probe in ms. */
  latencyMs: number;
}

/** A probe target. */
export interface CheckTarget {
  /** Host name or IP address. */
  address: string;
  /** Port to probe. */
  port: number;
}

/** One kind of health check (keepalived's TCP_CHECK, HTTP_GET...). */
export interface Checker {
  /** `tcp`, `http`... */
  readonly type: string;
  /**
   * Probes a server once.
   *
   * @param target what to probe
   * @param timeoutMs give up and report failure after this long
   * @returns the result; never rejects
   */
  check(target: CheckTarget, timeoutMs: number): Promise<CheckResult>;
}

/** Classifies an error from a probe as a short reason. */
export function errorReason(e: unknown): string {
  if (e instanceof Deno.errors.ConnectionRefused) return "refused";
  if (e instanceof Deno.errors.TimedOut || (e instanceof DOMException && e.name === "TimeoutError")) return "timeout";
  if (e instanceof DOMException && e.name === "AbortError") return "timeout";
  if (e instanceof Deno.errors.ConnectionReset) return "reset";
  return (e as Error)?.message ?? String(e);
}

/**
 * Runs `fn` with a deadline: resolves its value, or rejects with a `TimeoutError` DOMException.
 * The connection started by `fn` is closed by `onTimeout`.
 */
export function withDeadline<T>(p: Promise<T>, timeoutMs: number, onTimeout: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new DOMException("health check timed out", "TimeoutError"));
    }, timeoutMs);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
