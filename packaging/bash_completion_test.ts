import { assertEquals } from "../tests/_assert.ts";
import { buildProgram } from "../main.ts";
import { renderBashCompletion } from "./bash_completion.ts";

/** Runs the generated completion in a real bash for the words typed so far (cursor at the end). */
async function complete(words: string[]): Promise<string[]> {
  const file = await Deno.makeTempFile({ suffix: ".bash" });
  try {
    await Deno.writeTextFile(file, renderBashCompletion(buildProgram()));
    const quoted = words.map((w) => `'${w}'`).join(" ");
    const script = `source '${file}'; COMP_WORDS=(${quoted}); COMP_CWORD=${
      words.length - 1
    }; _webcache; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const out = await new Deno.Command("bash", { args: ["--norc", "-c", script], stdout: "piped", stderr: "piped" })
      .output();
    assertEquals(new TextDecoder().decode(out.stderr), "");
    return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "").sort();
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("bash completion: subcommands at the top and below `director`", async () => {
  assertEquals(await complete(["webcache", "di"]), ["director"]);
  assertEquals(await complete(["webcache", "director", "dr"]), ["drain"]);
  assertEquals(await complete(["webcache", "c"]), ["cache", "check-config"]);
});

Deno.test("bash completion: flags of the command being typed, files after a flag that takes a value", async () => {
  assertEquals(await complete(["webcache", "cache", "--conf"]), ["--config"]);
  assertEquals(await complete(["webcache", "director", "status", "--js"]), ["--json"]);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/appliance.yaml`, "");
    assertEquals(await complete(["webcache", "cache", "--config", `${dir}/appl`]), [`${dir}/appliance.yaml`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
