/**
 * TCP connection states tracked from the client's packets only, as IPVS does for DR/TUN where the
 * director never sees replies (the "input only" table of `ip_vs_proto_tcp.c`), with IPVS's state
 * numbers and default timeouts.
 *
 * Transitions (rows: the packet's decisive flag, RST > SYN > FIN > ACK; columns: current state):
 *
 * ```text
 *          NONE      ESTAB     SYN_RECV  FIN_WAIT  TIME_WAIT CLOSE
 *   syn    SYN_RECV  ESTAB     SYN_RECV  SYN_RECV  SYN_RECV  SYN_RECV
 *   fin    CLOSE     FIN_WAIT  TIME_WAIT FIN_WAIT  TIME_WAIT CLOSE
 *   ack    ESTAB*    ESTAB     ESTAB     FIN_WAIT  TIME_WAIT CLOSE
 *   rst    CLOSE     CLOSE     SYN_RECV  CLOSE     CLOSE     CLOSE
 * ```
 *
 * `*` differs from IPVS on purpose: a mid-flow packet of an unknown flow (director restart, "sloppy"
 * scheduling) becomes ESTABLISHED with its 900 s timeout instead of CLOSE with 10 s, so an idle
 * keep-alive connection survives a restart. A packet with none of these flags keeps the state.
 * The dispatcher reschedules a SYN that arrives on a FIN_WAIT, TIME_WAIT or CLOSE entry (port reuse).
 *
 * @module
 */

/** TCP header flag bits (byte 13 of the TCP header). */
export const TCP_FIN = 0x01;
/** SYN flag. */
export const TCP_SYN = 0x02;
/** RST flag. */
export const TCP_RST = 0x04;
/** PSH flag. */
export const TCP_PSH = 0x08;
/** ACK flag. */
export const TCP_ACK = 0x10;

/** IPVS state numbers (`IP_VS_TCP_S_*`); only the first seven occur with input-only tracking. */
export const TcpState = {
  NONE: 0,
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT: 4,
  TIME_WAIT: 5,
  CLOSE: 6,
} as const;

/** ipvsadm's state names by number. */
export const TCP_STATE_NAMES: readonly string[] = [
  "NONE",
  "ESTABLISHED",
  "SYN_SENT",
  "SYN_RECV",
  "FIN_WAIT",
  "TIME_WAIT",
  "CLOSE",
];

/** Timeouts per state in seconds (defaults: IPVS's `tcp_timeouts`). */
export interface TcpTimeouts {
  /** ESTABLISHED, seconds. */
  establishedS: number;
  /** SYN_RECV, seconds. */
  synRecvS: number;
  /** FIN_WAIT, seconds. */
  finWaitS: number;
  /** TIME_WAIT, seconds. */
  timeWaitS: number;
  /** CLOSE, seconds. */
  closeS: number;
}

/** IPVS's defaults. */
export const DEFAULT_TCP_TIMEOUTS: Readonly<TcpTimeouts> = {
  establishedS: 900,
  synRecvS: 60,
  finWaitS: 120,
  timeWaitS: 120,
  closeS: 10,
};

/** Timeouts in milliseconds indexed by state number (NONE and SYN_SENT: 120 s as IPVS). */
export function timeoutTableMs(t: TcpTimeouts): Float64Array {
  return new Float64Array(
    [120, t.establishedS, 120, t.synRecvS, t.finWaitS, t.timeWaitS, t.closeS].map((s) => s * 1000),
  );
}

const S = TcpState;
// [event][state] for states NONE..CLOSE; events syn, fin, ack, rst.
const TABLE: readonly (readonly number[])[] = [
  [S.SYN_RECV, S.ESTABLISHED, S.SYN_RECV, S.SYN_RECV, S.SYN_RECV, S.SYN_RECV, S.SYN_RECV],
  [S.CLOSE, S.FIN_WAIT, S.CLOSE, S.TIME_WAIT, S.FIN_WAIT, S.TIME_WAIT, S.CLOSE],
  [S.ESTABLISHED, S.ESTABLISHED, S.ESTABLISHED, S.ESTABLISHED, S.FIN_WAIT, S.TIME_WAIT, S.CLOSE],
  [S.CLOSE, S.CLOSE, S.CLOSE, S.SYN_RECV, S.CLOSE, S.CLOSE, S.CLOSE],
];

/**
 * The next state after a client packet with `flags`.
 *
 * @param state current state number
 * @param flags TCP flag byte
 * @returns the new state (unchanged when no decisive flag is set)
 */
export function nextTcpState(state: number, flags: number): number {
  const ev = flags & TCP_RST ? 3 : flags & TCP_SYN ? 0 : flags & TCP_FIN ? 1 : flags & TCP_ACK ? 2 : -1;
  if (ev < 0 || state > S.CLOSE) return state;
  return TABLE[ev][state];
}

/** Whether a SYN on an entry in `state` starts a new connection (the old one is finished). */
export function isReusable(state: number): boolean {
  return state === S.FIN_WAIT || state === S.TIME_WAIT || state === S.CLOSE;
}
