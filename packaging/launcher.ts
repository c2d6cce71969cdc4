/**
 * `/usr/bin/webcache` of the appliance package: a shell launcher that runs the esbuild bundle with
 * the shipped Deno runtime and webcache's Deno flags (`core/deno_flags.ts`, the one list). Pure.
 *
 * @module
 */
import { DENO_RUN_FLAGS } from "../core/deno_flags.ts";

/** Where the package puts the runtime and the bundle. */
export const LIB_DIR = "/usr/lib/webcache";

/**
 * Renders the launcher script.
 *
 * @param libDir directory holding `deno` and `webcache.js`
 * @returns a POSIX shell script that execs Deno (so the service's main PID is Deno's)
 */
export function renderLauncher(libDir: string = LIB_DIR): string {
  const flags = DENO_RUN_FLAGS.map((f) => `'${f}'`).join(" ");
  return `#!/bin/sh
# webcache: runs the bundled webcache (${libDir}/webcache.js) with the Deno runtime shipped beside it.
DENO_NO_UPDATE_CHECK=1
DENO_NO_PROMPT=1
export DENO_NO_UPDATE_CHECK DENO_NO_PROMPT
exec ${libDir}/deno run ${flags} ${libDir}/webcache.js "$@"
`;
}
