import assert from "node:assert/strict";
import { isReusable, nextTcpState, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TcpState } from "./tcp_state.ts";

const S = TcpState;
const table: { from: number; flags: number; to: number; why: string }[] = [
  { from: S.NONE, flags: TCP_SYN, to: S.SYN_RECV, why: "a SYN opens" },
  { from: S.SYN_RECV, flags: TCP_ACK, to: S.ESTABLISHED, why: "the handshake's ACK" },
  { from: S.NONE, flags: TCP_ACK | TCP_PSH, to: S.ESTABLISHED, why: "sloppy: mid-flow data of an unknown flow" },
  { from: S.ESTABLISHED, flags: TCP_FIN | TCP_ACK, to: S.FIN_WAIT, why: "FIN wins over ACK" },
  { from: S.FIN_WAIT, flags: TCP_ACK, to: S.FIN_WAIT, why: "ACKs after FIN keep FIN_WAIT" },
  { from: S.SYN_RECV, flags: TCP_FIN, to: S.TIME_WAIT, why: "FIN during handshake" },
  { from: S.ESTABLISHED, flags: TCP_RST | TCP_ACK, to: S.CLOSE, why: "RST wins over everything" },
  { from: S.SYN_RECV, flags: TCP_RST, to: S.SYN_RECV, why: "IPVS keeps SYN_RECV on RST" },
  { from: S.ESTABLISHED, flags: 0, to: S.ESTABLISHED, why: "no decisive flag" },
  { from: S.TIME_WAIT, flags: TCP_SYN, to: S.SYN_RECV, why: "SYN again" },
];

for (const { from, flags, to, why } of table) {
  Deno.test(`nextTcpState() ${why}`, () => {
    assert.equal(nextTcpState(from, flags), to);
  });
}

Deno.test("isReusable() is true only for FIN_WAIT, TIME_WAIT and CLOSE", () => {
  assert.deepEqual(
    [S.NONE, S.ESTABLISHED, S.SYN_RECV, S.FIN_WAIT, S.TIME_WAIT, S.CLOSE].map(isReusable),
    [false, false, false, true, true, true],
  );
});
