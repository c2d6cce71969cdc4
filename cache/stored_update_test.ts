import { assert, assertEquals } from "../tests/_assert.ts";
import { HeaderList } from "../http/header_list.ts";
import { applyHeadResponse, applyNotModified, type UpdateSource } from "./stored_update.ts";
import type { StoredMeta } from "./store/store.ts";
import { testStore } from "./_test_kit.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const FRESH = { shared: true, heuristicPercent: 10, heuristicMaxS: 86400 };
const PRIMARY = "http://example.test/doc";

function put(
  store: ReturnType<typeof testStore>,
  headers: [string, string][],
  over: Partial<StoredMeta> = {},
  body = "stored body",
): StoredMeta {
  const meta: StoredMeta = {
    primary: PRIMARY,
    variant: "",
    status: 200,
    headers,
    vary: [],
    requestTime: T0,
    responseTime: T0,
    expiresAt: T0,
    bodyBytes: body.length,
    ...over,
  };
  store.put(meta, new TextEncoder().encode(body));
  return meta;
}

function src(fields: [string, string][], at = T0 + 60_000): UpdateSource {
  return { fields, requestTime: at - 10, responseTime: at, fresh: FRESH };
}

const field = (m: StoredMeta | undefined, name: string) => m?.headers.filter(([k]) => k === name).map(([, v]) => v);

Deno.test("applyNotModified: end-to-end fields replace the stored ones; framing, body and hop-by-hop fields do not (RFC 9111 §3.2)", async () => {
  const store = testStore();
  const old = put(store, [
    ["cache-control", "max-age=0"],
    ["content-type", "text/plain"],
    ["etag", '"a"'],
    ["expires", "Thu, 01 Jan 2026 00:00:00 GMT"],
    ["content-encoding", "gzip"],
    ["x-kept", "from the 200"],
  ]);
  const r = await applyNotModified(
    store,
    old,
    src([
      ["cache-control", "max-age=600"],
      ["content-type", "text/plain; charset=utf-8"],
      ["etag", '"a"'],
      ["expires", "Fri, 02 Jan 2026 00:00:00 GMT"],
      ["set-cookie", "s=2"],
      ["x-new", "1"],
      ["content-length", "0"],
      ["content-encoding", "br"],
      ["transfer-encoding", "chunked"],
      ["connection", "x-hop"],
      ["x-hop", "1"],
      ["keep-alive", "timeout=5"],
    ]),
  );
  assertEquals(r.kind, "updated");
  const m = (await store.get({ primary: PRIMARY, variant: "" }))!.meta;
  assertEquals(field(m, "cache-control"), ["max-age=600"]);
  assertEquals(field(m, "content-type"), ["text/plain; charset=utf-8"]);
  assertEquals(field(m, "expires"), ["Fri, 02 Jan 2026 00:00:00 GMT"]);
  // The response is updated although the 304 carries Set-Cookie; the cookie itself is never stored,
  // since whatever is stored is served to other clients.
  assertEquals(field(m, "set-cookie"), [], "a 304's Set-Cookie is not stored");
  assertEquals(field(m, "x-new"), ["1"]);
  assertEquals(field(m, "x-kept"), ["from the 200"]);
  assertEquals(field(m, "content-encoding"), ["gzip"], "the stored body's coding is kept");
  for (const gone of ["content-length", "transfer-encoding", "connection", "x-hop", "keep-alive"]) {
    assertEquals(field(m, gone), [], gone);
  }
  assertEquals([m.requestTime, m.responseTime], [T0 + 60_000 - 10, T0 + 60_000]);
  assert(m.expiresAt >= T0 + 60_000 + 590_000, "freshness restarts from the 304");
  assertEquals(m.bodyBytes, "stored body".length);
});

Deno.test("applyNotModified: a strong ETag updates every stored variant with that ETag (RFC 9111 §4.3.4)", async () => {
  const store = testStore();
  const en = put(store, [["etag", '"s"'], ["vary", "accept-language"], ["cache-control", "max-age=0"]], {
    variant: "en",
    vary: ["accept-language"],
  });
  put(store, [["etag", '"s"'], ["vary", "accept-language"], ["cache-control", "max-age=0"]], {
    variant: "fr",
    vary: ["accept-language"],
  });
  put(store, [["etag", '"other"'], ["vary", "accept-language"], ["cache-control", "max-age=0"]], {
    variant: "de",
    vary: ["accept-language"],
  });
  const r = await applyNotModified(store, en, src([["etag", '"s"'], ["cache-control", "max-age=300"]]));
  assertEquals(r.kind === "updated" && r.updated, 2);
  const cc = async (variant: string) => field((await store.get({ primary: PRIMARY, variant }))?.meta, "cache-control");
  assertEquals(await cc("en"), ["max-age=300"]);
  assertEquals(await cc("fr"), ["max-age=300"]);
  assertEquals(await cc("de"), ["max-age=0"]);
});

Deno.test("applyNotModified: a 304 whose strong ETag differs selects nothing: refetch, stored response untouched", async () => {
  const store = testStore();
  const old = put(store, [["etag", '"v1"'], ["cache-control", "max-age=0"]]);
  const r = await applyNotModified(store, old, src([["etag", '"v2"'], ["cache-control", "max-age=300"]]));
  assertEquals(r, { kind: "refetch", reason: "not-selected" });
  assertEquals(field((await store.get({ primary: PRIMARY, variant: "" }))?.meta, "cache-control"), ["max-age=0"]);
});

Deno.test("applyNotModified: a 304 that changes Vary asks for a refetch", async () => {
  const store = testStore();
  const old = put(store, [["etag", '"v"'], ["cache-control", "max-age=0"]]);
  const r = await applyNotModified(store, old, src([["etag", '"v"'], ["vary", "accept-encoding"]]));
  assertEquals(r, { kind: "refetch", reason: "vary-changed" });
});

Deno.test("applyNotModified: Last-Modified selects the stored response without ETag (RFC 9111 §4.3.4 second bullet)", async () => {
  const store = testStore();
  const lm = "Wed, 31 Dec 2025 00:00:00 GMT";
  const old = put(store, [["last-modified", lm], ["cache-control", "max-age=0"]]);
  const r = await applyNotModified(store, old, src([["last-modified", lm], ["cache-control", "max-age=120"]]));
  assertEquals(r.kind, "updated");
  assertEquals(field((await store.get({ primary: PRIMARY, variant: "" }))?.meta, "cache-control"), ["max-age=120"]);
});

const REQ = new HeaderList([["host", "example.test"]]);

Deno.test("applyHeadResponse: a matching HEAD 200 updates the stored GET's fields but never its length or coding (RFC 9111 §4.3.5)", async () => {
  const store = testStore();
  put(store, [["etag", '"h"'], ["cache-control", "max-age=0"], ["content-type", "text/plain"]]);
  const r = await applyHeadResponse(store, { primary: PRIMARY, reqHeaders: REQ }, {
    status: 200,
    ...src([
      ["etag", '"h"'],
      ["cache-control", "max-age=900"],
      ["content-type", "text/markdown"],
      ["content-length", String("stored body".length)],
      ["content-encoding", "gzip"],
      ["x-from-head", "yes"],
    ]),
  });
  assertEquals(r, { updated: 1, changed: false });
  const m = (await store.get({ primary: PRIMARY, variant: "" }))!.meta;
  assertEquals(field(m, "cache-control"), ["max-age=900"]);
  assertEquals(field(m, "content-type"), ["text/markdown"]);
  assertEquals(field(m, "x-from-head"), ["yes"]);
  assertEquals([field(m, "content-length"), field(m, "content-encoding")], [[], []]);
});

Deno.test("applyHeadResponse: another ETag or another Content-Length means the representation changed", async () => {
  for (const fields of [[["etag", '"new"']], [["etag", '"h"'], ["content-length", "999"]]] as [string, string][][]) {
    const store = testStore();
    put(store, [["etag", '"h"'], ["cache-control", "max-age=0"]]);
    const r = await applyHeadResponse(store, { primary: PRIMARY, reqHeaders: REQ }, { status: 200, ...src(fields) });
    assertEquals(r, { updated: 0, changed: true });
    assertEquals(field((await store.get({ primary: PRIMARY, variant: "" }))?.meta, "cache-control"), ["max-age=0"]);
  }
});

Deno.test("applyHeadResponse: only 200 counts, and only variants the request could have used", async () => {
  const store = testStore();
  put(store, [["etag", '"h"'], ["cache-control", "max-age=0"], ["vary", "accept-language"]], {
    variant: "fr",
    vary: ["accept-language"],
  });
  const notFound = await applyHeadResponse(store, { primary: PRIMARY, reqHeaders: REQ }, {
    status: 404,
    ...src([["etag", '"x"']]),
  });
  assertEquals(notFound, { updated: 0, changed: false });
  // REQ has no Accept-Language: the "fr" variant could not have answered it.
  const other = await applyHeadResponse(store, { primary: PRIMARY, reqHeaders: REQ }, {
    status: 200,
    ...src([["etag", '"x"']]),
  });
  assertEquals(other, { updated: 0, changed: false });
});
