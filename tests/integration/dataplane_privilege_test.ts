/**
 * Starting a DR/TUN service without raw-socket rights fails with a message that names the missing
 * capabilities and says the proxy method works unprivileged. Capabilities are dropped with
 * setpriv(1) (from the bounding set, so the exec'd deno has none of them even as root).
 */
import { assertEquals, assertStringIncludes } from "../_assert.ts";
import { BUNDLE, ensureBundle } from "../_bin.ts";
import { requires } from "../_requires.ts";

const HERE = new URL(".", import.meta.url).pathname;

async function runWithoutNetCaps(args: string[]) {
  const out = await new Deno.Command("setpriv", {
    args: [
      "--inh-caps=-all",
      "--bounding-set=-net_raw,-net_admin",
      Deno.execPath(),
      "run",
      "-A",
      "--unstable-kv",
      "--unstable-net",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) };
}

for (const method of ["dr", "tun"]) {
  Deno.test({
    ...await requires(
      `director with method ${method} and no CAP_NET_RAW/CAP_NET_ADMIN fails naming them and the proxy method`,
      { root: true, commands: ["setpriv"] },
    ),
    async fn() {
      await ensureBundle();
      const r = await runWithoutNetCaps([
        BUNDLE,
        "director",
        "--service",
        "127.0.0.100:80",
        "--method",
        method,
        "--interface",
        "lo",
        "--real",
        "127.0.0.1:80",
        "--admin",
        `127.0.0.1:${20000 + Math.floor(Math.random() * 20000)}`,
      ]);
      assertEquals(r.code, 1, r.text);
      assertStringIncludes(r.text, 'Cannot start DR/TUN forwarding on "lo"');
      assertStringIncludes(r.text, "missing CAP_NET_RAW and CAP_NET_ADMIN");
      assertStringIncludes(r.text, "--method proxy works unprivileged");
    },
  });
}

Deno.test({
  ...await requires("a raw packet socket opened without CAP_NET_RAW reports a PrivilegeError", {
    root: true,
    commands: ["setpriv"],
  }),
  async fn() {
    const code = `import { PacketSocket } from "${HERE}../../netctl/packet_socket.ts";
      try { PacketSocket.open("lo"); console.log("opened"); } catch (e) { console.log(e.name + ": " + e.message); }`;
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(file, code);
      const r = await runWithoutNetCaps([file]);
      assertStringIncludes(r.text, 'PrivilegeError: Cannot open a raw packet socket on "lo"');
      assertStringIncludes(r.text, "--method proxy works unprivileged");
    } finally {
      await Deno.remove(file);
    }
  },
});
