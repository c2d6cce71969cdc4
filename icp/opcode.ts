/**
 * ICP opcodes (RFC 2186 section 1.1, with Squid's extensions). The values are wire values: the enum
 * only ever grows at the end and keeps the reserved gaps, numbered as in Squid's `icp_opcode`
 * (`ICP_UNUSED5`..`ICP_UNUSED9`, `ICP_UNUSED12`..`ICP_UNUSED20`), so a value never changes meaning.
 *
 * | value | name         | direction | meaning                                                        |
 * |------:|--------------|-----------|----------------------------------------------------------------|
 * |     0 | INVALID      | —         | never valid on the wire                                        |
 * |     1 | QUERY        | request   | "do you have this URL fresh?"                                  |
 * |     2 | HIT          | reply     | yes, fetch it from me                                          |
 * |     3 | MISS         | reply     | no (a parent may still fetch it for you)                       |
 * |     4 | ERR          | reply     | the query could not be parsed                                  |
 * |  5–9  | (unused)     | —         | reserved (old SEND/DATA opcodes)                               |
 * |    10 | SECHO        | reply     | echo from an origin's UDP echo port (source ping)              |
 * |    11 | DECHO        | reply     | echo from a "dumb" (non-ICP) cache's echo port                 |
 * | 12–20 | (unused)     | —         | reserved (NOTIFY, INVALIDATE, PURGE in Squid 1.x, unused)      |
 * |    21 | MISS_NOFETCH | reply     | no, and do not ask me to fetch it either (short of resources)  |
 * |    22 | DENIED       | reply     | you are not allowed to query me                                |
 * |    23 | HIT_OBJ      | reply     | HIT carrying the object (Squid 2, removed; we refuse it)       |
 *
 * @module
 */

/** ICP opcodes as wire values. */
export const IcpOpcode = {
  INVALID: 0,
  QUERY: 1,
  HIT: 2,
  MISS: 3,
  ERR: 4,
  UNUSED5: 5,
  UNUSED6: 6,
  UNUSED7: 7,
  UNUSED8: 8,
  UNUSED9: 9,
  SECHO: 10,
  DECHO: 11,
  UNUSED12: 12,
  UNUSED13: 13,
  UNUSED14: 14,
  UNUSED15: 15,
  UNUSED16: 16,
  UNUSED17: 17,
  UNUSED18: 18,
  UNUSED19: 19,
  UNUSED20: 20,
  MISS_NOFETCH: 21,
  DENIED: 22,
  HIT_OBJ: 23,
} as const;

/** One ICP opcode value. */
export type IcpOpcode = typeof IcpOpcode[keyof typeof IcpOpcode];

/** Opcodes this implementation decodes; everything else (INVALID, UNUSED*, HIT_OBJ, > 23) is refused. */
export const SUPPORTED_OPCODES: ReadonlySet<number> = new Set<number>([
  IcpOpcode.QUERY,
  IcpOpcode.HIT,
  IcpOpcode.MISS,
  IcpOpcode.ERR,
  IcpOpcode.SECHO,
  IcpOpcode.DECHO,
  IcpOpcode.MISS_NOFETCH,
  IcpOpcode.DENIED,
]);

/** Opcodes that answer a QUERY (they carry only a URL as payload). */
export const REPLY_OPCODES: ReadonlySet<number> = new Set<number>([
  IcpOpcode.HIT,
  IcpOpcode.MISS,
  IcpOpcode.ERR,
  IcpOpcode.SECHO,
  IcpOpcode.DECHO,
  IcpOpcode.MISS_NOFETCH,
  IcpOpcode.DENIED,
]);

const NAMES = new Map<number, string>(Object.entries(IcpOpcode).map(([k, v]) => [v, k]));

/**
 * Returns the name of an opcode for logs and metrics labels, e.g. `MISS_NOFETCH`.
 *
 * @param op a wire value
 * @returns the name, or `OPCODE_<n>` for values beyond the table
 */
export function opcodeName(op: number): string {
  return NAMES.get(op) ?? `OPCODE_${op}`;
}
