/**
 * The libc functions netctl calls through Deno FFI, opened once per isolate (each Worker opens
 * its own), plus errno handling. Private to netctl: nothing else in webcache calls libc.
 *
 * All calls are synchronous: a `nonblocking` FFI call costs a thread-pool round trip (~12 µs)
 * and loses errno, which is thread-local (see ../shared/notes/dataplane.md (outside the repository)).
 *
 * errno is read through FFI after the failed call returned to JavaScript, so the runtime's own work
 * in between can overwrite it: the first call through a symbol takes Deno's slow path, which made
 * a failed socket(2) read ENOENT instead of EPERM in CI. Two defences: every symbol is called once,
 * harmlessly, when libc opens (no call netctl relies on is a first call), and where the errno
 * decides what happens next (EAGAIN or EINTR: try later; ENOENT: absent; EEXIST: present) a value
 * the call does not fail with in normal operation is checked by making the call once more
 * ({@link errnoOrRetry}); privilege errors are decided from the capabilities, not errno alone.
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

const NO_BYTES = new Uint8Array(16);
const EMPTY_PATH = new Uint8Array(1);

/**
 * One harmless call per symbol (a bad descriptor, a zero length, an empty path): each fails at
 * once without side effects, and takes the runtime's first-call path now rather than when its
 * errno matters. Typed over every symbol, so a symbol added to the table needs its warm-up here.
 */
const WARM_UP: { [K in keyof typeof SYMBOLS]: (s: Libc) => unknown } = {
  socket: (s) => s.socket(-1, 0, 0),
  bind: (s) => s.bind(-1, NO_BYTES, 0),
  setsockopt: (s) => s.setsockopt(-1, 0, 0, NO_BYTES, 0),
  getsockopt: (s) => s.getsockopt(-1, 0, 0, NO_BYTES, NO_BYTES),
  recvmmsg: (s) => s.recvmmsg(-1, NO_BYTES, 0, 0, null),
  sendmmsg: (s) => s.sendmmsg(-1, NO_BYTES, 0, 0),
  send: (s) => s.send(-1, NO_BYTES, 0n, 0),
  shutdown: (s) => s.shutdown(-1, 0),
  sendto: (s) => s.sendto(-1, NO_BYTES, 0n, 0, NO_BYTES, 0),
  recv: (s) => s.recv(-1, NO_BYTES, 0n, 0),
  poll: (s) => s.poll(NO_BYTES, 0n, 0),
  ioctl: (s) => s.ioctl(-1, 0n, NO_BYTES),
  open: (s) => s.open(EMPTY_PATH, 0),
  read: (s) => s.read(-1, NO_BYTES, 0n),
  write: (s) => s.write(-1, NO_BYTES, 0n),
  close: (s) => s.close(-1),
  mmap: (s) => s.mmap(null, 0n, 0, 0, -1, 0n),
  munmap: (s) => s.munmap(null, 0n),
  syscall: (s) => s.syscall(-1n, 0n, null, 0n),
  __errno_location: (s) => s.__errno_location(),
  strerror: (s) => s.strerror(0),
};

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
    // system calls and overwrite errno: take it now for every symbol (see the module doc).
    lib.symbols.__errno_location();
    for (const warm of Object.values(WARM_UP)) warm(lib.symbols);
  }
  return lib.symbols;
}

/** Reads the calling thread's errno. */
export function errno(): number {
  const p = libc().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

/**
 * The errno of a call that just failed, checked where it decides what the caller does: a value in
 * `expected` (how the call fails in normal operation, e.g. EAGAIN for a non-blocking receive) is
 * taken as read; any other may have been overwritten by the runtime between the call and the read
 * (see the module doc), so the call is made once more and that failure's errno is returned. Use it
 * only for calls that are harmless to repeat (a failed call did nothing: a non-blocking receive or
 * send, a map lookup or update with the same arguments).
 *
 * @param again makes the same call again
 * @param expected errno values the caller handles
 * @param read reads errno (tests)
 * @returns the errno (positive), or the repeated call's result negated minus one when it succeeded
 *   (`-1 - n`, so a result of 0 is told from an errno)
 * @example
 * ```ts
 * const e = errnoOrRetry(() => libc().recv(fd, buf, len, MSG_DONTWAIT), [EAGAIN, EINTR]);
 * if (e < 0) return -1 - e; // received after all
 * ```
 */
export function errnoOrRetry(
  again: () => number | bigint,
  expected: readonly number[],
  read: () => number = errno,
): number {
  const first = read();
  if (expected.includes(first)) return first;
  const n = Number(again());
  return n >= 0 ? -1 - n : read();
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
/** ENOENT. */
export const ENOENT = 2;
/** EEXIST. */
export const EEXIST = 17;
/** E2BIG. */
export const E2BIG = 7;

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
