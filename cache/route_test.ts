import { assertEquals } from "../tests/_assert.ts";
import { resolveRoute } from "./route.ts";

const cfg = {
  origins: { "a.example": "http://10.0.0.1:8080" },
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
        host: "A.example",
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
        host: "other:80",
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
    { name: "https URL", target: "https://h/", host: "h", mode: "forward", want: { kind: "error", status: 501 } },
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
    const r = resolveRoute({ method: row.method ?? "GET", target: row.target, host: row.host }, row.mode, {
      ...cfg,
      forwardAllowed: row.allowed ?? true,
    });
    if (r.kind === "error") assertEquals({ kind: r.kind, status: r.status }, row.want, row.name);
    else assertEquals(r, row.want, row.name);
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
