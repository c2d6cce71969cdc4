/**
 * Sealed packets over a gossip TCP connection, read so that a stranger cannot make a node allocate
 * more than a small bound.
 *
 * ## Frame
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |               envelope length (u32, big-endian)               |
 * +---------------------------------------------------------------+
 * |   envelope (keyring.ts) holding a packet (codec.ts) ...       |
 * +---------------------------------------------------------------+
 * ```
 *
 * A packet is sent as one frame when its envelope is at most
 * {@link MAX_UNAUTHENTICATED_FRAME_BYTES}, else as two: a small frame holding only a `streamOpen`
 * message with the second frame's length, then the large frame. A reader refuses a first frame
 * announcing more than the bound before reading or allocating any of it, opens it (which
 * authenticates the sender and rejects replays), and only then reads the announced large frame.
 * Bytes are read into a buffer that grows with what actually arrived, never sized by the announced
 * length alone.
 *
 * @module
 */
import {
  ClusterDecodeError,
  decodePacket,
  encodePacket,
  MAX_STREAM_FRAME_BYTES,
  MAX_UNAUTHENTICATED_FRAME_BYTES,
  type Message,
} from "./codec.ts";
import type { Keyring } from "./keyring.ts";

/** Bytes read per `read()` call at most, and the first buffer size. */
const READ_CHUNK_BYTES = 16 * 1024;

/**
 * Reads exactly `n` bytes, growing the buffer as bytes arrive (an announced length costs nothing
 * until the bytes come).
 *
 * @returns the bytes, or undefined when the peer closed first
 */
async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array | undefined> {
  let buf = new Uint8Array(Math.min(n, READ_CHUNK_BYTES));
  let off = 0;
  while (off < n) {
    if (off === buf.length) {
      const bigger = new Uint8Array(Math.min(n, buf.length * 2));
      bigger.set(buf);
      buf = bigger;
    }
    const got = await conn.read(buf.subarray(off, Math.min(buf.length, off + READ_CHUNK_BYTES)));
    if (got === null) return undefined;
    off += got;
  }
  return buf;
}

/**
 * Reads one frame's envelope, refusing (before reading it) one longer than `maxBytes`.
 *
 * @param conn the connection
 * @param maxBytes largest acceptable envelope
 * @returns the envelope, or undefined when the peer closed before a frame began
 * @throws {ClusterDecodeError} `oversized` for a longer announcement, `short` when the peer closed mid-frame
 */
export async function readFrame(conn: Deno.Conn, maxBytes: number): Promise<Uint8Array | undefined> {
  const head = await readExactly(conn, 4);
  if (!head) return undefined;
  const n = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
  if (n > maxBytes) {
    throw new ClusterDecodeError(`Cannot read gossip frame: ${n} bytes exceed ${maxBytes}`, "oversized", 0);
  }
  const env = await readExactly(conn, n);
  if (!env) throw new ClusterDecodeError(`Cannot read gossip frame: closed before its ${n} bytes`, "short", 4);
  return env;
}

/** Writes one frame: the length, then the envelope. */
export async function writeFrame(conn: Deno.Conn, env: Uint8Array): Promise<void> {
  const out = new Uint8Array(4 + env.length);
  new DataView(out.buffer).setUint32(0, env.length);
  out.set(env, 4);
  let off = 0;
  while (off < out.length) off += await conn.write(out.subarray(off));
}

/**
 * Seals a packet and writes it: one frame, or a `streamOpen` frame and then the large one.
 *
 * @param conn the connection
 * @param keyring seals the frames
 * @param packet an encoded packet (codec.ts)
 * @throws {RangeError} when the envelope is larger than {@link MAX_STREAM_FRAME_BYTES}
 */
export async function writeSealedPacket(conn: Deno.Conn, keyring: Keyring, packet: Uint8Array): Promise<void> {
  const env = await keyring.seal(packet);
  if (env.length > MAX_STREAM_FRAME_BYTES) {
    throw new RangeError(`Cannot send gossip frame: ${env.length} bytes exceed ${MAX_STREAM_FRAME_BYTES}`);
  }
  if (env.length > MAX_UNAUTHENTICATED_FRAME_BYTES) {
    await writeFrame(conn, await keyring.seal(encodePacket([{ type: "streamOpen", frameBytes: env.length }])));
  }
  await writeFrame(conn, env);
}

/**
 * Reads one sealed packet (see the module doc): a bounded first frame, opened; when it is a
 * `streamOpen`, the announced frame.
 *
 * @param conn the connection
 * @param keyring opens the frames
 * @param onAuthenticated called once the first frame opened (the sender holds a key)
 * @returns the messages, or undefined when the peer closed before sending anything
 * @throws {ClusterDecodeError} for an oversized, truncated or malformed frame
 * @throws {EnvelopeError} when a frame does not open (keyring.ts)
 */
export async function readSealedPacket(
  conn: Deno.Conn,
  keyring: Keyring,
  onAuthenticated?: () => void,
): Promise<Message[] | undefined> {
  const first = await readFrame(conn, MAX_UNAUTHENTICATED_FRAME_BYTES);
  if (!first) return undefined;
  const msgs = decodePacket(await keyring.open(first), MAX_UNAUTHENTICATED_FRAME_BYTES);
  onAuthenticated?.();
  if (msgs[0].type !== "streamOpen") return msgs;
  const want = msgs[0].frameBytes;
  if (msgs.length !== 1 || want > MAX_STREAM_FRAME_BYTES) {
    throw new ClusterDecodeError(`Cannot read gossip frame: announced ${want} bytes are refused`, "oversized", 0);
  }
  const env = await readFrame(conn, want);
  if (!env) throw new ClusterDecodeError("Cannot read gossip frame: closed after its announcement", "short", 0);
  if (env.length !== want) {
    throw new ClusterDecodeError(
      `Cannot read gossip frame: ${env.length} bytes where ${want} were announced`,
      "garbled",
      0,
    );
  }
  const big = decodePacket(await keyring.open(env), MAX_STREAM_FRAME_BYTES);
  if (big[0].type === "streamOpen") {
    throw new ClusterDecodeError("Cannot read gossip frame: a streamOpen follows a streamOpen", "garbled", 0);
  }
  return big;
}
