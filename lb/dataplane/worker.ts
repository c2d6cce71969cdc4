/**
 * Entry of the data-plane Worker. The Worker is started with the name
 * {@link DATAPLANE_WORKER_NAME}; this module starts the forwarding loop when it is evaluated in
 * such a Worker, whether loaded on its own (from source) or as part of the bundle (the bundle is
 * then its own Worker script and `main.ts` skips the CLI, see {@link isDataplaneWorker}).
 *
 * Messages to the main thread: `{type: "servers", servers}` after each configuration,
 * `{type: "stopped"}` at the end, `{type: "error", name, message, missing?}` on failure.
 *
 * @module
 */
import { type LoopInit, runForwardingLoop } from "./forwarding_loop.ts";

/** Name given to the data-plane Worker. */
export const DATAPLANE_WORKER_NAME = "webcache-dataplane";

/** Whether this isolate is the data-plane Worker. */
export function isDataplaneWorker(): boolean {
  return (globalThis as { name?: string }).name === DATAPLANE_WORKER_NAME && typeof Deno !== "undefined" &&
    !("document" in globalThis) && typeof (globalThis as { postMessage?: unknown }).postMessage === "function";
}

function start(): void {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<LoopInit>) => void) | null;
    postMessage(msg: unknown): void;
    close(): void;
  };
  scope.onmessage = (e) => {
    scope.onmessage = null;
    try {
      runForwardingLoop(e.data, (servers) => scope.postMessage({ type: "servers", servers }));
      scope.postMessage({ type: "stopped" });
    } catch (err) {
      const error = err as Error & { missing?: string[] };
      scope.postMessage({ type: "error", name: error.name, message: error.message, missing: error.missing });
    }
  };
}

if (isDataplaneWorker()) start();
