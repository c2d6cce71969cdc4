import { strictEqual } from "node:assert/strict";
import { expiresAtMs } from "./expires_at.ts";
import { formatHttpDate } from "./http_date.ts";

const T0 = Date.UTC(2026, 0, 1);

Deno.test("expiresAtMs() counts the response delay as age", () => {
  const meta = {
    status: 200,
    headers: [["cache-control", "max-age=60"]] as [string, string][],
    requestTime: T0,
    responseTime: T0 + 1000,
  };
  strictEqual(expiresAtMs(meta, { shared: true }), T0 + 60_000);
});

Deno.test("expiresAtMs() subtracts a received Age", () => {
  const meta = {
    status: 200,
    headers: [["cache-control", "max-age=60"], ["age", "50"]] as [string, string][],
    requestTime: T0,
    responseTime: T0,
  };
  strictEqual(expiresAtMs(meta, { shared: true }), T0 + 10_000);
});

Deno.test("expiresAtMs() uses a heuristic lifetime", () => {
  const meta = {
    status: 200,
    headers: [["date", formatHttpDate(T0)], ["last-modified", formatHttpDate(T0 - 1_000_000)]] as [string, string][],
    requestTime: T0,
    responseTime: T0,
  };
  strictEqual(expiresAtMs(meta, { shared: true }), T0 + 100_000);
});

Deno.test("expiresAtMs() is not after the response time for a response stale on arrival", () => {
  const meta = { status: 200, headers: [["expires", "0"]] as [string, string][], requestTime: T0, responseTime: T0 };
  strictEqual(expiresAtMs(meta, { shared: true }), T0);
});
