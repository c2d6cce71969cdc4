import { deepStrictEqual } from "node:assert/strict";
import type { HeaderList } from "./header_getter.ts";
import { invalidationTargets } from "./invalidation_targets.ts";

const URL_A = "http://a.example/x?q=1";
const cases: { name: string; method: string; status: number; headers?: HeaderList; want: string[] }[] = [
  { name: "invalidates the target after a successful POST", method: "POST", status: 200, want: [URL_A] },
  { name: "invalidates after PUT", method: "PUT", status: 201, want: [URL_A] },
  { name: "invalidates after DELETE", method: "DELETE", status: 204, want: [URL_A] },
  { name: "invalidates after an unknown unsafe method", method: "PATCH", status: 200, want: [URL_A] },
  { name: "invalidates after a 3xx", method: "POST", status: 303, want: [URL_A] },
  { name: "does not invalidate after GET", method: "GET", status: 200, want: [] },
  { name: "treats a lower-case get as an unknown, unsafe method", method: "get", status: 200, want: [URL_A] },
  { name: "does not invalidate after HEAD", method: "HEAD", status: 200, want: [] },
  { name: "does not invalidate after OPTIONS", method: "OPTIONS", status: 200, want: [] },
  { name: "does not invalidate after a 4xx", method: "POST", status: 403, want: [] },
  { name: "does not invalidate after a 5xx", method: "POST", status: 500, want: [] },
  {
    name: "invalidates a same-origin Location and Content-Location",
    method: "POST",
    status: 201,
    headers: [["location", "/new/1"], ["content-location", "http://A.EXAMPLE:80/x/rep#f"]],
    want: [URL_A, "http://a.example/new/1", "http://a.example/x/rep"],
  },
  {
    name: "ignores a Location on another host",
    method: "POST",
    status: 302,
    headers: [["location", "http://b.example/y"]],
    want: [URL_A],
  },
  {
    name: "ignores a Location on another scheme or port",
    method: "POST",
    status: 302,
    headers: [["location", "https://a.example/y"], ["content-location", "http://a.example:8080/z"]],
    want: [URL_A],
  },
  {
    name: "ignores an unparsable Location",
    method: "POST",
    status: 302,
    headers: [["location", "http://[bad"]],
    want: [URL_A],
  },
  {
    name: "does not repeat the target",
    method: "PUT",
    status: 200,
    headers: [["content-location", "/x?q=1"]],
    want: [URL_A],
  },
];

for (const c of cases) {
  Deno.test(`invalidationTargets() ${c.name}`, () => {
    deepStrictEqual(invalidationTargets(c.method, URL_A, c.status, c.headers ?? []), c.want);
  });
}
