import { deepStrictEqual as assertEquals, strictEqual, throws } from "node:assert/strict";
import { encodeEntryHeader, EntryDecodeError, type EntryHeader, validatorsOf } from "./entry_format.ts";
import { HeaderMemo } from "./_header_memo.ts";

function block(etag: string): Uint8Array {
  const headers: [string, string][] = [["etag", etag]];
  const h: EntryHeader = {
    meta: {
      primary: "http://o/a",
      variant: "",
      status: 200,
      headers,
      vary: [],
      requestTime: 1,
      responseTime: 2,
      expiresAt: 3,
      bodyBytes: 10,
    },
    storedTime: 4,
    bodyCrc: 5,
    ...validatorsOf(headers),
  };
  return encodeEntryHeader(h);
}

Deno.test("HeaderMemo.decode() returns the earlier header for the same bytes and decodes changed bytes", () => {
  const memo = new HeaderMemo();
  const a = memo.decode("n", block('"aa"'));
  strictEqual(memo.decode("n", block('"aa"')), a, "equal bytes (another read): the same header");
  const b = memo.decode("n", block('"bb"'));
  assertEquals(b.meta.headers, [["etag", '"bb"']]);
  strictEqual(memo.decode("m", block('"bb"')) === b, false, "remembered per object name");
  // A damaged copy of a remembered block still fails its CRC.
  const bad = block('"bb"');
  bad[bad.length - 8] ^= 1;
  throws(() => memo.decode("n", bad), EntryDecodeError);
});

Deno.test("HeaderMemo keeps at most its bound and forgets on request", () => {
  const memo = new HeaderMemo(2);
  memo.decode("a", block('"1"'));
  memo.decode("b", block('"1"'));
  strictEqual(memo.size, 2);
  memo.decode("c", block('"1"'));
  strictEqual(memo.size, 1, "emptied when full");
  memo.forget("c");
  strictEqual(memo.size, 0);
});
