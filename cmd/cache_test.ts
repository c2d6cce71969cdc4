import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { parseListenFlag } from "./cache.ts";

Deno.test("parseListenFlag() reads mode, proxy and a TLS certificate and key", () => {
  assertEquals(parseListenFlag("0.0.0.0:80"), { address: "0.0.0.0:80", mode: "accel", proxyProtocol: false });
  assertEquals(parseListenFlag("0.0.0.0:443,mode=forward,cert=/c.pem,key=/k.pem"), {
    address: "0.0.0.0:443",
    mode: "forward",
    proxyProtocol: false,
    tls: { cert: "/c.pem", key: "/k.pem" },
  });
  assertThrows(() => parseListenFlag("0.0.0.0:443,cert=/c.pem"), SyntaxError, "both cert=FILE and key=FILE");
  assertThrows(() => parseListenFlag("0.0.0.0:443,tls"), SyntaxError, "unknown option");
});
