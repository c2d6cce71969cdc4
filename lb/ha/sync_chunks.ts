/**
 * Splits a connection-state batch into parts whose encoding (`encodeConnState`) fits one sync
 * datagram. Each part is a complete state of its own, listing only the services and servers its
 * records name, so a lost datagram loses only its own records. Templates come before connections
 * (a BACKUP then links a connection to its client's template when both are in one part).
 *
 * @module
 */
import {
  CONN_RECORD_BYTES,
  CONN_STATE_HEADER_BYTES,
  type ConnState,
  TEMPLATE_RECORD_BYTES,
} from "../conn_state_codec.ts";
import { ConnStateBuilder } from "./conn_state_builder.ts";

/** Fixed bytes of an encoded state besides its keys and records: header, alignment (≤ 3), CRC. */
const OVERHEAD_BYTES = CONN_STATE_HEADER_BYTES + 3 + 4;

/**
 * Splits `s` into parts of at most `maxBytes` encoded.
 *
 * @param s the batch
 * @param maxBytes largest encoded part
 * @returns the parts, in order (one empty part for an empty batch)
 * @throws {RangeError} when `maxBytes` cannot hold one record with its keys
 */
export function chunkConnState(s: ConnState, maxBytes: number): ConnState[] {
  const parts: ConnState[] = [];
  let b = new ConnStateBuilder(s, s.savedAtMs);
  let bytes = OVERHEAD_BYTES;
  const add = (server: number, recordBytes: number, put: () => void) => {
    let need = recordBytes + b.keyBytesFor(server);
    if (bytes + need > maxBytes && b.size.conns + b.size.templates > 0) {
      parts.push(b.build());
      b = new ConnStateBuilder(s, s.savedAtMs);
      bytes = OVERHEAD_BYTES;
      need = recordBytes + b.keyBytesFor(server);
    }
    if (bytes + need > maxBytes) {
      throw new RangeError(
        `Cannot split connection state into ${maxBytes}-byte parts: one record needs ${bytes + need}`,
      );
    }
    put();
    bytes += need;
  };
  const t = s.templates;
  for (let i = 0; i < t.client.length; i++) {
    add(t.server[i], TEMPLATE_RECORD_BYTES, () => b.template(t.client[i], t.server[i], t.remainingMs[i]));
  }
  const c = s.conns;
  for (let i = 0; i < c.saddr.length; i++) {
    add(
      c.server[i],
      CONN_RECORD_BYTES,
      () => b.conn(c.saddr[i], c.daddr[i], c.ports[i], c.server[i], c.state[i], c.flags[i], c.remainingMs[i]),
    );
  }
  if (b.size.conns + b.size.templates > 0 || parts.length === 0) parts.push(b.build());
  return parts;
}
