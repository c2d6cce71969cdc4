import { assertEquals } from "../tests/_assert.ts";
import { chooseMode } from "./run_demo.ts";

Deno.test("chooseMode() picks DR in namespaces as root, proxy on loopback otherwise, and says why", () => {
  const cases: {
    requested: "proxy" | "dr" | "tun" | undefined;
    root: boolean;
    netns: boolean;
    want: string;
  }[] = [
    { requested: undefined, root: true, netns: true, want: "dr/netns: running as root" },
    { requested: undefined, root: false, netns: false, want: "proxy/loopback: not running as root" },
    { requested: undefined, root: true, netns: false, want: "proxy/loopback: running as root, but 'ip netns'" },
    { requested: "proxy", root: true, netns: true, want: "proxy/loopback: --method proxy asked for" },
    { requested: "tun", root: true, netns: true, want: "tun/netns: --method tun asked for" },
    { requested: "dr", root: false, netns: false, want: "error: --method dr needs root" },
    { requested: "tun", root: true, netns: false, want: "error: --method tun needs network namespaces" },
  ];
  for (const c of cases) {
    const m = chooseMode(c.requested, { root: c.root, netns: c.netns });
    const got = "error" in m ? `error: ${m.error}` : `${m.method}/${m.network}: ${m.reason}`;
    assertEquals(got.startsWith(c.want), true, `${JSON.stringify(c)} -> ${got}`);
  }
});
