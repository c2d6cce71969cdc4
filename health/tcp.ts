/**
 * TCP connect check (keepalived's TCP_CHECK): the server is healthy when a TCP connection opens
 * within the timeout; the connection is closed at once.
 *
 * @module
 */
import { type Checker, type CheckResult, type CheckTarget, errorReason } from "./checker.ts";

/** TCP connect checker. */
export class TcpChecker implements Checker {
  readonly type = "tcp";

  /** Connects and closes. */
  async check(target: CheckTarget, timeoutMs: number): Promise<CheckResult> {
    const start = performance.now();
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new DOMException("timeout", "TimeoutError")), timeoutMs);
    try {
      const conn = await Deno.connect({ hostname: target.address, port: target.port, signal: ac.signal });
      conn.close();
      return { ok: true, latencyMs: performance.now() - start };
    } catch (e) {
      return {
        ok: false,
        reason: ac.signal.aborted ? "timeout" : errorReason(e),
        latencyMs: performance.now() - start,
      };
    } finally {
      clearTimeout(timer);
    }
  }
}
