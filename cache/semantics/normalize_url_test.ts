import { assertEquals } from "../../tests/_assert.ts";
import { normalizeAuthority, normalizePathQuery, normalizeUrl, removeDotSegments } from "./normalize_url.ts";

const paths: { name: string; input: string; want: string | null }[] = [
  { name: "keeps a plain path", input: "/a/b?x=1", want: "/a/b?x=1" },
  { name: "removes dot-dot segments", input: "/a/../secret", want: "/secret" },
  { name: "removes dot segments", input: "/a/./b/.", want: "/a/b/" },
  { name: "does not climb above the root", input: "/../../etc/passwd", want: "/etc/passwd" },
  { name: "decodes %2e%2e before removing dot segments", input: "/a/%2e%2e/secret", want: "/secret" },
  { name: "decodes %2E%2E in any case", input: "/a/%2E%2e/%2E/b", want: "/b" },
  { name: "decodes a leading %2e%2e", input: "/%2e%2e/x", want: "/x" },
  { name: "mixes . and %2e", input: "/a/.%2e/b", want: "/b" },
  { name: "turns backslashes into slashes", input: "/a\\..\\b", want: "/b" },
  { name: "accepts a target starting with a backslash", input: "\\a", want: "/a" },
  { name: "drops the fragment", input: "/x#frag", want: "/x" },
  { name: "drops a fragment after the query", input: "/x?a=1#frag", want: "/x?a=1" },
  { name: "decodes escaped unreserved characters", input: "/%7Euser/%41%62c%2D%5f", want: "/~user/Abc-_" },
  { name: "upper-cases other escapes", input: "/a%2fb%3a?q=%2f%e9", want: "/a%2Fb%3A?q=%2F%E9" },
  { name: "keeps %2F as an escape (not a separator)", input: "/a%2F..%2Fb", want: "/a%2F..%2Fb" },
  { name: "keeps the query order and case", input: "/p?b=2&a=1&B=3", want: "/p?b=2&a=1&B=3" },
  { name: "keeps dots in the query", input: "/p?x=/../y", want: "/p?x=/../y" },
  { name: "keeps an empty query marker", input: "/p?", want: "/p?" },
  { name: "escapes a backslash in the query", input: "/p?a\\b", want: "/p?a%5Cb" },
  { name: "escapes characters outside RFC 3986", input: '/a"<>^`{|}', want: "/a%22%3C%3E%5E%60%7B%7C%7D" },
  { name: "escapes ISO-8859-1 bytes", input: "/caf\u00c3\u00a9", want: "/caf%C3%A9" },
  { name: "keeps empty segments", input: "//a//b", want: "//a//b" },
  { name: "keeps ..; as a segment", input: "/a/..;/b", want: "/a/..;/b" },
  { name: "refuses a control character", input: "/a\x01b", want: null },
  { name: "refuses DEL", input: "/a\x7f", want: null },
  { name: "refuses a space", input: "/a b", want: null },
  { name: "refuses a bare %", input: "/a%", want: null },
  { name: "refuses % with one hex digit", input: "/a%2", want: null },
  { name: "refuses % with a non-hex digit", input: "/a%2g", want: null },
  { name: "refuses invalid escapes in the query", input: "/a?%zz", want: null },
  { name: "refuses an encoded NUL in the path", input: "/a%00b", want: null },
  { name: "refuses an encoded CR LF in the path", input: "/a%0d%0aSet-Cookie:x", want: null },
  { name: "accepts an encoded newline in the query", input: "/a?t=x%0Ay", want: "/a?t=x%0Ay" },
  { name: "refuses a relative target", input: "a/b", want: null },
  { name: "refuses characters beyond one byte", input: "/\u0100", want: null },
];
for (const c of paths) {
  Deno.test(`normalizePathQuery() ${c.name}`, () => assertEquals(normalizePathQuery(c.input), c.want));
}

Deno.test("normalizePathQuery() is idempotent", () => {
  for (const c of paths) {
    if (c.want !== null) assertEquals(normalizePathQuery(c.want), c.want, c.input);
  }
});

const authorities: { input: string; want: [string, number, string] | null }[] = [
  { input: "Example.ORG", want: ["example.org", 80, "example.org"] },
  { input: "example.org:80", want: ["example.org", 80, "example.org"] },
  { input: "example.org:", want: ["example.org", 80, "example.org"] },
  { input: "example.org:0080", want: ["example.org", 80, "example.org"] },
  { input: "example.org:8080", want: ["example.org", 8080, "example.org:8080"] },
  { input: "example.org.", want: ["example.org.", 80, "example.org."] },
  { input: "2130706433", want: ["127.0.0.1", 80, "127.0.0.1"] },
  { input: "0x7f.1", want: ["127.0.0.1", 80, "127.0.0.1"] },
  { input: "0177.0.0.1:81", want: ["127.0.0.1", 81, "127.0.0.1:81"] },
  { input: "[::FFFF:127.0.0.1]", want: ["::ffff:7f00:1", 80, "[::ffff:7f00:1]"] },
  { input: "[0:0:0:0:0:0:0:1]:8080", want: ["::1", 8080, "[::1]:8080"] },
  { input: "example.org:80:80", want: null },
  { input: "example.org:0", want: null },
  { input: "example.org:65536", want: null },
  { input: "user@example.org", want: null },
  { input: "exa mple.org", want: null },
  { input: "%65xample.org", want: null },
  { input: "", want: null },
  { input: "[::1", want: null },
  { input: "256.256.256.256", want: null },
];
for (const c of authorities) {
  Deno.test(`normalizeAuthority() ${JSON.stringify(c.input)}`, () => {
    const a = normalizeAuthority(c.input, 80);
    assertEquals(a && [a.hostname, a.port, a.host], c.want);
  });
}

const urls: { input: string; want: string | null }[] = [
  { input: "HTTP://Example.ORG:80/a/../b?x#frag", want: "http://example.org/b?x" },
  { input: "http://example.org", want: "http://example.org/" },
  { input: "http://example.org?q", want: "http://example.org/?q" },
  { input: "http://example.org#f", want: "http://example.org/" },
  { input: "https://example.org:443/a", want: "https://example.org/a" },
  { input: "http://example.org:443/a", want: "http://example.org:443/a" },
  { input: "http://evil\\@good/x", want: "http://evil/@good/x" },
  { input: "http://u:p@good/x", want: null },
  { input: "ftp://example.org/", want: null },
  { input: "http:///x", want: null },
  { input: "/relative", want: null },
];
for (const c of urls) {
  Deno.test(`normalizeUrl() ${JSON.stringify(c.input)}`, () =>
    assertEquals(normalizeUrl(c.input)?.href ?? null, c.want));
}

Deno.test("removeDotSegments() follows the RFC 3986 §5.4 examples", () => {
  assertEquals(removeDotSegments("/a/b/c/./../../g"), "/a/g");
  assertEquals(removeDotSegments("/a/b/c/../.."), "/a/");
  assertEquals(removeDotSegments("/.."), "/");
  assertEquals(removeDotSegments("/a/..."), "/a/...");
});

Deno.test("normalizePathQuery: the unchanged-target fast path answers as the character-by-character rules do", () => {
  // Reference: the rules of the module doc applied one character at a time (no fast path).
  const HEX = "0123456789ABCDEF";
  const hex = (c: number) =>
    c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1;
  const unreserved = (c: number) => /[A-Za-z0-9\-._~]/.test(String.fromCharCode(c));
  const chars = (s: string, inPath: boolean): string | null => {
    let out = "";
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c <= 0x20 || c === 0x7f || c > 0xff) return null;
      if (c === 37) {
        const hi = hex(s.charCodeAt(i + 1)), lo = hex(s.charCodeAt(i + 2));
        if (hi < 0 || lo < 0) return null;
        const b = hi * 16 + lo;
        if (inPath && (b < 0x20 || b === 0x7f)) return null;
        out += unreserved(b) ? String.fromCharCode(b) : "%" + HEX[hi] + HEX[lo];
        i += 2;
      } else if (c === 92) out += inPath ? "/" : "%5C";
      else if (c > 0x7e || '"<>^`{|}'.includes(s[i])) out += "%" + HEX[c >> 4] + HEX[c & 15];
      else out += s[i];
    }
    return out;
  };
  const reference = (target: string): string | null => {
    const hash = target.indexOf("#");
    let s = hash < 0 ? target : target.slice(0, hash);
    if (hash >= 0 && chars(target.slice(hash + 1), false) === null) return null;
    if (s === "" || s[0] === "?") s = "/" + s;
    if (s[0] !== "/" && s[0] !== "\\") return null;
    const q = s.indexOf("?");
    const path = chars(q < 0 ? s : s.slice(0, q), true);
    if (path === null) return null;
    const clean = removeDotSegments(path);
    if (q < 0) return clean;
    const query = chars(s.slice(q + 1), false);
    return query === null ? null : `${clean}?${query}`;
  };
  const alphabet = [
    "a",
    "Z",
    "0",
    "/",
    "?",
    "#",
    "%",
    "%7e",
    "%2F",
    "%41",
    "\\",
    "~",
    "-",
    ".",
    "..",
    '"',
    "{",
    "|",
    "^",
    "`",
    " ",
    "\x7f",
    "\xe9",
    "=",
    "&",
    "%zz",
    "+",
  ];
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  for (let n = 0; n < 5000; n++) {
    let t = rnd(4) === 0 ? "" : "/";
    for (let k = rnd(12); k > 0; k--) t += alphabet[rnd(alphabet.length)];
    assertEquals(normalizePathQuery(t), reference(t), JSON.stringify(t));
  }
});
