/**
 * HTTP server metrics (both roles' listeners).
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `webcache_http_proxy_protocol_refused_total` | counter | connections closed because their sender may not send PROXY headers |
 * | `webcache_http_tls_handshakes_total` | counter | `result`: ok, failed (bad client hello, no common version or cipher, a client that stalls past the header timeout) |
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

/** TLS handshakes on TLS listeners, by result (`ok`, `failed`). */
export const tlsHandshakes: InstanceType<typeof Counter> = new Counter({
  name: "webcache_http_tls_handshakes_total",
  help: "TLS handshakes on TLS listeners by result: ok, failed (malformed or plain-text client hello, no common " +
    "version or cipher, or a client that stalled past the header timeout).",
  labelNames: ["result"],
  registers: [registry],
});
