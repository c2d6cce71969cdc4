/**
 * HTTP server metrics (both roles' listeners).
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `webcache_http_proxy_protocol_refused_total` | counter | connections closed because their sender may not send PROXY headers |
 *
 * @module
 */
import { Counter, registry } from "../core/metrics.ts";

/** Connections to a PROXY protocol listener from a sender outside the trusted networks. */
export const proxyProtocolRefused: InstanceType<typeof Counter> = new Counter({
  name: "webcache_http_proxy_protocol_refused_total",
  help: "Connections to a PROXY protocol listener closed because the sender is not a trusted proxy.",
  registers: [registry],
});
