/**
 * The user-space IP-in-IP decapsulator's loop (runs in a Worker on a TUN real server; beside the eBPF
 * decapsulator it only sees reassembled fragments): poll the
 * raw protocol-4 socket, drain it with recvmmsg, check each outer source against the allowed
 * directors (a {@link DecapAllowList} in shared memory the main thread may change at any time), strip the outer header and write the inner packet to the TUN device, from which the
 * kernel delivers it to the local VIP as if it had arrived on that interface.
 *
 * Shared counters (Float64Array over a SharedArrayBuffer, one writer):
 *
 * ```text
 * [0] packets decapsulated   [1] bytes (inner)   [2] dropped: outer source not allowed
 * [3] dropped: malformed     [4] dropped: TUN write failed   [5] running (1) / stopped (0)
 * [6] stop request (main thread sets 1)
 * ```
 *
 * @module
 */
import { decapsulateIpip } from "../packet/ipip.ts";
import { DecapAllowList, sourceAllowed } from "./decap_allow_list.ts";
import { PacketBatch, Poller } from "./packet_socket.ts";
import { writePacket } from "./tun_device.ts";

// The kernel verified the outer header checksum before the raw socket got the packet.
const NO_OUTER_CHECKSUM = { verifyOuterChecksum: false };

/** Counter indexes. */
export const DECAP = { packets: 0, bytes: 1, dropSource: 2, dropMalformed: 3, dropWrite: 4, running: 5, stop: 6 };
/** Number of counter words. */
export const DECAP_WORDS = 8;

/** What the decapsulator Worker is started with. */
export interface DecapInit {
  sab: SharedArrayBuffer;
  rawFd: number;
  tunFd: number;
  /** Memory of the {@link DecapAllowList} of allowed outer sources (directors). */
  allowed: SharedArrayBuffer;
}

/**
 * Runs until `counters[DECAP.stop]` becomes 1. Synchronous: blocks its thread.
 *
 * @param init descriptors, allowed sources and shared counters
 */
export function runDecapLoop(init: DecapInit): void {
  const c = new Float64Array(init.sab);
  const allowList = new DecapAllowList(init.allowed);
  const batch = new PacketBatch(64, 65536, 0);
  const poller = new Poller([init.rawFd]);
  const sock = { fd: init.rawFd };
  c[DECAP.running] = 1;
  try {
    while (c[DECAP.stop] !== 1) {
      poller.wait(100);
      for (let rounds = 0; rounds < 64; rounds++) {
        const n = batch.recv(sock);
        if (n === 0) break;
        const allowed = allowList.snapshot();
        for (let i = 0; i < n; i++) {
          const off = batch.dataOffset(i);
          const pkt = batch.buffer.subarray(off, off + batch.lengths[i]);
          let inner: Uint8Array;
          try {
            const d = decapsulateIpip(pkt, NO_OUTER_CHECKSUM);
            if (!sourceAllowed(allowed, d.outer.src)) {
              c[DECAP.dropSource]++;
              continue;
            }
            inner = d.inner;
          } catch {
            c[DECAP.dropMalformed]++;
            continue;
          }
          if (writePacket(init.tunFd, inner) < 0) {
            c[DECAP.dropWrite]++;
            continue;
          }
          c[DECAP.packets]++;
          c[DECAP.bytes] += inner.length;
        }
      }
    }
  } finally {
    c[DECAP.running] = 0;
  }
}
