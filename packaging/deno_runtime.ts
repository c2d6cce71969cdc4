/**
 * The Deno runtime the appliance package ships: pinned by version and by the npm registry's
 * integrity hash of its distribution package, so a build from a clean checkout puts the same
 * binary in every package. The same version runs the README's commands (`npx -y deno@2.9.6`).
 *
 * @module
 */

/** npm package that carries the Deno binary for x86_64 Linux with glibc. */
export const DENO_RUNTIME_PACKAGE = "@deno/linux-x64-glibc";
/** Pinned Deno version of the package. */
export const DENO_RUNTIME_VERSION = "2.9.6";
/** Subresource-integrity (sha512) of the package tarball, as the registry publishes it. */
export const DENO_RUNTIME_INTEGRITY =
  "sha512-3md4TKLCuzsLDmfOoC5KN7NAZaxSVkMgm64vg6foD00JBADCpYS2/5QqXfzgnP5ZQz3iLP9vBQJtEgc116OAoQ==";
