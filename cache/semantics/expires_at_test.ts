import { strictEqual } from "node:assert/strict";
import { correctedInitialAgeMs } from "./current_age.ts";
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

Deno.test("expiresAtMs() takes a given initialAgeMs as the corrected initial age, equal to the one it computes", () => {
  const meta = {
    status: 200,
    headers: [["date", formatHttpDate(T0 - 4_000)], ["age", "3"], ["cache-control", "max-age=60"]] as [
      string,
      string,
    ][],
    requestTime: T0 - 1_000,
    responseTime: T0,
  };
  const age = correctedInitialAgeMs(meta); // max(4 s apparent, 3 s + 1 s delay) = 4 s
  strictEqual(age, 4_000);
  strictEqual(expiresAtMs(meta, { shared: true, initialAgeMs: age }), expiresAtMs(meta, { shared: true }));
  // Given, it is not computed again: a different value moves the expiry by the difference.
  strictEqual(expiresAtMs(meta, { shared: true, initialAgeMs: 10_000 }), T0 - 10_000 + 60_000);
});
