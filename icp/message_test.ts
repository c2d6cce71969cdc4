import assert from "node:assert/strict";
import {
  decodeIcpMessage,
  encodeIcpMessage,
  IcpDecodeError,
  type IcpDecodeReason,
  type IcpMessage,
  MAX_ICP_URL_BYTES,
} from "./message.ts";
import { IcpOpcode } from "./opcode.ts";

const fixtures = new URL("../tests/fixtures/icp/", import.meta.url);
const hex = (s: string) => new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const golden = (name: string) => hex(Deno.readTextFileSync(new URL(`${name}.hex`, fixtures)));
const ascii = (s: string) => [...new TextEncoder().encode(s)].map((b) => b.toString(16).padStart(2, "0")).join("");

// "http://a/" = 9 bytes; header 20 + URL 9 + NUL 1 = 30 (0x1e); query adds 4 → 34 (0x22).
const URL_A = ascii("http://a/");
const GOLDEN_URL = "http://127.0.0.1:37543/golden/object";

const valid: { description: string; input: Uint8Array; expected: IcpMessage }[] = [
  {
    description: "a QUERY with requester address",
    input: hex(`01 02 0022 0000002a 00000000 00000000 0a000001 c0a80001 ${URL_A} 00`),
    expected: {
      opcode: IcpOpcode.QUERY,
      requestNumber: 42,
      options: 0,
      optionData: 0,
      senderAddress: "10.0.0.1",
      requesterAddress: "192.168.0.1",
      url: "http://a/",
    },
  },
  {
    description: "a MISS_NOFETCH with options",
    input: hex(`15 02 001e ffffffff 40000000 00000123 00000000 ${URL_A} 00`),
    expected: {
      opcode: IcpOpcode.MISS_NOFETCH,
      requestNumber: 0xffffffff,
      options: 0x40000000,
      optionData: 0x123,
      senderAddress: "0.0.0.0",
      url: "http://a/",
    },
  },
  {
    description: "a reply with bytes after the NUL (ignored, as Squid does)",
    input: hex(`03 02 0020 00000001 00000000 00000000 00000000 ${URL_A} 00 abcd`),
    expected: {
      opcode: IcpOpcode.MISS,
      requestNumber: 1,
      options: 0,
      optionData: 0,
      senderAddress: "0.0.0.0",
      url: "http://a/",
    },
  },
  {
    description: "Squid's QUERY (golden)",
    input: golden("squid_query"),
    expected: {
      opcode: IcpOpcode.QUERY,
      requestNumber: 1,
      options: 0,
      optionData: 0,
      senderAddress: "0.0.0.0",
      requesterAddress: "0.0.0.0",
      url: GOLDEN_URL,
    },
  },
  ...([
    ["squid_hit", IcpOpcode.HIT, 0x01020304, GOLDEN_URL],
    ["squid_miss", IcpOpcode.MISS, 0x05060708, "http://127.0.0.1:37543/not/cached"],
    ["squid_err", IcpOpcode.ERR, 0x0a0b0c0d, "not-a-url"],
    ["squid_denied", IcpOpcode.DENIED, 0x11223344, GOLDEN_URL],
  ] as const).map(([name, opcode, requestNumber, url]) => ({
    description: `Squid's ${name.slice(6).toUpperCase()} (golden)`,
    input: golden(name),
    expected: { opcode, requestNumber, options: 0, optionData: 0, senderAddress: "0.0.0.0", url } as IcpMessage,
  })),
];

for (const c of valid) {
  Deno.test(`decodeIcpMessage() decodes ${c.description}`, () => {
    assert.deepEqual(decodeIcpMessage(c.input), c.expected);
  });
}

const longUrl = "http://a/" + "x".repeat(MAX_ICP_URL_BYTES);
const longBody = new TextEncoder().encode(longUrl);
const tooLong = new Uint8Array(20 + longBody.length + 1);
tooLong.set(hex("03 02"), 0);
new DataView(tooLong.buffer).setUint16(2, tooLong.length);
tooLong.set(longBody, 20);

const malformed: {
  description: string;
  input: Uint8Array;
  reason: IcpDecodeReason;
  offset: number;
  message: RegExp;
}[] = [
  {
    description: "an empty datagram",
    input: new Uint8Array(0),
    reason: "short",
    offset: 0,
    message: /length 0 is less than header size 20/,
  },
  {
    description: "a truncated header",
    input: hex("01 02 000c 00000001 00000000"),
    reason: "short",
    offset: 0,
    message: /^Cannot decode ICP message: length 12 is less than header size 20$/,
  },
  {
    description: "a length field longer than the datagram",
    input: hex(`03 02 0040 00000001 00000000 00000000 00000000 ${URL_A} 00`),
    reason: "length",
    offset: 2,
    message: /length field 64 disagrees with datagram length 30/,
  },
  {
    description: "a length field shorter than the datagram",
    input: hex(`03 02 0014 00000001 00000000 00000000 00000000 ${URL_A} 00`),
    reason: "length",
    offset: 2,
    message: /length field 20 disagrees with datagram length 30/,
  },
  {
    description: "version 3",
    input: hex(`03 03 001e 00000001 00000000 00000000 00000000 ${URL_A} 00`),
    reason: "version",
    offset: 1,
    message: /version 3 is not 2/,
  },
  {
    description: "version 1",
    input: hex(`03 01 001e 00000001 00000000 00000000 00000000 ${URL_A} 00`),
    reason: "version",
    offset: 1,
    message: /version 1 is not 2/,
  },
  {
    description: "opcode INVALID (0)",
    input: hex(`00 02 001e 00000001 00000000 00000000 00000000 ${URL_A} 00`),
    reason: "opcode",
    offset: 0,
    message: /opcode 0 \(INVALID\) is not supported/,
  },
  {
    description: "a reserved opcode (UNUSED15)",
    input: hex(`0f 02 001e 00000001 00000000 00000000 00000000 ${URL_A} 00`),
    reason: "opcode",
    offset: 0,
    message: /opcode 15 \(UNUSED15\)/,
  },
  {
    description: "an opcode beyond the table",
    input: hex(`ff 02 001e 00000001 00000000 00000000 00000000 ${URL_A} 00`),
    reason: "opcode",
    offset: 0,
    message: /opcode 255 \(OPCODE_255\)/,
  },
  {
    description: "HIT_OBJ",
    input: hex(`17 02 001e 00000001 00000000 00000000 00000000 ${URL_A} 00`),
    reason: "hit_obj",
    offset: 0,
    message: /HIT_OBJ/,
  },
  {
    description: "a URL without NUL",
    input: hex(`03 02 001d 00000001 00000000 00000000 00000000 ${URL_A}`),
    reason: "no_nul",
    offset: 29,
    message: /no NUL terminator before byte 29/,
  },
  {
    description: "a header-only reply (no URL)",
    input: hex(`02 02 0014 00000001 00000000 00000000 00000000`),
    reason: "no_nul",
    offset: 20,
    message: /no URL/,
  },
  {
    description: "a QUERY too short for the requester address",
    input: hex(`01 02 0016 00000001 00000000 00000000 00000000 0000`),
    reason: "short",
    offset: 20,
    message: /no room for the requester address/,
  },
  {
    description: "a QUERY with requester address but no URL",
    input: hex(`01 02 0018 00000001 00000000 00000000 00000000 00000000`),
    reason: "no_nul",
    offset: 24,
    message: /no URL/,
  },
  {
    description: "an empty URL",
    input: hex(`03 02 0015 00000001 00000000 00000000 00000000 00`),
    reason: "empty_url",
    offset: 20,
    message: /empty URL at byte 20/,
  },
  {
    description: "a URL with a space",
    input: hex(`01 02 001c 00000001 00000000 00000000 00000000 00000000 ${ascii("a b")} 00`),
    reason: "bad_url",
    offset: 25,
    message: /byte 0x20 at 25/,
  },
  {
    description: "a URL that is not UTF-8",
    input: hex(`03 02 0018 00000001 00000000 00000000 00000000 ff fe 41 00`),
    reason: "bad_url",
    offset: 20,
    message: /not valid UTF-8/,
  },
  {
    description: "an oversized URL",
    input: tooLong,
    reason: "url_too_long",
    offset: 20,
    message: new RegExp(`URL of ${longBody.length} bytes is longer than ${MAX_ICP_URL_BYTES}`),
  },
];

for (const c of malformed) {
  Deno.test(`decodeIcpMessage() rejects ${c.description}`, () => {
    assert.throws(() => decodeIcpMessage(c.input), (e) => {
      assert.ok(e instanceof IcpDecodeError);
      assert.ok(e instanceof SyntaxError);
      assert.equal(e.reason, c.reason);
      assert.equal(e.offset, c.offset);
      assert.match(e.message, c.message);
      assert.match(e.message, /^Cannot decode ICP message: /);
      return true;
    });
  });
}

Deno.test("encodeIcpMessage() reproduces Squid's golden packets byte for byte", () => {
  for (const name of ["squid_query", "squid_hit", "squid_miss", "squid_err", "squid_denied"]) {
    const bytes = golden(name);
    assert.deepEqual(encodeIcpMessage(decodeIcpMessage(bytes)), bytes, name);
  }
});

Deno.test("encodeIcpMessage() round-trips every reply opcode and a query", () => {
  for (
    const opcode of [
      IcpOpcode.HIT,
      IcpOpcode.MISS,
      IcpOpcode.ERR,
      IcpOpcode.SECHO,
      IcpOpcode.DECHO,
      IcpOpcode.MISS_NOFETCH,
      IcpOpcode.DENIED,
    ] as const
  ) {
    const msg = { opcode, requestNumber: 7, options: 1, optionData: 2, senderAddress: "1.2.3.4", url: "http://x/é" };
    assert.deepEqual(decodeIcpMessage(encodeIcpMessage(msg)), msg);
  }
  const q = {
    opcode: IcpOpcode.QUERY,
    requestNumber: 0xfffffffe,
    options: 0,
    optionData: 0,
    senderAddress: "0.0.0.0",
    requesterAddress: "9.8.7.6",
    url: "http://host:8080/p?q=1",
  } as const;
  assert.deepEqual(decodeIcpMessage(encodeIcpMessage(q)), q);
});

Deno.test("encodeIcpMessage() refuses what must not be sent", () => {
  const base = { requestNumber: 1, url: "http://a/" };
  assert.throws(() => encodeIcpMessage({ ...base, opcode: IcpOpcode.HIT_OBJ as never }), TypeError);
  assert.throws(() => encodeIcpMessage({ ...base, opcode: IcpOpcode.INVALID as never }), TypeError);
  assert.throws(() => encodeIcpMessage({ ...base, opcode: IcpOpcode.MISS, url: "" }), RangeError);
  assert.throws(() => encodeIcpMessage({ ...base, opcode: IcpOpcode.MISS, url: longUrl }), RangeError);
  assert.throws(() => encodeIcpMessage({ ...base, opcode: IcpOpcode.MISS, url: "http://a/\0" }), TypeError);
  assert.throws(() => encodeIcpMessage({ ...base, opcode: IcpOpcode.MISS, requestNumber: -1 }), RangeError);
  assert.throws(() => encodeIcpMessage({ ...base, opcode: IcpOpcode.MISS, requestNumber: 2 ** 32 }), RangeError);
  assert.throws(() => encodeIcpMessage({ ...base, opcode: IcpOpcode.MISS, senderAddress: "::1" }), TypeError);
  assert.throws(
    () => encodeIcpMessage({ ...base, opcode: IcpOpcode.QUERY, requesterAddress: "300.1.1.1" }),
    /requester address "300.1.1.1" is not an IPv4 address/,
  );
});

Deno.test("decodeIcpMessage() never throws anything but IcpDecodeError on random input", () => {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  const base = golden("squid_query");
  for (let i = 0; i < 5000; i++) {
    const b = base.slice(0, rnd() % (base.length + 1));
    for (let k = 0; k < 3; k++) if (b.length) b[rnd() % b.length] = rnd();
    try {
      decodeIcpMessage(b);
    } catch (e) {
      assert.ok(e instanceof IcpDecodeError, String(e));
    }
  }
});
