/**
 * Object files mapped into memory (`mmap(2)` through Deno FFI), so a hit of a kept file sends its
 * body straight from the page cache: no `read()` and no copy into a buffer of ours. Private to the
 * disk store.
 *
 * Why: a 100 KiB disk hit spent about a fifth of its CPU in the `read()` (the page-cache lookup of
 * 25 pages and the copy into our buffer); the socket write copies from the page cache either way.
 *
 * The mapping is private (`MAP_PRIVATE`) and writable, so the sender can write the response head
 * into the bytes before the body (the stored header block) and send head and body in one write:
 * that page is copied for this mapping on the first such write (copy on write), and the file is
 * never changed. Whoever maps a file decodes its header block before any head is written there.
 *
 * Lifetime: a mapping stays until the GC collects its `ArrayBuffer` (every view of the body is
 * gone), then it is unmapped; so no view can outlive the memory it shows. Dropping a mapping from
 * a cache only lets that happen.
 *
 * The one risk a mapping adds: a file truncated in place (not by webcache, which replaces files
 * by renaming new ones over them and deletes them by unlinking, both leaving a mapped inode whole)
 * while a body of it is being sent raises SIGBUS in the process. A file changed in place is seen
 * by the caller's per-hit `fstat()` (its ctime changes) and not served from the mapping again.
 *
 * @module
 */

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
} as const;

const O_RDONLY_CLOEXEC = 0o2000000;
const AT_EMPTY_PATH = 0x1000;
const STATX_BASIC_STATS = 0x7ff;
const PROT_READ_WRITE = 0x1 | 0x2;
const MAP_PRIVATE = 0x02;
/** `struct statx` field offsets (the same on every Linux architecture). */
const STX_INO = 32;
const STX_SIZE = 40;
const STX_CTIME = 96;
const STX_MTIME = 112;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

function libc(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (lib !== undefined) return lib;
  try {
    lib = Deno.build.os === "linux" && Deno.permissions.querySync({ name: "ffi" }).state === "granted"
      ? Deno.dlopen("libc.so.6", SYMBOLS)
      : null;
  } catch {
    lib = null;
  }
  return lib;
}

const unmapper = new FinalizationRegistry<{ ptr: Deno.PointerValue; size: number }>(({ ptr, size }) => {
  lib?.symbols.munmap(ptr, BigInt(size));
});

/** Whether files can be mapped here (Linux with glibc, FFI allowed). */
export function fileMapsAvailable(): boolean {
  return libc() !== null;
}

/** The file version a mapping must show: what the caller's `fstat()` of its kept descriptor said. */
export interface FileVersion {
  ino: number;
  size: number;
  /**
   * Modification and status change times, ms, as `Deno.FileInfo` gives them (its ctime has whole
   * seconds only: the ctime is compared to the second).
   */
  mtimeMs: number;
  ctimeMs: number;
}

/**
 * Maps the file at `path` whole, if it is still the version `want` (same inode, size and times:
 * the path may have been renamed over since the caller's `fstat()`).
 *
 * @param path the object file
 * @param want the version the caller checked
 * @returns the file's bytes (a private, writable mapping), or undefined when mapping is not
 *   available, the file is another version, or a call failed
 */
export function mapFile(path: string, want: FileVersion): Uint8Array | undefined {
  const c = libc();
  if (!c || want.size <= 0) return undefined;
  const fd = c.symbols.open(new TextEncoder().encode(`${path}\0`), O_RDONLY_CLOEXEC);
  if (fd < 0) return undefined;
  try {
    const stx = new Uint8Array(256);
    if (c.symbols.statx(fd, new Uint8Array(1), AT_EMPTY_PATH, STATX_BASIC_STATS, stx) !== 0) return undefined;
    const v = new DataView(stx.buffer);
    const ms = (at: number) => Number(v.getBigInt64(at, true)) * 1000 + Math.floor(v.getUint32(at + 8, true) / 1e6);
    if (
      Number(v.getBigUint64(STX_INO, true)) !== want.ino || Number(v.getBigUint64(STX_SIZE, true)) !== want.size ||
      ms(STX_MTIME) !== want.mtimeMs || Number(v.getBigInt64(STX_CTIME, true)) !== Math.floor(want.ctimeMs / 1000)
    ) return undefined;
    const ptr = c.symbols.mmap(null, BigInt(want.size), PROT_READ_WRITE, MAP_PRIVATE, fd, 0n);
    if (ptr === null) return undefined;
    const at = BigInt(Deno.UnsafePointer.value(ptr));
    if (at === -1n || at === 0xffff_ffff_ffff_ffffn) return undefined; // MAP_FAILED
    const buf = Deno.UnsafePointerView.getArrayBuffer(ptr, want.size);
    unmapper.register(buf, { ptr, size: want.size });
    return new Uint8Array(buf);
  } finally {
    c.symbols.close(fd);
  }
}
