import assert from "node:assert/strict";
import { HealthCheckSchema } from "../config/health_schema.ts";
import { HealthMonitor } from "./monitor.ts";

Deno.test("HealthMonitor reports a dead server down after fall checks and up again after rise", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  let listening = true;
  const accepting = (async () => {
    for await (const c of l) c.close();
  })();
  const changes: string[] = [];
  const m = new HealthMonitor({ onChange: (key, up) => changes.push(`${key}:${up ? "up" : "down"}`) });
  const check = HealthCheckSchema.parse({ type: "tcp", intervalMs: 50, timeoutMs: 2000, fall: 2, rise: 2 });
  try {
    m.set([{ key: "a", address: "127.0.0.1", port, check }]);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(changes.length, 0, "a healthy server stays up");
    assert.ok(m.state("a")!.checks >= 2);
    l.close();
    listening = false;
    await accepting;
    const t0 = Date.now();
    while (!changes.includes("a:down")) {
      assert.ok(Date.now() - t0 < 3000, "not marked down");
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(m.state("a")!.up, false);
    assert.equal(m.state("a")!.last?.reason, "refused");
    // The target set is reconciled: removing it stops its loop.
    m.set([]);
    assert.equal(m.state("a"), undefined);
  } finally {
    if (listening) l.close();
    await accepting.catch(() => {});
    await m.stop();
  }
});

Deno.test("HealthMonitor keeps state across set() when the check is unchanged", async () => {
  const m = new HealthMonitor({ onChange: () => {} });
  const check = HealthCheckSchema.parse({ type: "none" });
  m.set([{ key: "a", address: "127.0.0.1", port: 1, check }]);
  const before = m.state("a");
  m.set([{ key: "a", address: "127.0.0.1", port: 1, check }]);
  assert.equal(m.state("a"), before);
  await m.stop();
});

Deno.test("HealthMonitor probes health.port instead of the server's port when it is set", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = (l.addr as Deno.NetAddr).port;
  const accepting = (async () => {
    for await (const c of l) c.close();
  })();
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const m = new HealthMonitor({ onChange: () => {} });
  const base = { type: "tcp", intervalMs: 50, timeoutMs: 2000, fall: 1, rise: 1 };
  try {
    m.set([
      {
        key: "via-port",
        address: "127.0.0.1",
        port: closedPort,
        check: HealthCheckSchema.parse({ ...base, port: open }),
      },
      { key: "own", address: "127.0.0.1", port: closedPort, check: HealthCheckSchema.parse(base) },
    ]);
    const t0 = Date.now();
    while (!(m.state("via-port")!.checks >= 2 && m.state("own")!.checks >= 2)) {
      assert.ok(Date.now() - t0 < 3000, "no checks ran");
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(m.state("via-port")!.up, true);
    assert.equal(m.state("via-port")!.failures, 0);
    assert.equal(m.state("own")!.up, false);
  } finally {
    l.close();
    await accepting.catch(() => {});
    await m.stop();
  }
});
