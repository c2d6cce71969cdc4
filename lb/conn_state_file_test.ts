import assert from "node:assert/strict";
import { setLogSink } from "../core/log.ts";
import { type ConnState, encodeConnState, newConnRecords, newTemplateRecords } from "./conn_state_codec.ts";
import { ConnStateFile } from "./conn_state_file.ts";

function state(n: number): ConnState {
  const conns = newConnRecords(n);
  for (let i = 0; i < n; i++) {
    conns.saddr[i] = 0xc0a80000 + i;
    conns.daddr[i] = 0x0a000064;
    conns.ports[i] = ((i << 16) | 80) >>> 0;
    conns.state[i] = 1;
    conns.remainingMs[i] = 900_000;
  }
  return {
    savedAtMs: 1_700_000_000_000,
    services: [{ key: "10.0.0.100:80", netmask: 32 }],
    servers: [{ service: 0, key: "10.0.0.11:80" }],
    conns,
    templates: newTemplateRecords(0),
  };
}

async function withLogs<T>(fn: (lines: string[]) => Promise<T>): Promise<T> {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  try {
    return await fn(lines);
  } finally {
    setLogSink();
  }
}

Deno.test("ConnStateFile saves atomically into a new directory (mode 0600) and reads back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ds-state-" });
  try {
    const f = new ConnStateFile(`${dir}/sub/director.state`);
    f.save(state(10));
    f.save(state(20)); // replaces the waiting one or follows the running one
    await f.flush();
    const got = await f.read();
    assert.equal(got?.conns.saddr.length, 20);
    assert.equal(f.last?.conns, 20);
    const st = await Deno.stat(`${dir}/sub/director.state`);
    assert.equal(st.mode! & 0o777, 0o600);
    const names = [...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name);
    assert.deepEqual(names, ["director.state"], "no temporary file left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ConnStateFile.read() returns nothing for a missing file, and logs why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ds-state-" });
  try {
    await withLogs(async (lines) => {
      assert.equal(await new ConnStateFile(`${dir}/none.state`).read(), undefined);
      assert(lines.some((l) => l.includes("No saved connection state")), lines.join("\n"));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const BAD: { description: string; bytes: () => Uint8Array; error: string }[] = [
  { description: "a truncated file", bytes: () => encodeConnState(state(5)).subarray(0, 70), error: "checksum" },
  {
    description: "a damaged file",
    bytes: () => {
      const b = encodeConnState(state(5));
      b[80] ^= 1;
      return b;
    },
    error: "checksum",
  },
  {
    description: "a foreign file",
    bytes: () => new TextEncoder().encode("GIF89a and more bytes of a picture, long enough to pass the size check"),
    error: "magic",
  },
  { description: "an empty file", bytes: () => new Uint8Array(0), error: "length 0" },
];

for (const c of BAD) {
  Deno.test(`ConnStateFile.read() ignores ${c.description} with one warning naming file and reason`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "ds-state-" });
    try {
      const path = `${dir}/director.state`;
      await Deno.writeFile(path, c.bytes());
      await withLogs(async (lines) => {
        assert.equal(await new ConnStateFile(path).read(), undefined);
        const warn = lines.filter((l) => l.includes("Ignoring the saved connection state"));
        assert.equal(warn.length, 1, lines.join("\n"));
        assert(warn[0].includes(path) && warn[0].includes(c.error), warn[0]);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("ConnStateFile survives failing writes and logs once per failure streak", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ds-state-" });
  try {
    // The parent "directory" is a regular file: every write fails with ENOTDIR.
    await Deno.writeTextFile(`${dir}/notadir`, "x");
    await withLogs(async (lines) => {
      const f = new ConnStateFile(`${dir}/notadir/director.state`);
      for (let i = 0; i < 3; i++) {
        f.save(state(1));
        await f.flush();
      }
      assert.equal(f.last, undefined);
      assert.equal(lines.filter((l) => l.includes("Cannot save the connection state")).length, 1, lines.join("\n"));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
