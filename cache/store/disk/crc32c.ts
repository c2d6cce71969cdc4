/**
 * CRC-32C for the disk store: the implementation lives in `core/crc32c.ts` (the director's
 * connection-state file uses it too).
 *
 * @module
 */
export { crc32c, crc32cCombine } from "../../../core/crc32c.ts";
