/**
 * The disk tier: cache directories (Squid's `cache_dir ufs DIR MB L1 L2`, nginx's
 * `proxy_cache_path levels=1:2`) holding one file per object, indexed in Deno KV, surviving
 * restarts and crashes.
 *
 * - `entry_format.ts`: the object file format (byte diagram, CRC-32C, `isSane()`), pure.
 * - `crc32c.ts`: incremental CRC-32C, pure.
 * - `cache_dir.ts`: one directory as a `Store` — paths, temp-file writes, verified reads,
 *   streamed bodies, watermarks, background index rebuild, `/status`.
 * - `disk_store.ts`: several directories behind one `Store` (weighted rendezvous hashing).
 * - `disk_index.ts`: the KV index with batched writes and the eviction journal.
 * - `dir_lock.ts`: the instance lock shared by the workers of one cache.
 * - `metrics.ts`: `webcache_cache_disk_*`.
 * - `rock/`: rock directories (`cache.store.dirs[].type: rock`): small objects packed into the
 *   slots of one file — `slot_format.ts` (the format, pure), `rock_file.ts` (pread/pwrite),
 *   `rock_writer.ts` (buffering and overflow to ufs), `rock_dir.ts` (the `Store`).
 *
 * A hit costs one `open`/`read`/`close` of the object file: `variants()` reads the whole file (into
 * a shared slab; the body is a view) and hands it to the `get()` of the same lookup; the body's
 * CRC-32C is checked on every read up to 16 KiB and once per file version above. A miss costs
 * `existsSync()` calls (no thrown errors). Small objects are written with one synchronous
 * write + rename; hits reach the KV index only as per-object counts (workers, every second) and
 * access records (every 30 s).
 *
 * Multi-worker safety, in short: object files are created by `rename()` (atomic), lookups go to
 * the file at the key's hashed path (so every worker sees every object at once), the KV index is
 * a hint written in batches, and exactly one process per instance (`evictor: true`) evicts,
 * learning of the others' stores, hits and deletes from a journal in KV.
 *
 * @module
 */
export { CacheDir, type CacheDirOptions, type CacheDirStatus, SMALL_READ_BYTES } from "./cache_dir.ts";
export { type DiskDirConfig, DiskStore, type DiskStoreOptions } from "./disk_store.ts";
export { acquireDirLock, type DirLock, DirLockedError, type LockRecord, processInstanceId } from "./dir_lock.ts";
export {
  decodeEntryHeader,
  encodeEntryHeader,
  ENTRY_FORMAT_VERSION,
  ENTRY_MAGIC,
  EntryDecodeError,
  type EntryHeader,
  entryHeaderLength,
  insanity,
  isSane,
  validatorsOf,
} from "./entry_format.ts";
export { crc32c } from "./crc32c.ts";
export { StoreWriteError, type WriteFailureReason } from "./_disk_writer.ts";
export { MAX_OPEN_FILES, openFileBudget } from "./_open_files.ts";
export { DEFAULT_SLOT_BYTES, DEFAULT_WAYS, RockDir, type RockDirOptions } from "./rock/rock_dir.ts";
export { ROCK_FILE_NAME, RockFile } from "./rock/rock_file.ts";
export {
  decodeRecord,
  decodeRockFileHeader,
  decodeSlotHeader,
  encodeRecord,
  encodeRockFileHeader,
  encodeSlotHeader,
  RockFormatError,
  type RockGeometry,
  rockGeometry,
  rockKeyHash,
  type SlotHeader,
} from "./rock/slot_format.ts";
