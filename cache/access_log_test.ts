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

function entry(url: string) {
  return {
    time: 1000,
    elapsedMs: 1,
    client: "c",
    code: "TCP_MISS",
    status: 200,
    bytes: 1,
    method: "GET",
    url,
    hierarchy: "HIER_DIRECT",
    peer: "o",
    type: "-",
  };
}

Deno.test("AccessLog.reopen() after a rename: earlier lines in the old file, later ones in the new, none twice", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/access.log`;
    const log = new AccessLog(file);
    for (let i = 0; i < 500; i++) log.log(entry(`a${i}`));
    await log.flush();
    for (let i = 0; i < 500; i++) log.log(entry(`b${i}`)); // buffered at the rename
    await Deno.rename(file, `${file}.1`);
    const reopened = log.reopen();
    for (let i = 0; i < 500; i++) log.log(entry(`c${i}`)); // logged while the switch is queued
    await reopened;
    for (let i = 0; i < 500; i++) log.log(entry(`d${i}`));
    await log.close();
    const urls = (t: string) => t.trim().split("\n").map((l) => l.split(/\s+/)[6]);
    const old = urls(await Deno.readTextFile(`${file}.1`));
    const now = urls(await Deno.readTextFile(file));
    assertEquals(old.length + now.length, 2000);
    assertEquals(new Set([...old, ...now]).size, 2000);
    assertEquals(old.filter((u) => u.startsWith("a") || u.startsWith("b")).length, 1000);
    assertEquals(now.filter((u) => u.startsWith("d")).length, 500);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AccessLog.reopen() to a path that cannot be opened keeps writing to the old file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/access.log`;
    const log = new AccessLog(file);
    log.log(entry("before"));
    let failed = false;
    await log.reopen(`${dir}/missing/access.log`).catch(() => failed = true);
    assertEquals(failed, true);
    log.log(entry("after"));
    await log.close();
    assertEquals((await Deno.readTextFile(file)).trim().split("\n").length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
