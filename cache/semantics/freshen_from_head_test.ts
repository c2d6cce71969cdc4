import { deepStrictEqual } from "node:assert/strict";
import { freshenFromHead, type HeadFreshening } from "./freshen_from_head.ts";
import type { HeaderList } from "./header_getter.ts";
import { formatHttpDate } from "./http_date.ts";

const T0 = Date.UTC(2026, 0, 1);
const at = (s: number) => formatHttpDate(T0 + s * 1000);
const STORED = {
  headers: [["etag", '"v1"'], ["last-modified", at(-100)], ["cache-control", "max-age=10"], [
    "content-length",
    "42",
  ]] as HeaderList,
  bodyBytes: 42,
};

const cases: { name: string; status?: number; head: HeaderList; want: HeadFreshening }[] = [
  {
    name: "updates the stored headers when validators and length match",
    head: [["etag", '"v1"'], ["last-modified", at(-100)], ["cache-control", "max-age=60"], ["content-length", "42"]],
    want: {
      action: "update",
      headers: [["etag", '"v1"'], ["last-modified", at(-100)], ["cache-control", "max-age=60"], [
        "content-length",
        "42",
      ]],
    },
  },
  {
    name: "updates when the HEAD has no validators",
    head: [["cache-control", "max-age=60"]],
    want: {
      action: "update",
      headers: [["etag", '"v1"'], ["last-modified", at(-100)], ["cache-control", "max-age=60"], [
        "content-length",
        "42",
      ]],
    },
  },
  { name: "marks stale on another ETag", head: [["etag", '"v2"']], want: { action: "stale", reason: "etag" } },
  {
    name: "marks stale on a weak/strong ETag mismatch",
    head: [["etag", 'W/"v1"']],
    want: { action: "stale", reason: "etag" },
  },
  {
    name: "marks stale on another Last-Modified",
    head: [["last-modified", at(-50)]],
    want: { action: "stale", reason: "last-modified" },
  },
  {
    name: "marks stale on another Content-Length",
    head: [["content-length", "43"]],
    want: { action: "stale", reason: "content-length" },
  },
  { name: "marks stale for a non-200 HEAD", status: 404, head: [], want: { action: "stale", reason: "status" } },
];

for (const c of cases) {
  Deno.test(`freshenFromHead() ${c.name}`, () => {
    deepStrictEqual(freshenFromHead(STORED, c.status ?? 200, c.head), c.want);
  });
}
