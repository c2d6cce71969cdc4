/**
 * Errors of a socket that cannot be bound, reworded to name the address and what it was for:
 * Deno's own (`Address already in use (os error 98)`) name neither, and an operator with several
 * listeners cannot tell which one failed.
 *
 * @module
 */

/**
 * The same kind of error (`Deno.errors.AddrInUse` stays `AddrInUse`), its message prefixed with
 * the address: `Cannot listen on 127.0.0.1:3128 (cache.listen): Address already in use`.
 *
 * @param e what the bind threw
 * @param addr the address as `HOST:PORT`
 * @param what the config key or flag that set it
 * @returns the error to throw
 */
export function listenError(e: unknown, addr: string, what: string): Error {
  const err = e instanceof Error ? e : new Error(String(e));
  const detail = err.message.replace(/\s*\(os error \d+\)$/, "");
  const message = `Cannot listen on ${addr} (${what}): ${detail}`;
  try {
    const Kind = err.constructor as new (message: string, options?: ErrorOptions) => Error;
    const out = new Kind(message, { cause: err });
    if (out.message === message) return out;
  } catch { /* a constructor with another signature */ }
  return new Error(message, { cause: err });
}
