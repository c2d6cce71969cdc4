import { assertEquals } from "../tests/_assert.ts";
import { canonicalAddress, parseProcNetTcp } from "./proc_net_tcp.ts";

// Lines as the kernel prints them (little-endian x86-64), trimmed of the trailing columns'
// spacing only.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 424242 1 0000000000000000 20 4 30 10 -1
   2: 0A01A8C0:0050 6401A8C0:D431 01 00000000:00000000 00:00000000 00000000     0        0 7 1 0000000000000000 20 4 30 10 -1
   garbage line
`;

const TCP6 =
  `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:9C40 01 00000000:00000000 00:00000000 00000000     0        0 555 1 0000000000000000 20 4 30 10 -1
   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000200007F:9C41 01 00000000:00000000 00:00000000 00000000     0        0 556 1 0000000000000000 20 4 30 10 -1
   2: B80D0120000000000000000001000000:01BB B80D0120000000000000000002000000:9C42 01 00000000:00000000 00:00000000 00000000     0        0 557 1 0000000000000000 20 4 30 10 -1
`;

Deno.test("parseProcNetTcp() decodes IPv4 ends, ports and inodes, and skips what does not parse", () => {
  assertEquals(parseProcNetTcp(TCP), [
    { localAddress: "127.0.0.1", localPort: 8080, remoteAddress: "0.0.0.0", remotePort: 0, inode: "31337" },
    { localAddress: "127.0.0.1", localPort: 8080, remoteAddress: "127.0.0.1", remotePort: 50000, inode: "424242" },
    { localAddress: "192.168.1.10", localPort: 80, remoteAddress: "192.168.1.100", remotePort: 54321, inode: "7" },
  ]);
});

Deno.test("parseProcNetTcp() decodes IPv6 ends to Deno's spelling, IPv4-mapped ones as IPv4", () => {
  assertEquals(parseProcNetTcp(TCP6).map((s) => [s.localAddress, s.remoteAddress, s.remotePort, s.inode]), [
    ["::1", "::1", 40000, "555"],
    ["127.0.0.1", "127.0.0.2", 40001, "556"],
    ["2001:db8::1", "2001:db8::2", 40002, "557"],
  ]);
});

Deno.test("canonicalAddress() spells IPv4-mapped addresses as IPv4 and lowercases", () => {
  assertEquals(canonicalAddress("::ffff:10.0.0.1"), "10.0.0.1");
  assertEquals(canonicalAddress("2001:DB8::1"), "2001:db8::1");
  assertEquals(canonicalAddress("127.0.0.1"), "127.0.0.1");
});
