/**
 * `log:` — logging levels and format.
 *
 * @module
 */
import { z } from "zod";

const level = z.enum(["debug", "info", "warn", "error", "silent"]);

/** Schema of the `log` section. */
export const LogSchema = z.strictObject({
  level: level.default("info").describe(
    "Default log level for every component. Reload: yes. Overridden by --log-level.",
  ),
  format: z.enum(["json", "logfmt"]).default("json").describe(
    "Log line format on stderr: JSON lines or logfmt. Reload: yes.",
  ),
  components: z.record(z.string(), level).default({}).describe(
    "Per-component levels by dotted prefix, e.g. {icp: debug, lb.health: warn} (Squid's debug sections). Reload: yes.",
  ),
}).prefault({});
