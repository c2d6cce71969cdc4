/** `webcache cache` peering flags: --peer, --icp-port, --peering. */
import assert from "node:assert/strict";
import { runWebcache } from "../_bin.ts";
import { CacheNode, randomPort } from "./_icp_nodes.ts";

Deno.test("webcache cache --peer rejects a malformed peer with status 2 and names the flag", async () => {
  const r = await runWebcache(["cache", "--peer", "10.0.0.2:3128/cousin"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Cannot parse --peer "10\.0\.0\.2:3128\/cousin": type "cousin" is not sibling or parent/);
  const m = await runWebcache(["cache", "--peering", "carp", "--peer", "10.0.0.2:3128"]);
  assert.equal(m.code, 2);
  assert.match(m.stderr, /--peering: cache\.peering\.mode/);
});

Deno.test("webcache cache --icp-port --peer runs peering without a config file and shows it in /status", async () => {
  const http = randomPort();
  const icp = randomPort();
  const admin = randomPort();
  const node = await CacheNode.start("flags", { cluster: { nodeName: "flags" } }, {
    args: [
      "--listen",
      `127.0.0.1:${http}`,
      "--admin",
      `127.0.0.1:${admin}`,
      "--icp-port",
      String(icp),
      "--peer",
      "127.0.0.2:3128:3130/sibling",
      "--peer",
      "127.0.0.3:3128:0/parent",
      "--peering",
      "icp",
    ],
  });
  try {
    const st = await (await fetch(`http://127.0.0.1:${admin}/status`)).json();
    assert.equal(st.peering.mode, "icp");
    assert.equal(st.peering.icpListen, `0.0.0.0:${icp}`);
    assert.deepEqual(
      st.peering.icp.map((p: { peer: string; type: string }) => `${p.peer}/${p.type}`),
      ["127.0.0.2:3130/sibling", "127.0.0.3:0/parent"],
    );
  } finally {
    await node.stop();
  }
});
