/**
 * A Chrome DevTools Protocol session with a process's V8 inspector (`--inspect=host:port`), for
 * the profiling scripts (`cpu_profile.ts`, `alloc_profile.ts`).
 *
 * @module
 */

/** An open session: `call()` sends a method and resolves with its result. */
export interface InspectorSession {
  call(method: string, params?: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Opens a session with the first inspector target on `port` (127.0.0.1).
 *
 * @param port inspector port
 * @returns the session
 */
export async function inspectorSession(port: number): Promise<InspectorSession> {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  if (targets.length === 0) throw new RangeError(`Cannot profile: no inspector target on port ${port}`);
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const pending = new Map<number, (v: unknown) => void>();
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    pending.get(m.id)?.(m.result);
    pending.delete(m.id);
  };
  return {
    call: (method, params = {}) =>
      new Promise<unknown>((resolve) => {
        pending.set(++id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: async () => {
      const closed = new Promise((r) => ws.onclose = r);
      ws.close();
      await closed;
    },
  };
}
