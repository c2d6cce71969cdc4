import assert from "node:assert/strict";
import { validateConfig } from "../config/load.ts";
import { directorOverrides, parseRealFlag } from "./director.ts";

Deno.test("parseRealFlag() reads HOST:PORT and HOST:PORT:WEIGHT", () => {
  assert.deepEqual(parseRealFlag("10.0.0.11:80"), { address: "10.0.0.11", port: 80, weight: undefined });
  assert.deepEqual(parseRealFlag("10.0.0.11:80:3"), { address: "10.0.0.11", port: 80, weight: 3 });
  assert.deepEqual(parseRealFlag("cache1:8080:0"), { address: "cache1", port: 8080, weight: 0 });
  assert.throws(() => parseRealFlag("10.0.0.11"), SyntaxError);
});

Deno.test("directorOverrides() builds one service from flags", () => {
  const o = directorOverrides({
    service: "10.0.0.100:80",
    scheduler: "sh",
    persistence: "60",
    netmask: "24",
    real: ["10.0.0.11:80:2", "10.0.0.12:80"],
  });
  const [svc] = o.find((x) => x.flag === "--service")!.value as Record<string, unknown>[];
  assert.deepEqual(svc, {
    vip: "10.0.0.100",
    port: 80,
    scheduler: "sh",
    persistence: { timeoutS: 60, netmask: 24 },
    reals: [{ address: "10.0.0.11", port: 80, weight: 2 }, { address: "10.0.0.12", port: 80 }],
  });
});

Deno.test("directorOverrides() rejects --real without --service", () => {
  assert.throws(() => directorOverrides({ real: ["10.0.0.11:80"] }), /--real needs --service/);
});

Deno.test("directorOverrides() sets director.fastPath from --fast-path; the schema defaults it to auto", () => {
  const cfg = validateConfig({}, { overrides: directorOverrides({ real: [], fastPath: "off" }) });
  assert.equal(cfg.director.fastPath, "off");
  assert.equal(validateConfig({}).director.fastPath, "auto");
  assert.throws(() => validateConfig({ director: { fastPath: "on" } }), /fastPath/);
});

Deno.test("directorOverrides() sets director.stateFile from --state-file; the schema defaults it off, saves every 1 s", () => {
  const o = directorOverrides({ real: [], stateFile: "/var/lib/webcache/director.state" });
  const cfg = validateConfig({}, { overrides: o });
  assert.equal(cfg.director.stateFile, "/var/lib/webcache/director.state");
  assert.equal(cfg.director.stateSaveIntervalMs, 1000);
  assert.equal(validateConfig({}).director.stateFile, undefined);
  assert.throws(() => validateConfig({ director: { stateSaveIntervalMs: 500 } }), /stateSaveIntervalMs/);
});

Deno.test("directorOverrides() sets director.ha.priority from --ha-priority, validated like the key", () => {
  const cfg = validateConfig({ director: { ha: { mode: "active-backup", priority: 100 } } }, {
    overrides: directorOverrides({ real: [], haPriority: "200" }),
  });
  assert.equal(cfg.director.ha.priority, 200);
  assert.throws(
    () => validateConfig({}, { overrides: directorOverrides({ real: [], haPriority: "300" }) }),
    /--ha-priority|director\.ha\.priority/,
  );
});
