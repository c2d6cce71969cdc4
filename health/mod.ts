/**
 * Health checking of real servers: the {@link Checker} contract, one checker per file (TCP connect,
 * HTTP GET), the pure rise/fall {@link Dampener}, and the {@link HealthMonitor} that runs checks
 * at their interval and reports state changes. Membership states (suspect/dead/left/draining) feed
 * the same server state through `Dispatcher.setMembership()` in `lb/`.
 *
 * @module
 */
export { type Checker, type CheckResult, type CheckTarget, errorReason } from "./checker.ts";
export { dampen, Dampener } from "./dampener.ts";
export { HttpChecker, type HttpCheckOptions, MAX_CHECK_RESPONSE_BYTES, parseStatusRange } from "./http.ts";
export { checkerFor, HealthMonitor, type MonitorTarget, type TargetState } from "./monitor.ts";
export { TcpChecker } from "./tcp.ts";
export { CACHE_HEALTH_PATH, type HealthCheckConfig } from "../config/health_schema.ts";
