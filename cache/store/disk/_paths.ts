/**
 * Where an object lives in a cache directory. Private to the disk store.
 *
 * An object's file name is `<primary hash>-<variant hash>` (each the first 16 bytes of SHA-256,
 * in hex). The L1/L2 subdirectories come from the primary hash alone, so every variant of one URL
 * shares a directory:
 *
 * ```text
 * <dir>/<L1 as %02X>/<L2 as %02X>/<ph>-<vh>
 *   L1 = (first 4 bytes of ph, big-endian) mod l1
 *   L2 = (next 4 bytes of ph) mod l2
 * ```
 *
 * SHA-256 is not needed for security here, but it spreads adversarial URLs evenly (a per-URL
 * cost an attacker cannot aim at one directory) and is fast through `node:crypto`.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** Hex of the first 16 bytes of SHA-256 of `s`. */
export function hash128(s: string): string {
  return createHash("sha256").update(s).digest("hex").slice(0, 32);
}

const EMPTY_VARIANT_HASH = hash128("");

/** The file name of an object, from its keys. */
export function objectName(primary: string, variant: string): string {
  return `${hash128(primary)}-${variant === "" ? EMPTY_VARIANT_HASH : hash128(variant)}`;
}

/** Splits an object name into its primary and variant hashes; `undefined` if it is not one. */
export function parseObjectName(name: string): { ph: string; vh: string } | undefined {
  const m = /^([0-9a-f]{32})-([0-9a-f]{32})$/.exec(name);
  return m ? { ph: m[1], vh: m[2] } : undefined;
}

/** The L1/L2 subdirectory (relative, e.g. `0A/3F`) of a primary hash. */
export function subdirOf(ph: string, l1: number, l2: number): string {
  const a = parseInt(ph.slice(0, 8), 16) % l1;
  const b = parseInt(ph.slice(8, 16), 16) % l2;
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, "0");
  return `${hex(a)}/${hex(b)}`;
}

/** The path of an object relative to its cache directory. */
export function objectRelPath(name: string, l1: number, l2: number): string {
  return `${subdirOf(name.slice(0, 32), l1, l2)}/${name}`;
}
