/**
 * `webcache(8)`: the manual page, generated from the CLI's own command tree (commander), so the
 * page and `--help` never disagree. Pure: a {@link Command} in, roff text out.
 *
 * @module
 */
import type { Command, Option } from "commander";

/** What the page says beside the command tree. */
export interface ManPageOptions {
  /** webcache's version, in the page footer. */
  version: string;
  /** Date of the page, `YYYY-MM-DD`. */
  date: string;
}

/** Escapes text for roff: backslashes, hyphens and a leading dot or quote. */
export function roffEscape(text: string): string {
  return text
    .replaceAll("\\", "\\e")
    .replaceAll("-", "\\-")
    .split("\n")
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join("\n");
}

function visibleOptions(cmd: Command): readonly Option[] {
  return cmd.options.filter((o) => !o.hidden);
}

function visibleCommands(cmd: Command): Command[] {
  // deno-lint-ignore no-explicit-any
  return cmd.commands.filter((c) => !(c as any)._hidden);
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

function section(cmd: Command, out: string[]): void {
  const path = commandPath(cmd);
  out.push(`.SS "${roffEscape(path)}"`);
  out.push(`.B ${roffEscape(path)}`);
  out.push(roffEscape(cmd.usage()));
  out.push(".PP");
  out.push(roffEscape(cmd.description()));
  for (const o of visibleOptions(cmd)) {
    out.push(".TP");
    out.push(`.B ${roffEscape(o.flags)}`);
    const dflt = o.defaultValue === undefined ? "" : ` (default: ${JSON.stringify(o.defaultValue)})`;
    out.push(roffEscape(`${o.description}${dflt}`));
  }
  for (const sub of visibleCommands(cmd)) section(sub, out);
}

/**
 * Renders the manual page `webcache(8)` for `program`.
 *
 * @param program the root command (`buildProgram()` of `main.ts`)
 * @param opts version and date for the header
 * @returns the page in roff (`man -l` reads it)
 */
export function renderManPage(program: Command, opts: ManPageOptions): string {
  const out: string[] = [];
  out.push(`.TH WEBCACHE 8 "${opts.date}" "webcache ${roffEscape(opts.version)}" "System Administration"`);
  out.push(".SH NAME");
  out.push("webcache \\- web cache cluster: LVS\\-style director and HTTP caching proxy in one executable");
  out.push(".SH SYNOPSIS");
  for (const sub of visibleCommands(program)) {
    out.push(`.B webcache ${roffEscape(sub.name())}`);
    out.push(roffEscape(sub.usage()));
    out.push(".br");
  }
  out.push(".SH DESCRIPTION");
  out.push(roffEscape(program.description()));
  out.push(".PP");
  out.push(
    "Every node reads the same configuration file, " +
      "\\fI/etc/webcache/appliance.yaml\\fR, and runs the role given on its command line. " +
      "Command\\-line flags win over the file.",
  );
  out.push(".SH OPTIONS");
  for (const o of visibleOptions(program)) {
    out.push(".TP");
    out.push(`.B ${roffEscape(o.flags)}`);
    out.push(roffEscape(o.description));
  }
  out.push(".SH COMMANDS");
  for (const sub of visibleCommands(program)) section(sub, out);
  out.push(".SH SIGNALS");
  out.push(".TP\n.B HUP");
  out.push("A cache reloads what can change in place and reopens its access log (logrotate's postrotate).");
  out.push(".TP\n.B TERM");
  out.push("Stops the node; a cache finishes in\\-flight requests first.");
  out.push(".SH EXIT STATUS");
  out.push("0 on success, 1 when a role cannot start (the message names the address, path or flag), ");
  out.push("2 for a configuration or usage error (the message names the key or flag and the value).");
  out.push(".SH FILES");
  for (
    const [file, what] of [
      ["/etc/webcache/appliance.yaml", "the shared configuration (a conffile)"],
      ["/etc/webcache/cluster.key", "the cluster key that authenticates gossip, made on installation"],
      ["/var/lib/webcache", "state: the director's connection table, Deno's code cache"],
      ["/var/cache/webcache", "the caches' on\\-disk stores"],
      ["/var/log/webcache/access.log", "the caches' Squid\\-format access log"],
    ]
  ) {
    out.push(".TP");
    out.push(`.I ${file.replaceAll("-", "\\-")}`);
    out.push(what);
  }
  out.push(".SH SEE ALSO");
  out.push(".BR ipvsadm (8),");
  out.push(".BR squid (8),");
  out.push(".BR keepalived (8),");
  out.push(".BR systemctl (1)");
  return out.join("\n") + "\n";
}
