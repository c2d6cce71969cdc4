/**
 * Entry of the decapsulator Worker (named {@link DECAP_WORKER_NAME}); like the data-plane Worker
 * it starts when evaluated under that name, from source or inside the bundle.
 *
 * @module
 */
import { type DecapInit, runDecapLoop } from "./decap_loop.ts";

/** Name given to the decapsulator Worker. */
export const DECAP_WORKER_NAME = "webcache-decap";

/** Whether this isolate is the decapsulator Worker. */
export function isDecapWorker(): boolean {
  return (globalThis as { name?: string }).name === DECAP_WORKER_NAME && "postMessage" in globalThis;
}

if (isDecapWorker()) {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<DecapInit>) => void) | null;
    postMessage(msg: unknown): void;
  };
  scope.onmessage = (e) => {
    scope.onmessage = null;
    try {
      runDecapLoop(e.data);
      scope.postMessage({ type: "stopped" });
    } catch (err) {
      scope.postMessage({ type: "error", message: (err as Error).message });
    }
  };
}
