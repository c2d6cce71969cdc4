import { deepStrictEqual } from "node:assert/strict";
import type { HeaderList } from "./header_getter.ts";
import { stripHopByHop } from "./hop_by_hop.ts";

const cases: { name: string; input: HeaderList; want: HeaderList }[] = [
  {
    name: "removes every always-hop-by-hop field",
    input: [
      ["Connection", "keep-alive"],
      ["Keep-Alive", "timeout=5"],
      ["Proxy-Connection", "keep-alive"],
      ["TE", "trailers"],
      ["Trailer", "Expires"],
      ["Transfer-Encoding", "chunked"],
      ["Upgrade", "websocket"],
      ["Proxy-Authenticate", "Basic"],
      ["Proxy-Authorization", "Basic YTpi"],
      ["Content-Type", "text/plain"],
    ],
    want: [["content-type", "text/plain"]],
  },
  {
    name: "removes the fields Connection names, case-insensitively",
    input: [["connection", "close, X-Private-Hop"], ["x-private-hop", "1"], ["X-End-To-End", "2"]],
    want: [["x-end-to-end", "2"]],
  },
  {
    name: "removes fields named by several Connection lines",
    input: [["connection", "x-a"], ["connection", "x-b"], ["x-a", "1"], ["x-b", "2"], ["x-c", "3"]],
    want: [["x-c", "3"]],
  },
  {
    name: "does not let Connection remove Host or Content-Length",
    input: [["connection", "host, content-length"], ["host", "a.example"], ["content-length", "3"]],
    want: [["host", "a.example"], ["content-length", "3"]],
  },
  {
    name: "keeps order and repeated end-to-end fields",
    input: [["set-cookie", "a=1"], ["ETag", '"x"'], ["set-cookie", "b=2"]],
    want: [["set-cookie", "a=1"], ["etag", '"x"'], ["set-cookie", "b=2"]],
  },
  {
    name: "removes the fields Proxy-Connection names, and keeps them when only keep-alive is named",
    input: [["Proxy-Connection", "X-Old"], ["x-old", "1"], ["Connection", "keep-alive"], ["x-new", "2"]],
    want: [["x-new", "2"]],
  },
  {
    name: "keeps every end-to-end field when Connection names only standard hop-by-hop fields",
    input: [["Connection", "keep-alive, Upgrade"], ["upgrade", "h2c"], ["keep-alive", "timeout=5"], ["etag", '"e"']],
    want: [["etag", '"e"']],
  },
  { name: "returns an empty list for an empty list", input: [], want: [] },
];

for (const c of cases) {
  Deno.test(`stripHopByHop() ${c.name}`, () => deepStrictEqual(stripHopByHop(c.input), c.want));
}
