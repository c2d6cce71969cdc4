import { assertEquals } from "../tests/_assert.ts";
import { ipv4ToInt } from "../core/addr.ts";
import { fromHex } from "./_hex.ts";
import { FLOW_FRAGMENT, FLOW_NOT_IPV4, FLOW_NOT_TCP, FLOW_OK, FLOW_SHORT, newTcpFlow, parseTcpFlow } from "./flow.ts";
import { TCP_SYN } from "./tcp.ts";

const SYN = "45100028123440003f06151f0a00000a0a000064 c350005000000001000000005002200000000000";

const CASES: { description: string; input: string; expected: number }[] = [
  { description: "a SYN", input: SYN, expected: FLOW_OK },
  { description: "a short packet", input: "4510", expected: FLOW_SHORT },
  { description: "IPv6", input: SYN.replace(/^45/, "65"), expected: FLOW_NOT_IPV4 },
  {
    description: "UDP",
    input: "45100028123440003f11151f0a00000a0a000064 c35000500000000100000000",
    expected: FLOW_NOT_TCP,
  },
  {
    description: "a fragment",
    input: "45100028123420103f06151f0a00000a0a000064 c350005000000001",
    expected: FLOW_FRAGMENT,
  },
  {
    description: "a header without the TCP flags",
    input: "45100028123440003f06151f0a00000a0a000064 c3500050",
    expected: FLOW_SHORT,
  },
];

for (const c of CASES) {
  Deno.test(`parseTcpFlow() returns ${c.expected} for ${c.description}`, () => {
    const bytes = fromHex(c.input);
    const out = newTcpFlow();
    assertEquals(parseTcpFlow(new DataView(bytes.buffer), 0, bytes.length, out), c.expected);
    if (c.expected === FLOW_OK) {
      assertEquals(out, {
        src: ipv4ToInt("10.0.0.10"),
        dst: ipv4ToInt("10.0.0.100"),
        srcPort: 50000,
        dstPort: 80,
        flags: TCP_SYN,
        totalLength: 40,
        df: true,
        ipHeaderBytes: 20,
      });
    }
  });
}
