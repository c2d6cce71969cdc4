import { deepStrictEqual } from "node:assert/strict";
import { type ContentRange, parseContentRange } from "./content_range.ts";

/** RFC 9110 §14.4 examples and the cases a cache must refuse to store. */
const cases: { value: string | null; want: ContentRange | undefined }[] = [
  { value: "bytes 42-1233/1234", want: { start: 42, end: 1233, length: 1234 } },
  { value: "bytes 0-0/1", want: { start: 0, end: 0, length: 1 } },
  { value: "bytes 4-9/10", want: { start: 4, end: 9, length: 10 } },
  { value: "Bytes 4-9/10", want: { start: 4, end: 9, length: 10 } },
  { value: " bytes 4-9/10 ", want: { start: 4, end: 9, length: 10 } },
  { value: "bytes 42-1233/*", want: undefined },
  { value: "bytes */1234", want: undefined },
  { value: "bytes 9-4/10", want: undefined },
  { value: "bytes 4-10/10", want: undefined },
  { value: "items 0-4/10", want: undefined },
  { value: "bytes 4-9", want: undefined },
  { value: "bytes=4-9/10", want: undefined },
  { value: "bytes -4-9/10", want: undefined },
  { value: "bytes 1234567890123456-1234567890123457/99999999999999999", want: undefined },
  { value: "", want: undefined },
  { value: null, want: undefined },
];

for (const c of cases) {
  Deno.test(`parseContentRange() ${JSON.stringify(c.value)}`, () => {
    deepStrictEqual(parseContentRange(c.value), c.want);
  });
}
