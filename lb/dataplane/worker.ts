/**
 * Entry of the data-plane Worker. The Worker is started with the name
 * {@link DATAPLANE_WORKER_NAME}; this module starts the forwarding loop when it is evaluated in
 * such a Worker, whether loaded on its own (from source) or as part of the bundle (the bundle is
 * then its own Worker script and `main.ts` skips the CLI, see {@link isDataplaneWorker}).
 *
 * Messages to the main thread: `{type: "servers", servers}` after each configuration,
 * `{type: "stopped"}` at the end, `{type: "error", name, message, missing?}` on failure, and with
 * `state` in the init the connection-state messages of `state_keeper.ts` (`restored`, `state`), and
 * with `ha` the connection-sync batches of `lb/ha/loop_hook.ts` (`ha-sync`).
 *
 * @module
 */
import { type LoopInit, runForwardingLoop } from "./forwarding_loop.ts";
import { StateKeeper, type StateKeeperOptions } from "./state_keeper.ts";
import { HaLoopHook } from "../ha/loop_hook.ts";

/** What the Worker is started with: the loop's init plus the connection-state options. */
export interface WorkerInit extends LoopInit {
  /** Restore and save the connection state (`director.stateFile`); absent: neither. */
  state?: StateKeeperOptions;
}

/** Name given to the data-plane Worker. */
export const DATAPLANE_WORKER_NAME = "webcache-dataplane";

/** Whether this isolate is the data-plane Worker. */
export function isDataplaneWorker(): boolean {
  return (globalThis as { name?: string }).name === DATAPLANE_WORKER_NAME && typeof Deno !== "undefined" &&
    !("document" in globalThis) && typeof (globalThis as { postMessage?: unknown }).postMessage === "function";
}

function start(): void {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<WorkerInit>) => void) | null;
    postMessage(msg: unknown, transfer?: Transferable[]): void;
    close(): void;
  };
  scope.onmessage = (e) => {
    scope.onmessage = null;
    try {
      const keeper = e.data.state &&
        new StateKeeper(e.data.state, (msg, transfer) => scope.postMessage(msg, transfer));
      const ha = e.data.ha && new HaLoopHook(e.data.ha, (msg, transfer) => scope.postMessage(msg, transfer));
      runForwardingLoop(e.data, (servers) => scope.postMessage({ type: "servers", servers }), keeper, ha);
      scope.postMessage({ type: "stopped" });
    } catch (err) {
      const error = err as Error & { missing?: string[] };
      scope.postMessage({ type: "error", name: error.name, message: error.message, missing: error.missing });
    }
  };
}

if (isDataplaneWorker()) start();
