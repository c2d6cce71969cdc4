import { assertEquals } from "../tests/_assert.ts";
import { configureLogging, getLogger, setLogSink } from "./log.ts";

Deno.test("Logger writes JSON lines with component and fields, filtered per component", () => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  try {
    configureLogging({ level: "warn", components: { icp: "debug" }, format: "json" });
    getLogger("icp.server").debug("Dropped message", { from: "10.0.0.2:3130", reason: "short" });
    getLogger("cache").info("not shown");
    getLogger("cache").warn("shown", { err: new Error("boom") });
    assertEquals(lines.length, 2);
    const a = JSON.parse(lines[0]);
    assertEquals([a.level, a.component, a.msg, a.from, a.reason], [
      "debug",
      "icp.server",
      "Dropped message",
      "10.0.0.2:3130",
      "short",
    ]);
    assertEquals(JSON.parse(lines[1]).err, "boom");
    configureLogging({ format: "logfmt" });
    getLogger("cache").error("disk full", { shard: "d1" });
    assertEquals(lines[2].includes('msg="disk full"') && lines[2].includes("shard=d1"), true);
  } finally {
    configureLogging({ level: "info", components: {}, format: "json" });
    setLogSink();
  }
});
