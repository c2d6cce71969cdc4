/**
 * The libc functions netctl calls through Deno FFI, opened once per isolate (each Worker opens
 * its own), plus errno handling. Private to netctl: nothing else in webcache calls libc.
 *
 * All calls are synchronous: a `nonblocking` FFI call costs a thread-pool round trip (~12 µs)
 * and loses errno, which is thread-local (see ../shared/notes/dataplane.md (outside the repository)).
 *
 * @module
 */

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  syscall: { parameters: ["i64", "i64", "buffer", "i64"], result: "i64" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

/** The opened library's symbols. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/**
 * Opens libc (once) and returns its symbols.
 *
 * @throws {Deno.errors.NotCapable} without --allow-ffi
 */
export function libc(): Libc {
  if (!lib) {
    let last: unknown;
    for (const name of ["libc.so.6", "libc.so"]) {
      try {
        lib = Deno.dlopen(name, SYMBOLS);
        break;
      } catch (e) {
        last = e;
      }
    }
    if (!lib) throw new Error("Cannot open libc through FFI", { cause: last });
    // The first call through a symbol takes the runtime's slow path, which can itself make
    // system calls and overwrite errno. Warm __errno_location now, so errno() right after a
    // failed call reads that call's errno.
    lib.symbols.__errno_location();
  }
  return lib.symbols;
}

/** Reads the calling thread's errno. */
export function errno(): number {
  const p = libc().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

const NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  9: "EBADF",
  11: "EAGAIN",
  13: "EACCES",
  19: "ENODEV",
  22: "EINVAL",
  90: "EMSGSIZE",
  93: "EPROTONOSUPPORT",
  97: "EAFNOSUPPORT",
  100: "ENETDOWN",
  105: "ENOBUFS",
};

/** An OS error from a libc call, with its errno and the call's name. */
export class OsError extends Error {
  /** errno value. */
  readonly errno: number;
  /** Symbolic name such as `EPERM`, or `errno N`. */
  readonly code: string;
  /**
   * @param message what failed
   * @param err the errno
   */
  constructor(message: string, err: number) {
    const code = NAMES[err] ?? `errno ${err}`;
    const p = libc().strerror(err);
    const text = p ? new Deno.UnsafePointerView(p).getCString() : code;
    super(`${message}: ${text} (${code})`);
    this.name = "OsError";
    this.errno = err;
    this.code = code;
  }
}

/** EPERM. */
export const EPERM = 1;
/** EACCES. */
export const EACCES = 13;
/** EAGAIN / EWOULDBLOCK. */
export const EAGAIN = 11;
/** EINTR. */
export const EINTR = 4;

/**
 * Throws an {@link OsError} when a libc call returned a negative value.
 *
 * @param ret the call's result
 * @param what the failed action, e.g. `Cannot open packet socket on "eth0"`
 * @returns `ret` as a number when it is not negative
 */
export function check(ret: number | bigint, what: string): number {
  const n = Number(ret);
  if (n < 0) throw new OsError(what, errno());
  return n;
}

/** The address of a buffer as a number (user-space addresses fit in 2^53). */
export function addressOf(buf: Uint8Array): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf as Uint8Array<ArrayBuffer>)));
}

/** Writes a 64-bit pointer or size given as a number, little-endian, without a BigInt. */
export function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % 0x1_0000_0000, true);
  view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
}

/** NUL-terminated C string. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}
