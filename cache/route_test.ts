import { assertEquals } from "../tests/_assert.ts";
import { keyUrl, originFormUrl, resolveRoute } from "./route.ts";

const cfg = {
  origins: { "a.example": "http://10.0.0.1:8080", "s.example": "https://origin.example" },
  defaultOrigin: "http://10.0.0.9",
  forwardAllowed: true,
};

Deno.test("resolveRoute() maps requests per listener mode", () => {
  const table: {
    name: string;
    method?: string;
    target: string;
    host: string | null;
    mode: "accel" | "forward" | "transparent";
    tls?: boolean;
    allowed?: boolean;
    want: unknown;
  }[] = [
    {
      name: "accel by Host",
      target: "/x?y",
      host: "A.example",
      mode: "accel",
      want: {
        kind: "http",
        url: "http://a.example/x?y",
        origin: { hostname: "10.0.0.1", port: 8080 },
        host: "a.example",
        path: "/x?y",
      },
    },
    {
      name: "accel default origin",
      target: "/",
      host: "other:80",
      mode: "accel",
      want: {
        kind: "http",
        url: "http://other/",
        origin: { hostname: "10.0.0.9", port: 80 },
        host: "other",
        path: "/",
      },
    },
    {
      name: "forward absolute-form",
      target: "http://h.example:81/p",
      host: "h.example:81",
      mode: "forward",
      want: {
        kind: "http",
        url: "http://h.example:81/p",
        origin: { hostname: "h.example", port: 81 },
        host: "h.example:81",
        path: "/p",
      },
    },
    {
      name: "forward empty path",
      target: "http://h.example",
      host: null,
      mode: "forward",
      want: {
        kind: "http",
        url: "http://h.example/",
        origin: { hostname: "h.example", port: 80 },
        host: "h.example",
        path: "/",
      },
    },
    {
      name: "transparent by Host",
      target: "/t",
      host: "192.0.2.7:8080",
      mode: "transparent",
      want: {
        kind: "http",
        url: "http://192.0.2.7:8080/t",
        origin: { hostname: "192.0.2.7", port: 8080 },
        host: "192.0.2.7:8080",
        path: "/t",
      },
    },
    { name: "forward origin-form", target: "/p", host: "h", mode: "forward", want: { kind: "error", status: 400 } },
    {
      name: "forward not allowed",
      target: "http://h/",
      host: "h",
      mode: "forward",
      allowed: false,
      want: { kind: "error", status: 403 },
    },
    {
      name: "transparent not allowed",
      target: "/",
      host: "h",
      mode: "transparent",
      allowed: false,
      want: { kind: "error", status: 403 },
    },
    {
      name: "https URL: fetched over TLS",
      target: "https://H:443/a",
      host: "h",
      mode: "forward",
      want: {
        kind: "http",
        url: "https://h/a",
        origin: { hostname: "h", port: 443, tls: true },
        host: "h",
        path: "/a",
      },
    },
    { name: "ftp URL", target: "ftp://h/", host: "h", mode: "forward", want: { kind: "error", status: 501 } },
    {
      name: "accel over TLS: https key, the origin's own scheme",
      target: "/x",
      host: "a.example:443",
      tls: true,
      mode: "accel",
      want: {
        kind: "http",
        url: "https://a.example/x",
        origin: { hostname: "10.0.0.1", port: 8080 },
        host: "a.example",
        path: "/x",
      },
    },
    {
      name: "accel to an https:// origin",
      target: "/x",
      host: "s.example",
      mode: "accel",
      want: {
        kind: "http",
        url: "http://s.example/x",
        origin: { hostname: "origin.example", port: 443, tls: true },
        host: "s.example",
        path: "/x",
      },
    },
    {
      name: "transparent over TLS: port 443, TLS to the origin",
      target: "/t",
      host: "t.example",
      tls: true,
      mode: "transparent",
      want: {
        kind: "http",
        url: "https://t.example/t",
        origin: { hostname: "t.example", port: 443, tls: true },
        host: "t.example",
        path: "/t",
      },
    },
    { name: "user info", target: "http://u@h/", host: "h", mode: "forward", want: { kind: "error", status: 400 } },
    { name: "bad Host", target: "/", host: "a b", mode: "accel", want: { kind: "error", status: 400 } },
    {
      name: "CONNECT",
      method: "CONNECT",
      target: "h.example:443",
      host: "h.example:443",
      mode: "forward",
      want: { kind: "connect", target: { hostname: "h.example", port: 443 } },
    },
    {
      name: "CONNECT no port",
      method: "CONNECT",
      target: "h.example",
      host: null,
      mode: "forward",
      want: { kind: "error", status: 400 },
    },
    {
      name: "CONNECT on accel",
      method: "CONNECT",
      target: "h:443",
      host: null,
      mode: "accel",
      want: { kind: "error", status: 405 },
    },
  ];
  for (const row of table) {
    const r = resolveRoute(
      { method: row.method ?? "GET", target: row.target, host: row.host, tls: row.tls },
      row.mode,
      { ...cfg, forwardAllowed: row.allowed ?? true },
    );
    if (r.kind === "error") assertEquals({ kind: r.kind, status: r.status }, row.want, row.name);
    else if (r.kind === "http") {
      const { key, ...rest } = r;
      assertEquals(key, r.url, `${row.name}: the key is the URL`);
      assertEquals(rest, row.want, row.name);
    } else assertEquals(r, row.want, row.name);
  }
  assertEquals(
    resolveRoute({ method: "GET", target: "/", host: "x" }, "accel", { origins: {}, forwardAllowed: true }).kind,
    "error",
  );
});

Deno.test("resolveRoute() gives the same answer for a host it has parsed before, in any case", () => {
  const cases: {
    target: string;
    host: string;
    mode: "accel" | "transparent" | "forward";
    url?: string;
    status?: number;
  }[] = [
    { target: "/p", host: "B.Example:80", mode: "transparent", url: "http://b.example/p" },
    { target: "/q", host: "b.example:80", mode: "transparent", url: "http://b.example/q" },
    { target: "/p", host: "b.example:8080", mode: "transparent", url: "http://b.example:8080/p" },
    { target: "/p", host: "bad host", mode: "transparent", status: 400 },
    { target: "/p", host: "b.example:99999", mode: "transparent", status: 400 },
    { target: "http://B.example:81/x", host: "ignored", mode: "forward", url: "http://b.example:81/x" },
  ];
  for (let round = 0; round < 3; round++) {
    for (const c of cases) {
      const r = resolveRoute({ method: "GET", target: c.target, host: c.host }, c.mode, cfg);
      const name = `${c.host} ${c.target} (round ${round})`;
      if (c.status) assertEquals(r.kind === "error" ? r.status : r.kind, c.status, name);
      else {
        assertEquals(r.kind === "http" ? r.url : r.kind, c.url, name);
        if (r.kind === "http" && c.mode !== "accel") {
          assertEquals(r.origin, { hostname: "b.example", port: Number(/:(\d+)\//.exec(c.url!)?.[1] ?? 80) }, name);
        }
      }
    }
  }
});

Deno.test("resolveRoute() asks the origin exactly the URL it keys the answer under", () => {
  const table: {
    name: string;
    target: string;
    host: string | null;
    mode: "accel" | "forward" | "transparent";
    /** Key URL, Host sent, path sent, origin; or an error status. */
    want: [string, string, string, string] | number;
  }[] = [
    {
      name: "dot-dot",
      target: "/a/../secret",
      host: "a.example",
      mode: "accel",
      want: ["http://a.example/secret", "a.example", "/secret", "10.0.0.1:8080"],
    },
    {
      name: "%2e%2e",
      target: "/%2e%2e/a/%2E%2E/x",
      host: "a.example",
      mode: "accel",
      want: ["http://a.example/x", "a.example", "/x", "10.0.0.1:8080"],
    },
    {
      name: "backslashes",
      target: "/a\\..\\b",
      host: "a.example",
      mode: "accel",
      want: ["http://a.example/b", "a.example", "/b", "10.0.0.1:8080"],
    },
    {
      name: "./",
      target: "/./a/./b",
      host: "a.example",
      mode: "accel",
      want: ["http://a.example/a/b", "a.example", "/a/b", "10.0.0.1:8080"],
    },
    {
      name: "fragment",
      target: "/x#frag",
      host: "a.example",
      mode: "accel",
      want: ["http://a.example/x", "a.example", "/x", "10.0.0.1:8080"],
    },
    {
      name: "unreserved escape",
      target: "/%7Euser",
      host: "A.EXAMPLE:80",
      mode: "accel",
      want: ["http://a.example/~user", "a.example", "/~user", "10.0.0.1:8080"],
    },
    {
      name: "empty port",
      target: "/p",
      host: "a.example:",
      mode: "accel",
      want: ["http://a.example/p", "a.example", "/p", "10.0.0.1:8080"],
    },
    // RFC 9112 §3.2.2: the absolute-form authority wins over Host, in routing, key and Host sent.
    {
      name: "absolute-form beats Host (accel)",
      target: "http://evil/",
      host: "a.example",
      mode: "accel",
      want: ["http://evil/", "evil", "/", "10.0.0.9:80"],
    },
    {
      name: "absolute-form to a configured site",
      target: "http://A.example:80/../p",
      host: "other",
      mode: "accel",
      want: ["http://a.example/p", "a.example", "/p", "10.0.0.1:8080"],
    },
    {
      name: "absolute-form beats Host (transparent)",
      target: "http://evil:81/x",
      host: "good",
      mode: "transparent",
      want: ["http://evil:81/x", "evil:81", "/x", "evil:81"],
    },
    {
      name: "forward dot segments",
      target: "http://h/a/%2e%2e/b#f",
      host: "h",
      mode: "forward",
      want: ["http://h/b", "h", "/b", "h:80"],
    },
    {
      name: "numeric host",
      target: "http://2130706433:8080/",
      host: null,
      mode: "forward",
      want: ["http://127.0.0.1:8080/", "127.0.0.1:8080", "/", "127.0.0.1:8080"],
    },
    { name: "duplicate port", target: "/", host: "a.example:80:80", mode: "accel", want: 400 },
    { name: "bad escape", target: "/a%zz", host: "a.example", mode: "accel", want: 400 },
    { name: "encoded NUL", target: "/a%00", host: "a.example", mode: "accel", want: 400 },
    { name: "bad escape (absolute)", target: "http://h/%", host: null, mode: "forward", want: 400 },
    {
      name: "absolute-form user info behind a backslash",
      target: "http://u@h\\x/",
      host: null,
      mode: "forward",
      want: 400,
    },
  ];
  for (const row of table) {
    const r = resolveRoute({ method: "GET", target: row.target, host: row.host }, row.mode, cfg);
    if (typeof row.want === "number") assertEquals(r.kind === "error" ? r.status : r.kind, row.want, row.name);
    else {
      assertEquals(r.kind, "http", row.name);
      if (r.kind !== "http") continue;
      assertEquals([r.url, r.host, r.path, `${r.origin.hostname}:${r.origin.port}`], row.want, row.name);
      assertEquals(`http://${r.host}${r.path}`, r.url, `${row.name}: key = what the origin is asked`);
    }
  }
});

Deno.test("resolveRoute() keys https:// as http:// only when schemeInKey is false", () => {
  const req = { method: "GET", target: "/k", host: "a.example", tls: true };
  const sep = resolveRoute(req, "accel", cfg);
  const one = resolveRoute(req, "accel", { ...cfg, schemeInKey: false });
  if (sep.kind !== "http" || one.kind !== "http") throw new Error("expected http routes");
  assertEquals([sep.url, sep.key], ["https://a.example/k", "https://a.example/k"]);
  assertEquals([one.url, one.key], ["https://a.example/k", "http://a.example/k"]);
  assertEquals(keyUrl("http://a/x", false), "http://a/x");
  assertEquals(keyUrl("https://a:8443/x", false), "http://a:8443/x");
  assertEquals(keyUrl("https://a/x", true), "https://a/x");
});

Deno.test("originFormUrl() answers a repeated request from its last result and every other one afresh", () => {
  const a = originFormUrl("Site.Example:80", "/a%7e?x");
  assertEquals(a?.url, "http://site.example/a~?x");
  // Asked again with nothing in between (the fast lookup, then the route): the same answer, not a second parse.
  const again = originFormUrl("Site.Example:80", "/a%7e?x");
  if (again !== a) throw new Error("originFormUrl() normalised the same request twice in a row");
  // Any difference in host, target or scheme is a new answer, including a failure and after it.
  assertEquals(originFormUrl("Site.Example:80", "/a%7e?x", "https")?.url, "https://site.example:80/a~?x");
  assertEquals(originFormUrl("site.example", "/b")?.url, "http://site.example/b");
  assertEquals(originFormUrl("bad host", "/b"), null);
  assertEquals(originFormUrl("bad host", "/b"), null);
  assertEquals(originFormUrl("site.example", "/b")?.url, "http://site.example/b");
  assertEquals(originFormUrl("Site.Example:80", "/a%7e?x")?.url, "http://site.example/a~?x");
});
