/**
 * Health check settings, used per virtual service (`director.services[].health`) with these defaults.
 *
 * @module
 */
import { z } from "zod";
import { count, durationMs, port } from "./_types.ts";

/**
 * The path where a webcache cache answers for itself on its serving port, without asking an
 * origin: 200 while it can serve, 503 while it drains or a cache directory is gone.
 */
export const CACHE_HEALTH_PATH = "/.well-known/webcache/health";

/** Schema of one health check (keepalived's HTTP_GET / TCP_CHECK). */
export const HealthCheckSchema = z.strictObject({
  type: z.enum(["http", "tcp", "none"]).default("http").describe(
    "Checker: http (GET path, expect a status range), tcp (connect), none (always healthy). Reload: yes.",
  ),
  path: z.string().startsWith("/").optional().describe(
    `HTTP path to GET. Default ${CACHE_HEALTH_PATH} (the cache's own health, answered without the origin) ` +
      "for a service with fromMembership: true, else /. Reload: yes.",
  ),
  port: port().optional().describe(
    "Port to probe instead of the real server's (e.g. a cache's accelerator port behind a DR service on " +
      "another port). Reload: yes.",
  ),
  host: z.string().optional().describe("Host header for HTTP checks; default the real server's address."),
  expectStatus: z.string().regex(/^\d{3}(-\d{3})?$/).default("200-399").describe(
    "Accepted status or range, e.g. 200 or 200-399. Reload: yes.",
  ),
  bodySha256: z.string().regex(/^[0-9a-f]{64}$/).optional().describe(
    "Optional hex SHA-256 the body must match (keepalived's digest). Reload: yes.",
  ),
  intervalMs: durationMs(50).default(2000).describe(
    "Milliseconds between checks of one server. Lower is faster failover, more probe traffic. Reload: yes.",
  ),
  timeoutMs: durationMs(10).default(1000).describe("Milliseconds before a check counts as failed. Reload: yes."),
  rise: count(1).max(1000).default(2).describe("Consecutive successes before a down server is up again. Reload: yes."),
  fall: count(1).max(1000).default(3).describe(
    "Consecutive failures before an up server is down. Failover bound = fall × intervalMs + timeoutMs. Reload: yes.",
  ),
  inhibitOnFailure: z.boolean().default(false).describe(
    "On failure set weight 0 (keeps connections, takes none new) instead of removing the server. Reload: yes.",
  ),
}).prefault({});

/** A validated health check setting. */
export type HealthCheckConfig = z.output<typeof HealthCheckSchema>;
