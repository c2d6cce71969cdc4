/**
 * Test helper process: a UDP socket on 0.0.0.0:PORT that prints "ready", then each datagram's
 * payload as one line. Shows what a host's kernel delivered to a local socket.
 *
 * Usage: _udp_listener.ts PORT
 *
 * @module
 */
const sock = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: Number(Deno.args[0]) });
console.log("ready");
const dec = new TextDecoder();
Deno.addSignalListener("SIGTERM", () => {
  sock.close();
  Deno.exit(0);
});
for await (const [data] of sock) console.log(dec.decode(data));
