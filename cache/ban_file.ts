/**
 * The ban list of a cache with a disk tier, kept in `bans.bin` in its first cache directory (the
 * ban set format of `cluster/ban_codec.ts`), so objects on disk that a purge covered stay purged
 * after a restart. Written whole to a temporary file and renamed over the old one: a crash leaves
 * the old list or the new one, never a torn one.
 *
 * @module
 */
import { type BanSet, decodeBanSet, encodeBanSet } from "../cluster/ban_codec.ts";

/** File name of the ban list inside a cache directory. */
export const BAN_FILE_NAME = "bans.bin";

/**
 * Reads a ban list.
 *
 * @param path the file
 * @returns undefined when the file does not exist (no purge ever)
 * @throws {BanDecodeError} when the file is damaged; other errors when it cannot be read
 */
export async function readBanFile(path: string): Promise<BanSet | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  return decodeBanSet(bytes);
}

/**
 * Replaces a ban list file atomically (temporary file, fsync, rename).
 *
 * @param path the file
 * @param set the list
 */
export async function writeBanFile(path: string, set: BanSet): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    const b = encodeBanSet(set);
    let off = 0;
    while (off < b.length) off += await f.write(b.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
  try {
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
