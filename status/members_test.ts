import { assertEquals, assertThrows } from "../tests/_assert.ts";
import type { NodeRecord } from "../cluster/node.ts";
import { memberRefsFromAddresses, memberRefsFromRecords } from "./members.ts";

function rec(name: string, gossip: string, admin?: string): NodeRecord {
  return {
    id: `id-${name}`,
    name,
    role: "cache",
    addrs: { gossip, admin },
    weight: 1,
    state: "alive",
    configHash: "x",
    incarnation: 0,
  };
}

Deno.test("memberRefsFromRecords() reaches wildcard admin addresses at the gossip host", () => {
  assertEquals(
    memberRefsFromRecords([
      rec("a", "10.0.0.5:7946", "0.0.0.0:9090"),
      rec("b", "10.0.0.6:7946", "10.0.0.6:9191"),
      rec("c", "0.0.0.0:7946", "0.0.0.0:9092"),
      rec("d", "10.0.0.8:7946"),
    ]).map((r) => [r.name, r.admin]),
    [["a", "10.0.0.5:9090"], ["b", "10.0.0.6:9191"], ["c", "127.0.0.1:9092"], ["d", ""]],
  );
});

Deno.test("memberRefsFromAddresses() rejects an address without a port", () => {
  assertEquals(memberRefsFromAddresses(["127.0.0.1:9090"])[0].admin, "127.0.0.1:9090");
  assertThrows(() => memberRefsFromAddresses(["localhost"]), TypeError, `"localhost": expected HOST:PORT`);
});

Deno.test("memberRefsFromRecords() knows the lister by its address and others' loopback admin is unreachable", () => {
  const refs = memberRefsFromRecords([
    rec("self", "10.0.0.5:7946", "127.0.0.1:9090"),
    rec("other", "10.0.0.6:7946", "127.0.0.1:9090"),
    rec("local", "127.0.0.1:7950", "127.0.0.1:9091"),
  ], { self: "id-self", selfAdmin: "10.0.0.5:9090" });
  assertEquals(refs.map((r) => [r.name, r.admin, r.unreachableBecause]), [
    ["self", "10.0.0.5:9090", undefined],
    ["other", "127.0.0.1:9090", "its admin endpoint listens on 127.0.0.1:9090 only (admin.listen)"],
    ["local", "127.0.0.1:9091", undefined],
  ]);
});
