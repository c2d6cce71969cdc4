/**
 * The director's decisions and forwarding: virtual services, real servers, IPVS schedulers
 * (`scheduler/`), persistence templates, the connection table with TCP state tracking, the
 * {@link Dispatcher} that combines them (pure, Worker-safe), and the forwarders (`proxy/` here;
 * `dataplane/` for DR/TUN, built on the top-level `packet/` codecs).
 *
 * The data plane uses only {@link Dispatcher}: `schedule(flow, tcpFlags, nowMs) → server id | undefined`,
 * `server(id)`, `account(...)` and `expire(nowMs)`.
 *
 * Connection state across restarts (`director.stateFile`): `conn_state.ts` snapshots and restores a
 * dispatcher's table and templates by server key, `conn_state_codec.ts` is the file format and
 * `conn_state_file.ts` reads and atomically writes it.
 *
 * @module
 */
export { CONN_ENTRY_BYTES, ConnTable } from "./conn_table.ts";
export { exportConnState, importConnState, type RestoreSummary } from "./conn_state.ts";
export {
  type ConnState,
  ConnStateDecodeError,
  type ConnStateServer,
  type ConnStateService,
  decodeConnState,
  encodeConnState,
} from "./conn_state_codec.ts";
export { ConnStateFile } from "./conn_state_file.ts";
export {
  addrNumber,
  Dispatcher,
  type DispatcherCounters,
  type DispatcherOptions,
  Reason,
  REASON_NAMES,
  type RouteDecision,
  type ServiceSpec,
} from "./dispatcher.ts";
export { type ForwardMethod, type MemberState, RealServer } from "./real_server.ts";
export * from "./tcp_state.ts";
export type { FlowOffload } from "./flow_offload.ts";
export { type Template, VirtualService } from "./virtual_service.ts";
export { route } from "./route.ts";
export {
  createScheduler,
  type FlowKey,
  type SchedDest,
  type Scheduler,
  SCHEDULER_NAMES,
  type SchedulerName,
} from "./scheduler/mod.ts";
export type { DirectorConfig, ServiceConfig } from "../config/director_schema.ts";
export { Director, type DirectorStatus, type MemberView, type ServerStatus, type ServiceStatus } from "./director.ts";
export {
  type Forwarder,
  type ForwarderContext,
  type ForwarderFactory,
  MissingForwarderError,
  registerForwarder,
} from "./forwarder.ts";
export { type ProxyFailures, ProxyForwarder } from "./proxy/proxy_forwarder.ts";
export { MaglevHashing } from "./scheduler/mh.ts";
export { Estimator, type Rates, type Totals } from "./estimator.ts";
