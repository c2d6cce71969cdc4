/**
 * `route(flow, state)`: which real server a flow would get and why, without changing anything
 * (Katran's simulator idea). The CLI's `webcache director route` and the admin endpoint's
 * `/director/route` use it; the decision logic is the dispatcher's own, run on a copy of the
 * scheduler state, so the answer is what the next packet would really get.
 *
 * @module
 */
import type { Dispatcher, RouteDecision } from "./dispatcher.ts";
import type { FlowKey } from "./scheduler/mod.ts";
import { TCP_SYN } from "./tcp_state.ts";

/**
 * Explains the decision for a flow.
 *
 * @param flow the flow (IPv4 as u32)
 * @param state the live (or freshly configured) dispatcher; it is not modified
 * @param opts.nowMs the time to decide at (templates and entries expire), default now
 * @param opts.tcpFlags flags of the hypothetical packet, default a SYN
 * @returns the service, server, reason (`connection`, `template`, `scheduler`, `sorry`,
 *   `overflow`, `no-service`, `no-server`) and a sentence
 * @example
 * ```ts
 * route({ saddr: 0xc0000201, sport: 40000, daddr: 0x0a000064, dport: 80 }, dispatcher).detail;
 * // "scheduler wlc chose 10.0.0.11:80 (weight 1, active 0, inactive 0) among 2 eligible server(s)"
 * ```
 */
export function route(
  flow: FlowKey,
  state: Dispatcher,
  opts: { nowMs?: number; tcpFlags?: number } = {},
): RouteDecision {
  return state.route(flow, opts.nowMs ?? Date.now(), opts.tcpFlags ?? TCP_SYN);
}
