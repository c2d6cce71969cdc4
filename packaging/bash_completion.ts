/**
 * Bash completion for `webcache`, generated from the CLI's own command tree (commander): the
 * subcommands at each level, their flags, and file names after a flag that takes a value. Pure: a
 * {@link Command} in, a bash script out.
 *
 * @module
 */
import type { Command } from "commander";

function visibleCommands(cmd: Command): Command[] {
  // deno-lint-ignore no-explicit-any
  return cmd.commands.filter((c) => !(c as any)._hidden);
}

interface Level {
  /** Space-separated command path below `webcache`, "" for the root. */
  path: string;
  subcommands: string[];
  flags: string[];
  valueFlags: string[];
}

function levels(cmd: Command, path: string, out: Level[]): void {
  const flags: string[] = ["--help"];
  const valueFlags: string[] = [];
  for (const o of cmd.options) {
    if (o.hidden) continue;
    for (const name of [o.long, o.short]) {
      if (!name) continue;
      flags.push(name);
      if (o.required || o.optional) valueFlags.push(name);
    }
  }
  const subs = visibleCommands(cmd);
  out.push({ path, subcommands: subs.map((s) => s.name()), flags, valueFlags });
  for (const s of subs) levels(s, path ? `${path} ${s.name()}` : s.name(), out);
}

const SHELL_SAFE = /^[A-Za-z0-9_.,:=+/-]*$/;

function word(s: string): string {
  if (!SHELL_SAFE.test(s)) throw new TypeError(`Cannot complete ${JSON.stringify(s)}: not a plain word`);
  return s;
}

/**
 * Renders the bash completion script for `program` (installed as
 * `/usr/share/bash-completion/completions/webcache`).
 *
 * @param program the root command (`buildProgram()` of `main.ts`)
 * @returns a script defining `_webcache` and registering it with `complete`
 * @throws {TypeError} when a command or flag name is not a plain word
 */
export function renderBashCompletion(program: Command): string {
  const all: Level[] = [];
  levels(program, "", all);
  const cases = all.map((l) =>
    [
      `    "${l.path.split(" ").map(word).join(" ")}")`,
      `      subs="${l.subcommands.map(word).join(" ")}"`,
      `      flags="${l.flags.map(word).join(" ")}"`,
      `      valueflags=" ${l.valueFlags.map(word).join(" ")} "`,
      "      ;;",
    ].join("\n")
  );
  return `# bash completion for webcache, generated from its command tree (packaging/bash_completion.ts)
_webcache() {
  local cur prev path="" i w subs flags valueflags next
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev=""
  [ "$COMP_CWORD" -gt 0 ] && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # Walk the words before the cursor: each known subcommand descends one level.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    _webcache_level "$path"
    if [[ " $subs " == *" $w "* ]]; then
      if [ -n "$path" ]; then next="$path $w"; else next="$w"; fi
      path="$next"
    fi
  done
  _webcache_level "$path"
  if [[ "$valueflags" == *" $prev "* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  fi
  return 0
}
_webcache_level() {
  case "$1" in
${cases.join("\n")}
    *)
      subs=""
      flags="--help"
      valueflags=" "
      ;;
  esac
}
complete -F _webcache webcache
`;
}
