import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { type EntityTag, parseEntityTag, parseEntityTagList, strongMatch, weakMatch } from "./entity_tag.ts";

const tagCases: { input: string | null; want: EntityTag | undefined }[] = [
  { input: '"xyzzy"', want: { weak: false, tag: "xyzzy" } },
  { input: 'W/"xyzzy"', want: { weak: true, tag: "xyzzy" } },
  { input: '""', want: { weak: false, tag: "" } },
  { input: ' "a" ', want: { weak: false, tag: "a" } },
  { input: "xyzzy", want: undefined },
  { input: 'w/"a"', want: undefined },
  { input: '"a', want: undefined },
  { input: '"a"b"', want: undefined },
  { input: null, want: undefined },
];
for (const c of tagCases) {
  Deno.test(`parseEntityTag() parses ${JSON.stringify(c.input)}`, () =>
    deepStrictEqual(parseEntityTag(c.input), c.want));
}

Deno.test("parseEntityTagList() parses *, lists, and skips junk members", () => {
  strictEqual(parseEntityTagList(" * "), "*");
  deepStrictEqual(parseEntityTagList('"xyzzy", "r2d2xxxx", "c3piozzzz"').length, 3);
  deepStrictEqual(parseEntityTagList('W/"a",junk , "b"'), [{ weak: true, tag: "a" }, { weak: false, tag: "b" }]);
  deepStrictEqual(parseEntityTagList('"a,b"'), [{ weak: false, tag: "a,b" }]);
  deepStrictEqual(parseEntityTagList(""), []);
});

// RFC 9110 §8.8.3.2 comparison table.
const compareCases: { a: string; b: string; strong: boolean; weak: boolean }[] = [
  { a: 'W/"1"', b: 'W/"1"', strong: false, weak: true },
  { a: 'W/"1"', b: 'W/"2"', strong: false, weak: false },
  { a: 'W/"1"', b: '"1"', strong: false, weak: true },
  { a: '"1"', b: '"1"', strong: true, weak: true },
];
for (const c of compareCases) {
  Deno.test(`strongMatch() and weakMatch() follow RFC 9110 for ${c.a} vs ${c.b}`, () => {
    const a = parseEntityTag(c.a)!;
    const b = parseEntityTag(c.b)!;
    strictEqual(strongMatch(a, b), c.strong);
    strictEqual(weakMatch(a, b), c.weak);
  });
}
