/**
 * The stable node id: random once, then kept in a file so that it survives restarts and address
 * changes (the record's `id`; names and addresses may change, the id does not).
 *
 * @module
 */

/**
 * Reads the node id from `file`, or creates a random one and writes it there.
 *
 * @throws {Error} when the file exists but holds no valid id, or cannot be written
 */
export async function loadOrCreateNodeId(file: string): Promise<string> {
  try {
    const id = (await Deno.readTextFile(file)).trim();
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new Error(`Cannot use node id file "${file}": "${id}" is not an id`);
    return id;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const id = crypto.randomUUID();
  await Deno.writeTextFile(file, id + "\n");
  return id;
}
