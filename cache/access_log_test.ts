import { assertEquals } from "../tests/_assert.ts";
import { AccessLog, formatAccessLogLine } from "./access_log.ts";

Deno.test("formatAccessLogLine() writes Squid's native format", () => {
  const line = formatAccessLogLine({
    time: 1064749418434,
    elapsedMs: 178,
    client: "127.0.0.1",
    code: "TCP_MISS",
    status: 200,
    bytes: 2489,
    method: "GET",
    url: "http://www.example.com/",
    hierarchy: "HIER_DIRECT",
    peer: "192.0.2.1",
    type: "text/html; charset=utf-8",
  });
  assertEquals(
    line,
    "1064749418.434    178 127.0.0.1 TCP_MISS/200 2489 GET http://www.example.com/ - HIER_DIRECT/192.0.2.1 text/html",
  );
  const odd = formatAccessLogLine({
    time: 5,
    elapsedMs: 1234567,
    client: "::1",
    code: "NONE",
    status: 0,
    bytes: 0,
    method: "NONE",
    url: "error:invalid request",
    hierarchy: "HIER_NONE",
    peer: "-",
    type: "",
  });
  assertEquals(odd, "0.005 1234567 ::1 NONE/000 0 NONE error:invalid%20request - HIER_NONE/- -");
});

Deno.test("AccessLog appends lines to a file", async () => {
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, "old\n");
    const log = new AccessLog(file);
    log.log({
      time: 1000,
      elapsedMs: 1,
      client: "c",
      code: "TCP_HIT",
      status: 200,
      bytes: 1,
      method: "GET",
      url: "u",
      hierarchy: "HIER_NONE",
      peer: "-",
      type: "-",
    });
    await log.close();
    assertEquals(await Deno.readTextFile(file), "old\n1.000      1 c TCP_HIT/200 1 GET u - HIER_NONE/- -\n");
    const none = new AccessLog("none");
    assertEquals(none.enabled, false);
    await none.close();
  } finally {
    await Deno.remove(file);
  }
});
