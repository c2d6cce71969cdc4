/**
 * Runs health checks: one loop per target at its interval, results through a {@link Dampener},
 * state changes reported to a callback (the director turns them into weight 0 or removal).
 * Targets are reconciled by key on every reload, keeping the state of unchanged ones.
 *
 * @module
 */
import type { HealthCheckConfig } from "../config/health_schema.ts";
import { getLogger } from "../core/log.ts";
import type { Checker, CheckResult } from "./checker.ts";
import { Dampener } from "./dampener.ts";
import { HttpChecker } from "./http.ts";
import { TcpChecker } from "./tcp.ts";

const log = getLogger("lb.health");

/** One server to watch. */
export interface MonitorTarget {
  /** Unique key, e.g. `VIP:PORT/ADDR:PORT`. */
  key: string;
  /** Host name or IP address to probe. */
  address: string;
  /** Port to probe. */
  port: number;
  /** The service's health check settings. */
  check: HealthCheckConfig;
}

/** What the monitor knows about a target. */
export interface TargetState {
  /** Dampened state. */
  up: boolean;
  /** Probes run. */
  checks: number;
  /** Probes failed. */
  failures: number;
  /** The latest probe result. */
  last?: CheckResult;
}

/** Builds the checker for a config, or `undefined` for `type: none`. */
export function checkerFor(check: HealthCheckConfig): Checker | undefined {
  switch (check.type) {
    case "tcp":
      return new TcpChecker();
    case "http":
      return new HttpChecker({
        path: check.path ?? "/",
        host: check.host,
        expectStatus: check.expectStatus,
        bodySha256: check.bodySha256,
      });
    default:
      return undefined;
  }
}

interface Running {
  target: MonitorTarget;
  config: string;
  state: TargetState;
  dampener: Dampener;
  ac: AbortController;
  done: Promise<void>;
}

/** The health monitor. */
export class HealthMonitor {
  readonly #onChange: (key: string, up: boolean, result: CheckResult) => void;
  readonly #onResult?: (key: string, result: CheckResult) => void;
  readonly #running = new Map<string, Running>();

  /**
   * Creates a monitor without targets.
   *
   * @param opts.onChange called when a target's dampened state flips
   * @param opts.onResult called after every probe (metrics)
   */
  constructor(opts: {
    onChange: (key: string, up: boolean, result: CheckResult) => void;
    onResult?: (key: string, result: CheckResult) => void;
  }) {
    this.#onChange = opts.onChange;
    this.#onResult = opts.onResult;
  }

  /** Replaces the target set: starts new ones, stops missing ones, restarts changed ones. */
  set(targets: readonly MonitorTarget[]): void {
    const want = new Map(targets.map((t) => [t.key, t]));
    for (const [key, r] of this.#running) {
      const t = want.get(key);
      if (!t || JSON.stringify(t.check) !== r.config || t.address !== r.target.address || t.port !== r.target.port) {
        r.ac.abort();
        this.#running.delete(key);
      }
    }
    for (const t of targets) {
      if (this.#running.has(t.key)) continue;
      const checker = checkerFor(t.check);
      const state: TargetState = { up: true, checks: 0, failures: 0 };
      const dampener = new Dampener({ rise: t.check.rise, fall: t.check.fall, initiallyUp: true });
      const ac = new AbortController();
      const r: Running = { target: t, config: JSON.stringify(t.check), state, dampener, ac, done: Promise.resolve() };
      if (checker) r.done = this.#loop(r, checker);
      this.#running.set(t.key, r);
    }
  }

  /** State of a target. */
  state(key: string): TargetState | undefined {
    return this.#running.get(key)?.state;
  }

  async #loop(r: Running, checker: Checker): Promise<void> {
    const { target, ac } = r;
    while (!ac.signal.aborted) {
      const probe = { address: target.address, port: target.check.port ?? target.port };
      const result = await checker.check(probe, target.check.timeoutMs);
      if (ac.signal.aborted) break;
      r.state.checks++;
      if (!result.ok) r.state.failures++;
      r.state.last = result;
      this.#onResult?.(target.key, result);
      if (r.dampener.feed(result.ok)) {
        r.state.up = r.dampener.up;
        log.warn(r.state.up ? "Real server is up" : "Real server is down", {
          backend: `${target.address}:${target.port}`,
          check: target.check.type,
          reason: result.reason,
        });
        this.#onChange(target.key, r.state.up, result);
      }
      await sleep(target.check.intervalMs, ac.signal);
    }
  }

  /** Stops every loop and waits for probes in flight. */
  async stop(): Promise<void> {
    const all = [...this.#running.values()];
    this.#running.clear();
    for (const r of all) r.ac.abort();
    await Promise.all(all.map((r) => r.done));
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
