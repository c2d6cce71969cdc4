import { assertEquals } from "../tests/_assert.ts";
import { listenError } from "./listen_error.ts";

Deno.test("listenError() keeps the error class and names the address and key", async () => {
  const first = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    let thrown: unknown;
    try {
      Deno.listen({ hostname: "127.0.0.1", port: first.addr.port });
    } catch (e) {
      thrown = e;
    }
    const e = listenError(thrown, `127.0.0.1:${first.addr.port}`, "cache.listen");
    assertEquals(e instanceof Deno.errors.AddrInUse, true);
    assertEquals(e.message, `Cannot listen on 127.0.0.1:${first.addr.port} (cache.listen): Address already in use`);
    assertEquals(listenError("x", "h:1", "k").message, "Cannot listen on h:1 (k): x");
  } finally {
    first.close();
  }
  await Promise.resolve();
});
