/**
 * The director's DR/TUN data plane: a Worker that forwards client-to-VIP packets over AF_PACKET
 * (`forwarding_loop.ts`), its shared-memory control block (`control.ts`), the main-thread
 * {@link PacketForwarder} and the director's `Forwarder` adapter ({@link DataplaneForwarder}), and the
 * Worker's side of the in-kernel DR fast path ({@link FastPathOffload}: established flows are forwarded by
 * an eBPF program at tcx ingress, `netctl/dr_fast_path.ts`).
 *
 * Importing this module registers the `dr` and `tun` forwarders with the director
 * (`lb/forwarder.ts`), so `cmd/director.ts` only needs `import "../lb/dataplane/mod.ts"`.
 *
 * @module
 */
import { registerForwarder } from "../forwarder.ts";
import { DataplaneForwarder } from "./dataplane_forwarder.ts";

export * from "./config.ts";
export * from "./control.ts";
export { DataplaneForwarder } from "./dataplane_forwarder.ts";
export { FastPathOffload, type SlotTarget } from "./fast_path_offload.ts";
export { filterFor, type LoopInit, type ServerInfo } from "./forwarding_loop.ts";
export { type ForwarderServerStats, type ForwarderStats, PacketForwarder } from "./packet_forwarder.ts";
export { DATAPLANE_WORKER_NAME, isDataplaneWorker, type WorkerInit } from "./worker.ts";
export { type LoopStateHook, StateKeeper, type StateKeeperOptions, type StateMessage } from "./state_keeper.ts";

const factory = (ctx: Parameters<typeof registerForwarder>[1] extends (c: infer C) => unknown ? C : never) =>
  new DataplaneForwarder(ctx);
// One factory for both methods: the director then runs one forwarder for DR and TUN services.
registerForwarder("dr", factory);
registerForwarder("tun", factory);
