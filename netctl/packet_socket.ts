/**
 * AF_PACKET sockets bound to one interface and EtherType, with an optional classic BPF filter and
 * PACKET_VNET_HDR, and batched receive/send through recvmmsg(2)/sendmmsg(2) over preallocated
 * buffers ({@link PacketBatch}). This is the director's packet I/O; see
 * ../shared/notes/dataplane.md (outside the repository) for why (no libpcap, batching, synchronous calls in a Worker).
 *
 * `struct sockaddr_ll` (20 bytes) as bound:
 *
 * ```text
 * +0 u16 family = AF_PACKET   +2 be16 protocol   +4 i32 ifindex
 * +8 u16 hatype  +10 u8 pkttype  +11 u8 halen  +12 u8 addr[8]
 * ```
 *
 * `struct mmsghdr` (64 bytes) = `struct msghdr` (56) + `u32 msg_len` at 56; msghdr holds
 * `name@0 namelen@8 iov@16 iovlen@24 control@32 controllen@40 flags@48`; `struct iovec` (16) is
 * `base@0 len@8`.
 *
 * @module
 */
import { encodeSockFilters, type SockFilter } from "../packet/bpf.ts";
import {
  AF_PACKET,
  ETH_P_IP,
  htons,
  IOVEC_BYTES,
  MMSGHDR_BYTES,
  MSG_DONTWAIT,
  MSG_TRUNC,
  PACKET_IGNORE_OUTGOING,
  PACKET_QDISC_BYPASS,
  PACKET_VNET_HDR,
  POLLFD_BYTES,
  POLLIN,
  SO_ATTACH_FILTER,
  SO_RCVBUFFORCE,
  SO_SNDBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOCKADDR_LL_BYTES,
  SOL_PACKET,
  SOL_SOCKET,
} from "./_constants.ts";
import { addressOf, check, EACCES, EAGAIN, EINTR, EPERM, errno, errnoOrRetry, libc, OsError, setU64 } from "./_libc.ts";
import { type InterfaceInfo, interfaceInfo } from "./interface_info.ts";
import { missingNetCapabilities, PrivilegeError, privilegeMessage } from "./privileges.ts";

/** How a non-blocking receive or send fails when it is to be tried later. */
const TRY_LATER = [EAGAIN, EINTR] as const;
/** How a non-blocking send fails when the socket buffer is full. */
const SEND_AGAIN = [EAGAIN] as const;

/** Options of {@link PacketSocket.open}. */
export interface PacketSocketOptions {
  /** EtherType to bind (host order), default IPv4 (0x0800). */
  protocol?: number;
  /** Kernel filter; only matching frames reach user space. */
  filter?: readonly SockFilter[];
  /** Prepend `struct virtio_net_hdr` on receive and expect it on send (GSO, partial checksums). */
  vnetHeader?: boolean;
  /** Do not receive frames other sockets of this host send (PACKET_IGNORE_OUTGOING). */
  ignoreOutgoing?: boolean;
  /** SO_RCVBUFFORCE/SO_SNDBUFFORCE in bytes, default 8 MiB. */
  bufferBytes?: number;
  /** Send straight to the driver, skipping the qdisc layer (PACKET_QDISC_BYPASS; generators). */
  qdiscBypass?: boolean;
}

function setInt(fd: number, level: number, name: number, value: number, what: string): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, true);
  check(libc().setsockopt(fd, level, name, b, 4), what);
}

function attachFilter(fd: number, filter: readonly SockFilter[], ifname: string): void {
  const code = encodeSockFilters(filter);
  const prog = new Uint8Array(16);
  const v = new DataView(prog.buffer);
  v.setUint16(0, filter.length, true);
  setU64(v, 8, addressOf(code));
  check(libc().setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, prog, 16), `Cannot attach BPF filter on "${ifname}"`);
}

/** A raw packet socket on one interface. Frames include the Ethernet header. */
export class PacketSocket {
  /** The file descriptor. */
  readonly fd: number;
  /** The interface it is bound to. */
  readonly iface: InterfaceInfo;
  /** Whether frames carry a virtio_net_hdr. */
  readonly vnetHeader: boolean;
  #closed = false;

  private constructor(fd: number, iface: InterfaceInfo, vnet: boolean) {
    this.fd = fd;
    this.iface = iface;
    this.vnetHeader = vnet;
  }

  /**
   * Opens, configures and binds a packet socket (non-blocking).
   *
   * @param ifname interface name
   * @param opts protocol, filter, vnet header, buffer sizes
   * @throws {PrivilegeError} without CAP_NET_RAW (EPERM/EACCES from socket(2))
   * @throws {OsError} for other failures (no such interface...)
   */
  static open(ifname: string, opts: PacketSocketOptions = {}): PacketSocket {
    const c = libc();
    const iface = interfaceInfo(ifname);
    const proto = htons(opts.protocol ?? ETH_P_IP);
    const fd = c.socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd < 0) {
      const err = errno();
      const what = `Cannot open a raw packet socket on "${ifname}"`;
      const missing = missingNetCapabilities();
      if (err === EPERM || err === EACCES || missing.includes("CAP_NET_RAW")) {
        throw new PrivilegeError(privilegeMessage(what, missing.length ? missing : ["CAP_NET_RAW"]), missing, {
          cause: new OsError(what, err),
        });
      }
      throw new OsError(what, err);
    }
    try {
      // Attach the filter before bind so no unfiltered frame is queued.
      if (opts.filter) attachFilter(fd, opts.filter, ifname);
      const buf = opts.bufferBytes ?? 8 * 1024 * 1024;
      setInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, buf, "Cannot set SO_RCVBUFFORCE");
      setInt(fd, SOL_SOCKET, SO_SNDBUFFORCE, buf, "Cannot set SO_SNDBUFFORCE");
      if (opts.vnetHeader) setInt(fd, SOL_PACKET, PACKET_VNET_HDR, 1, "Cannot enable PACKET_VNET_HDR");
      if (opts.qdiscBypass) setInt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1, "Cannot enable PACKET_QDISC_BYPASS");
      if (opts.ignoreOutgoing) {
        setInt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "Cannot enable PACKET_IGNORE_OUTGOING");
      }
      const sll = new Uint8Array(SOCKADDR_LL_BYTES);
      const v = new DataView(sll.buffer);
      v.setUint16(0, AF_PACKET, true);
      v.setUint16(2, proto, true);
      v.setInt32(4, iface.index, true);
      check(c.bind(fd, sll, SOCKADDR_LL_BYTES), `Cannot bind packet socket to "${ifname}"`);
      // A socket receives from creation until bind; drain anything queued before the filter applied.
      const scratch = new Uint8Array(2048);
      while (c.recv(fd, scratch, BigInt(scratch.length), MSG_DONTWAIT) >= 0) { /* discard */ }
    } catch (e) {
      c.close(fd);
      throw e;
    }
    return new PacketSocket(fd, iface, opts.vnetHeader ?? false);
  }

  /**
   * Replaces the kernel filter (e.g. after the services changed).
   *
   * @param filter the new program
   * @throws {OsError} when the kernel rejects it
   */
  setFilter(filter: readonly SockFilter[]): void {
    attachFilter(this.fd, filter, this.iface.name);
  }

  /**
   * Sends one frame (with its virtio_net_hdr first when enabled).
   *
   * @param frame the bytes to send
   * @returns bytes sent, or -1 when the socket buffer is full (EAGAIN)
   * @throws {OsError} for other errors
   */
  send(frame: Uint8Array): number {
    const send = () => libc().send(this.fd, frame as Uint8Array<ArrayBuffer>, BigInt(frame.length), 0);
    const n = Number(send());
    if (n < 0) {
      const err = errnoOrRetry(send, SEND_AGAIN);
      if (err < 0) return -1 - err; // sent after all
      if (err === EAGAIN) return -1;
      throw new OsError(`Cannot send a frame on "${this.iface.name}"`, err);
    }
    return n;
  }

  /**
   * Receives one frame without blocking.
   *
   * @param buf destination
   * @returns the frame length (may exceed `buf.length` when truncated), or -1 when none is queued
   */
  recv(buf: Uint8Array<ArrayBuffer>): number {
    const n = Number(libc().recv(this.fd, buf, BigInt(buf.length), MSG_DONTWAIT | MSG_TRUNC));
    if (n < 0) {
      const err = errnoOrRetry(
        () => libc().recv(this.fd, buf, BigInt(buf.length), MSG_DONTWAIT | MSG_TRUNC),
        TRY_LATER,
      );
      if (err < 0) return -1 - err; // received after all
      if (err === EAGAIN || err === EINTR) return -1;
      throw new OsError(`Cannot receive on "${this.iface.name}"`, err);
    }
    return n;
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libc().close(this.fd);
  }
}

/**
 * Preallocated buffers for recvmmsg/sendmmsg: `slots` receive slots of `slotBytes`, each received
 * at `headroom` bytes into its slot so headers can be prepended in place (IP-in-IP), plus a send
 * queue whose iovecs point anywhere into the same buffer (zero copy).
 */
export class PacketBatch {
  /** All slots. */
  readonly buffer: Uint8Array<ArrayBuffer>;
  /** DataView over {@link buffer}. */
  readonly view: DataView;
  /** Number of receive slots. */
  readonly slots: number;
  /** Bytes per slot. */
  readonly slotBytes: number;
  /** Bytes left free in front of each received frame. */
  readonly headroom: number;
  /** Received lengths from the last {@link recv}, per slot. */
  readonly lengths: Int32Array;
  /** Whether the frame in a slot was truncated (MSG_TRUNC in msg_flags). */
  readonly truncated: Uint8Array;
  #rxMsgs: Uint8Array<ArrayBuffer>;
  #rxView: DataView;
  #txMsgs: Uint8Array<ArrayBuffer>;
  #txView: DataView;
  #txIov: Uint8Array<ArrayBuffer>;
  #txIovView: DataView;
  #base: number;
  #txIovBase: number;
  #txCount = 0;
  #extra: Uint8Array[] = [];

  /**
   * @param slots number of frames per batch (e.g. 64)
   * @param slotBytes bytes per slot, headroom included
   * @param headroom bytes kept free before each frame
   */
  constructor(slots: number, slotBytes: number, headroom = 0) {
    if (headroom >= slotBytes) {
      throw new RangeError(`Cannot make packet batch: headroom ${headroom} ≥ slot ${slotBytes}`);
    }
    this.slots = slots;
    this.slotBytes = slotBytes;
    this.headroom = headroom;
    this.buffer = new Uint8Array(slots * slotBytes);
    this.view = new DataView(this.buffer.buffer);
    this.lengths = new Int32Array(slots);
    this.truncated = new Uint8Array(slots);
    this.#base = addressOf(this.buffer);
    // Receive: one iovec per slot.
    const rxIov = new Uint8Array(slots * IOVEC_BYTES);
    const rxIovView = new DataView(rxIov.buffer);
    this.#rxMsgs = new Uint8Array(slots * MMSGHDR_BYTES);
    this.#rxView = new DataView(this.#rxMsgs.buffer);
    const rxIovBase = addressOf(rxIov);
    for (let i = 0; i < slots; i++) {
      setU64(rxIovView, i * IOVEC_BYTES, this.#base + i * slotBytes + headroom);
      setU64(rxIovView, i * IOVEC_BYTES + 8, slotBytes - headroom);
      setU64(this.#rxView, i * MMSGHDR_BYTES + 16, rxIovBase + i * IOVEC_BYTES);
      setU64(this.#rxView, i * MMSGHDR_BYTES + 24, 1);
    }
    this.#extra.push(rxIov);
    // Send: up to 2 iovecs per message (e.g. a fixed header buffer + the frame).
    this.#txIov = new Uint8Array(slots * 2 * IOVEC_BYTES);
    this.#txIovView = new DataView(this.#txIov.buffer);
    this.#txIovBase = addressOf(this.#txIov);
    this.#txMsgs = new Uint8Array(slots * MMSGHDR_BYTES);
    this.#txView = new DataView(this.#txMsgs.buffer);
    for (let i = 0; i < slots; i++) setU64(this.#txView, i * MMSGHDR_BYTES + 16, this.#txIovBase + i * 2 * IOVEC_BYTES);
  }

  /** Offset in {@link buffer} where slot `i`'s received frame starts. */
  dataOffset(i: number): number {
    return i * this.slotBytes + this.headroom;
  }

  /**
   * Receives up to `slots` frames without blocking.
   *
   * @param sock the socket (any datagram/raw socket: a packet socket or a raw IP socket)
   * @returns frames received (0 when none were queued)
   * @throws {OsError} on errors other than EAGAIN/EINTR
   */
  recv(sock: { readonly fd: number }): number {
    let n = libc().recvmmsg(sock.fd, this.#rxMsgs, this.slots, MSG_DONTWAIT | MSG_TRUNC, null);
    if (n < 0) {
      const err = errnoOrRetry(
        () => libc().recvmmsg(sock.fd, this.#rxMsgs, this.slots, MSG_DONTWAIT | MSG_TRUNC, null),
        TRY_LATER,
      );
      if (err >= 0) {
        if (err === EAGAIN || err === EINTR) return 0;
        throw new OsError(`Cannot receive on socket ${sock.fd}`, err);
      }
      n = -1 - err; // received after all
    }
    const v = this.#rxView;
    for (let i = 0; i < n; i++) {
      const len = v.getUint32(i * MMSGHDR_BYTES + 56, true);
      this.lengths[i] = len;
      this.truncated[i] = (v.getInt32(i * MMSGHDR_BYTES + 48, true) & MSG_TRUNC) !== 0 ||
          len > this.slotBytes - this.headroom
        ? 1
        : 0;
      v.setInt32(i * MMSGHDR_BYTES + 48, 0, true);
    }
    return n;
  }

  /** Frames queued for {@link flush}. */
  get queued(): number {
    return this.#txCount;
  }

  /**
   * Queues `length` bytes at `offset` of {@link buffer} for sending.
   *
   * @param offset start in the batch buffer
   * @param length bytes
   * @param prefixAddress optional address of a buffer sent first (e.g. a zeroed virtio_net_hdr)
   * @param prefixLength its length
   * @returns false when the send queue is full (flush first)
   */
  queue(offset: number, length: number, prefixAddress = 0, prefixLength = 0): boolean {
    if (this.#txCount >= this.slots) return false;
    const i = this.#txCount++;
    const iov = i * 2 * IOVEC_BYTES;
    let n = 0;
    if (prefixLength > 0) {
      setU64(this.#txIovView, iov, prefixAddress);
      setU64(this.#txIovView, iov + 8, prefixLength);
      n = 1;
    }
    setU64(this.#txIovView, iov + n * IOVEC_BYTES, this.#base + offset);
    setU64(this.#txIovView, iov + n * IOVEC_BYTES + 8, length);
    setU64(this.#txView, i * MMSGHDR_BYTES + 24, n + 1);
    return true;
  }

  /**
   * Sends every queued frame with sendmmsg (retrying the rest after a partial send).
   *
   * @param sock the socket
   * @returns frames the kernel accepted; the rest (socket buffer full) are dropped
   */
  flush(sock: PacketSocket): number {
    const total = this.#txCount;
    this.#txCount = 0;
    if (total === 0) return 0;
    let sent = 0;
    const c = libc();
    while (sent < total) {
      const msgs = sent === 0 ? this.#txMsgs : this.#txMsgs.subarray(sent * MMSGHDR_BYTES);
      let n = c.sendmmsg(sock.fd, msgs, total - sent, MSG_DONTWAIT);
      if (n < 0) {
        const err = errnoOrRetry(() => c.sendmmsg(sock.fd, msgs, total - sent, MSG_DONTWAIT), TRY_LATER);
        if (err === EINTR) continue;
        if (err >= 0) {
          // EAGAIN (buffer full) or a per-frame error (EMSGSIZE...): skip that frame and go on.
          sent++;
          continue;
        }
        n = -1 - err; // sent after all
      }
      if (n === 0) break;
      sent += n;
    }
    return sent;
  }
}

/** Waits for readability on several descriptors with poll(2). */
export class Poller {
  #fds: Uint8Array<ArrayBuffer>;
  #view: DataView;
  #n: number;

  /** @param fds descriptors to watch for POLLIN */
  constructor(fds: readonly number[]) {
    this.#n = fds.length;
    this.#fds = new Uint8Array(Math.max(1, fds.length) * POLLFD_BYTES);
    this.#view = new DataView(this.#fds.buffer);
    fds.forEach((fd, i) => {
      this.#view.setInt32(i * POLLFD_BYTES, fd, true);
      this.#view.setInt16(i * POLLFD_BYTES + 4, POLLIN, true);
    });
  }

  /**
   * Blocks the calling thread up to `timeoutMs` (synchronous: call it in a Worker).
   *
   * @param timeoutMs milliseconds; 0 polls
   * @returns number of ready descriptors (0 on timeout or EINTR)
   */
  wait(timeoutMs: number): number {
    const n = libc().poll(this.#fds, BigInt(this.#n), timeoutMs);
    if (n < 0) {
      // Checked again without blocking: a wrong errno read must not end the caller's loop.
      const err = errnoOrRetry(() => libc().poll(this.#fds, BigInt(this.#n), 0), [EINTR]);
      if (err < 0) return -1 - err;
      if (err === EINTR) return 0;
      throw new OsError("Cannot poll", err);
    }
    return n;
  }

  /** Whether descriptor `i` (in constructor order) was readable or in error after {@link wait}. */
  ready(i: number): boolean {
    return this.#view.getInt16(i * POLLFD_BYTES + 6, true) !== 0;
  }
}
