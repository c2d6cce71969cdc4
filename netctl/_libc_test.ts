import { assertEquals } from "../tests/_assert.ts";
import { EAGAIN, EINTR, ENOENT, errno, errnoOrRetry, libc } from "./_libc.ts";

/** errno reads played back in order (a read overwritten by the runtime cannot be made on demand). */
function reads(...values: number[]): () => number {
  return () => values.shift() ?? -999;
}

Deno.test("errnoOrRetry: an errno the caller expects is taken as read, without a second call", () => {
  let calls = 0;
  assertEquals(errnoOrRetry(() => (calls++, -1), [EAGAIN, EINTR], reads(EAGAIN)), EAGAIN);
  assertEquals(calls, 0);
});

Deno.test("errnoOrRetry: an unexpected errno (a read the runtime overwrote) is checked by calling again", () => {
  // CI read ENOENT after a non-blocking receive that found nothing queued: the call again says EAGAIN.
  let calls = 0;
  assertEquals(errnoOrRetry(() => (calls++, -1), [EAGAIN, EINTR], reads(ENOENT, EAGAIN)), EAGAIN);
  assertEquals(calls, 1);
  // A real error stays an error: the second failure's errno is returned.
  assertEquals(errnoOrRetry(() => -1n, [EAGAIN], reads(9, 9)), 9);
});

Deno.test("errnoOrRetry: when the call succeeds the second time its result comes back as -1 - n", () => {
  assertEquals(errnoOrRetry(() => 0, [EAGAIN], reads(ENOENT)), -1);
  assertEquals(errnoOrRetry(() => 1500n, [EAGAIN], reads(ENOENT)), -1501);
});

Deno.test("libc(): after opening, a failed call's errno is that call's (EBADF from recv on a closed descriptor)", () => {
  const c = libc();
  const buf = new Uint8Array(16);
  assertEquals(Number(c.recv(-1, buf, 16n, 0)), -1);
  assertEquals(errno(), 9);
  assertEquals(c.socket(-1, 0, 0), -1);
  assertEquals(errno(), 97, "EAFNOSUPPORT");
});
