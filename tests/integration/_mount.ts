/**
 * Test helper: a small tmpfs mounted for one test (needs root), unmounted and removed afterwards.
 *
 * @module
 */

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
}

/**
 * Mounts a tmpfs with `options` (e.g. `size=2m` or `ro,size=1m`) on a new directory, runs `fn`,
 * then unmounts it and removes the directory, also when `fn` throws.
 */
export async function withTmpfs(options: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "webcache-tmpfs-" });
  try {
    await run("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir]);
    try {
      await fn(dir);
    } finally {
      await run("umount", [dir]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
