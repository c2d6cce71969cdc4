/**
 * `deno task build`: bundles main.ts and every dependency with esbuild into one file,
 * `dist/webcache.js`, that `deno run -A --unstable-kv --unstable-net dist/webcache.js` executes.
 *
 * npm packages are resolved from the local node_modules/ that Deno fills (`nodeModulesDir: auto`);
 * Node built-ins stay external (Deno provides them), and CommonJS packages get a real `require`.
 *
 * @module
 */
import * as esbuild from "esbuild";

const outfile = Deno.args[0] ?? "dist/webcache.js";
const result = await esbuild.build({
  entryPoints: ["main.ts"],
  bundle: true,
  format: "esm",
  platform: "node",
  target: "esnext",
  outfile,
  sourcemap: "linked",
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
  banner: {
    js: [
      "#!/usr/bin/env -S deno run -A --unstable-kv --unstable-net",
      'import { createRequire as __webcacheCreateRequire } from "node:module";',
      "const require = __webcacheCreateRequire(import.meta.url);",
    ].join("\n"),
  },
});
await esbuild.stop();
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`built ${outfile} (${(bytes / 1024).toFixed(0)} KiB)`);
