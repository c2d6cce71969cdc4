import { assertEquals, assertStringIncludes } from "../tests/_assert.ts";
import { DENO_RUN_FLAGS } from "../core/deno_flags.ts";
import { renderLauncher } from "./launcher.ts";

Deno.test("renderLauncher() execs the shipped Deno with webcache's flags and passes every argument", async () => {
  const text = renderLauncher("/opt/wc");
  assertStringIncludes(text, `exec /opt/wc/deno run ${DENO_RUN_FLAGS.map((f) => `'${f}'`).join(" ")}`);
  // Run it against a fake runtime that prints its arguments.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/deno`, '#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n');
    await Deno.chmod(`${dir}/deno`, 0o755);
    await Deno.writeTextFile(`${dir}/webcache`, renderLauncher(dir));
    await Deno.chmod(`${dir}/webcache`, 0o755);
    const out = await new Deno.Command(`${dir}/webcache`, { args: ["cache", "--listen", "a b"], stdout: "piped" })
      .output();
    assertEquals(
      new TextDecoder().decode(out.stdout).trim().split("\n"),
      ["run", ...DENO_RUN_FLAGS, `${dir}/webcache.js`, "cache", "--listen", "a b"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
