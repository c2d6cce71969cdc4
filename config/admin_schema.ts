/**
 * `admin:` — the management HTTP endpoint (/healthz, /metrics, /status, dashboard).
 *
 * @module
 */
import { z } from "zod";
import { cidr, host, hostPort } from "./_types.ts";

/** Schema of the `admin` section. */
export const AdminSchema = z.strictObject({
  listen: hostPort().default("127.0.0.1:9090").describe(
    "Address of the admin endpoint. Default loopback only, so strangers cannot reach it. Reload: no (restart).",
  ),
  allow: z.array(cidr()).default(["127.0.0.0/8", "::1/128"]).describe(
    "Client networks that may use the admin endpoint without a token. Others need admin.token. Reload: yes.",
  ),
  token: z.string().min(16).optional().describe(
    "Bearer token (at least 16 characters) that admits clients outside admin.allow. Unset: only admin.allow. Reload: yes.",
  ),
  hosts: z.array(host()).default([]).describe(
    "Host names (besides IP addresses, localhost and this machine's name) under which clients reach the admin " +
      "endpoint. A request with any other Host gets 421: this defeats DNS rebinding, where a web page re-points " +
      "its own name at the admin address. Reload: no (restart).",
  ),
}).prefault({});
