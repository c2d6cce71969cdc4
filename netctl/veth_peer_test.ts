import { assertEquals } from "../tests/_assert.ts";
import { requires } from "../tests/_requires.ts";
import { interfaceDriver, vethPeerInOtherNamespace } from "./veth_peer.ts";

async function ip(ns: string | undefined, args: string[]): Promise<void> {
  const cmd = ns ? ["netns", "exec", ns, "ip", ...args] : args;
  const r = await new Deno.Command("ip", { args: cmd, stdout: "null", stderr: "piped" }).output();
  if (!r.success) throw new Error(`ip ${cmd.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

/** Runs this test file's check inside a namespace (sysfs and interfaces are the namespace's). */
async function inNamespace(ns: string, iface: string): Promise<boolean> {
  const code = `import { vethPeerInOtherNamespace } from "${new URL("./veth_peer.ts", import.meta.url).href}";
console.log(vethPeerInOtherNamespace("${iface}"));`;
  const r = await new Deno.Command("ip", {
    args: ["netns", "exec", ns, Deno.execPath(), "eval", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
  return new TextDecoder().decode(r.stdout).trim() === "true";
}

Deno.test("interfaceDriver() gives nothing for a missing interface; lo is no veth", () => {
  assertEquals(interfaceDriver("nosuchif0"), undefined);
  assertEquals(vethPeerInOtherNamespace("nosuchif0"), false);
  assertEquals(vethPeerInOtherNamespace("lo"), false);
});

Deno.test({
  ...await requires("vethPeerInOtherNamespace() is true only for a veth whose peer is in another namespace", {
    netns: true,
  }),
  async fn() {
    const ns = `vp${crypto.randomUUID().slice(0, 6)}`;
    await ip(undefined, ["netns", "add", ns]);
    try {
      // A pair split across two namespaces, and a pair inside one.
      await ip(ns, ["link", "add", "vpa", "type", "veth", "peer", "name", "vpb"]);
      await ip(ns, ["link", "add", "vpc", "type", "veth", "peer", "name", "vpd"]);
      const other = `${ns}o`;
      await ip(undefined, ["netns", "add", other]);
      try {
        await ip(ns, ["link", "set", "vpb", "netns", other]);
        assertEquals(await inNamespace(ns, "vpa"), true, "peer in another namespace");
        assertEquals(await inNamespace(other, "vpb"), true, "seen from the other side");
        assertEquals(await inNamespace(ns, "vpc"), false, "peer in the same namespace");
        assertEquals(await inNamespace(ns, "lo"), false, "not a veth");
      } finally {
        await ip(undefined, ["netns", "del", other]);
      }
    } finally {
      await ip(undefined, ["netns", "del", ns]);
    }
  },
});
