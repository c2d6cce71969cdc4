import { assert, assertEquals, assertStringIncludes } from "../tests/_assert.ts";
import { buildProgram } from "../main.ts";
import { renderManPage, roffEscape } from "./man_page.ts";

Deno.test("roffEscape() escapes backslashes, hyphens and a leading control character", () => {
  assertEquals(roffEscape("--peers a\\b"), "\\-\\-peers a\\eb");
  assertEquals(roffEscape(".TH x\n'quote\nplain"), "\\&.TH x\n\\&'quote\nplain");
});

Deno.test("renderManPage() documents every subcommand and flag of the CLI", () => {
  const program = buildProgram();
  const page = renderManPage(program, { version: "9.9.9", date: "2026-12-07" });
  assert(page.startsWith('.TH WEBCACHE 8 "2026-12-07" "webcache 9.9.9"'), page.slice(0, 80));
  for (const cmd of program.commands) {
    assertStringIncludes(page, `.SS "webcache ${roffEscape(cmd.name())}"`);
    for (const o of cmd.options) assertStringIncludes(page, roffEscape(o.flags));
    for (const sub of cmd.commands) assertStringIncludes(page, `.SS "webcache ${cmd.name()} ${sub.name()}"`);
  }
  // No line may start with an unescaped control character from help text.
  for (const line of page.split("\n")) {
    assert(!/^'/.test(line), `unescaped line: ${line}`);
  }
});

Deno.test({
  name: "renderManPage(): man(1) formats the page without warnings",
  ignore: new Deno.Command("sh", { args: ["-c", "command -v man && command -v groff"] }).outputSync().code !== 0,
  fn: async () => {
    const file = await Deno.makeTempFile({ suffix: ".8" });
    try {
      await Deno.writeTextFile(file, renderManPage(buildProgram(), { version: "1.0.0", date: "2026-12-07" }));
      const out = await new Deno.Command("man", {
        args: ["--warnings", "-E", "UTF-8", "-l", file],
        env: { MANWIDTH: "80" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0);
      assertEquals(new TextDecoder().decode(out.stderr).trim(), "");
      assertStringIncludes(new TextDecoder().decode(out.stdout), "webcache director");
    } finally {
      await Deno.remove(file);
    }
  },
});
