import { strictEqual } from "node:assert/strict";
import { ageHeaderValue, currentAgeMs, parseAgeSeconds } from "./current_age.ts";
import type { HeaderList } from "./header_getter.ts";
import { formatHttpDate } from "./http_date.ts";

const T0 = Date.UTC(2026, 0, 1);
const at = (s: number) => formatHttpDate(T0 + s * 1000);

const cases: {
  name: string;
  headers: HeaderList;
  requestS: number;
  responseS: number;
  nowS: number;
  wantS: number;
}[] = [
  {
    name: "is the resident time for a fresh response without Date or Age",
    headers: [],
    requestS: 0,
    responseS: 0,
    nowS: 30,
    wantS: 30,
  },
  {
    name: "corrects a delayed response by response_delay",
    headers: [["age", "10"]],
    requestS: 0,
    responseS: 2,
    nowS: 7,
    wantS: 10 + 2 + 5,
  },
  {
    name: "uses apparent_age when the Date is older than Age suggests",
    headers: [["date", at(-100)], ["age", "10"]],
    requestS: 0,
    responseS: 0,
    nowS: 0,
    wantS: 100,
  },
  {
    name: "uses corrected_age_value when it exceeds apparent_age",
    headers: [["date", at(-5)], ["age", "60"]],
    requestS: -1,
    responseS: 0,
    nowS: 10,
    wantS: 60 + 1 + 10,
  },
  {
    name: "clamps a Date in the future (skewed origin clock) to apparent_age 0",
    headers: [["date", at(3600)]],
    requestS: 0,
    responseS: 0,
    nowS: 4,
    wantS: 4,
  },
  {
    name: "ignores an invalid Age",
    headers: [["age", "-3"]],
    requestS: 0,
    responseS: 1,
    nowS: 1,
    wantS: 1,
  },
  {
    name: "uses the first of several Age values",
    headers: [["age", "20"], ["age", "30"]],
    requestS: 0,
    responseS: 0,
    nowS: 0,
    wantS: 20,
  },
  {
    name: "ignores an invalid Date",
    headers: [["date", "yesterday"], ["age", "3"]],
    requestS: 0,
    responseS: 0,
    nowS: 2,
    wantS: 5,
  },
  {
    name: "never goes negative when now is before the response time",
    headers: [],
    requestS: 0,
    responseS: 10,
    nowS: 5,
    wantS: 10,
  },
];

for (const c of cases) {
  Deno.test(`currentAgeMs() ${c.name}`, () => {
    const meta = { headers: c.headers, requestTime: T0 + c.requestS * 1000, responseTime: T0 + c.responseS * 1000 };
    strictEqual(currentAgeMs(meta, T0 + c.nowS * 1000), c.wantS * 1000);
  });
}

Deno.test("ageHeaderValue() rounds down to whole seconds", () => {
  strictEqual(ageHeaderValue(0), "0");
  strictEqual(ageHeaderValue(999), "0");
  strictEqual(ageHeaderValue(17_999), "17");
});

Deno.test("ageHeaderValue() caps at 2^31 and never goes negative", () => {
  strictEqual(ageHeaderValue(1e15), "2147483648");
  strictEqual(ageHeaderValue(Infinity), "2147483648");
  strictEqual(ageHeaderValue(-5000), "0");
});

Deno.test("parseAgeSeconds() reads delta-seconds and ignores junk", () => {
  strictEqual(parseAgeSeconds(null), 0);
  strictEqual(parseAgeSeconds(" 42 "), 42);
  strictEqual(parseAgeSeconds("4.2"), 0);
  strictEqual(parseAgeSeconds("99999999999"), 2147483648);
});
