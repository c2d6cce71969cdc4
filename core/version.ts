/**
 * The webcache version, kept in step with deno.json by the test suite.
 *
 * @module
 */

/** Semantic version of this build. */
export const VERSION = "0.1.0";
