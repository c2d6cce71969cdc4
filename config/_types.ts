/**
 * Reusable zod field types for the config schema: endpoints, ports, CIDRs, sizes, durations.
 * Each one reports the offending value in words an operator understands.
 *
 * @module
 */
import { z } from "zod";
import { isHost, isIPv4, isIPv6, parseCidr, parseHostPort } from "../core/addr.ts";
import { formatSize, parseSize } from "../core/units.ts";

/** A TCP/UDP port number, 1-65535. */
export const port = () => z.number().int().min(1).max(65535);

/** An integer count with a lower bound. */
export const count = (min = 0) => z.number().int().min(min);

/**
 * Longest timer a JavaScript runtime can arm: 2³¹−1 ms (about 24.8 days). A longer `setTimeout`
 * fires at once (Deno warns `TimeoutOverflowWarning` and uses 1 ms), so every duration key is
 * bounded by it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration in milliseconds: an integer from `min` to {@link MAX_TIMER_MS}. */
export const durationMs = (min = 0) => z.number().int().min(min).max(MAX_TIMER_MS);

/** A duration in seconds: an integer from `min` to {@link MAX_TIMER_MS} / 1000. */
export const durationS = (min = 0) => z.number().int().min(min).max(MAX_TIMER_S);

/** {@link MAX_TIMER_MS} in whole seconds. */
export const MAX_TIMER_S = Math.floor(MAX_TIMER_MS / 1000);

/** A `HOST:PORT` endpoint kept as text (validated). */
export const hostPort = () =>
  z.string().superRefine((v, ctx) => {
    try {
      parseHostPort(v);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
    }
  });

/** A host name or IP literal. */
export const host = () =>
  z.string().refine((v) => isHost(v), { error: (iss) => `"${iss.input}" is not a host name or IP address` });

/** An IPv4 or IPv6 address literal (a bind address). */
export const ipAddress = () =>
  z.string().refine((v) => isIPv4(v) || isIPv6(v), {
    error: (iss) => `"${iss.input}" is not an IP address`,
  });

/** A dotted-quad IPv4 address. */
export const ipv4 = () =>
  z.string().refine((v) => isIPv4(v), { error: (iss) => `"${iss.input}" is not an IPv4 address` });

/** A CIDR network such as `10.0.0.0/8`. */
export const cidr = () =>
  z.string().superRefine((v, ctx) => {
    try {
      parseCidr(v);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
    }
  });

/** Largest byte size accepted anywhere (1 PiB): more is a typo, and arithmetic on it loses precision. */
export const MAX_SIZE_BYTES = 2 ** 50;

/**
 * A byte size: a number of bytes or text like `512MiB`; parsed to a number.
 *
 * @param max largest accepted value (default {@link MAX_SIZE_BYTES})
 */
export const size = (max: number = MAX_SIZE_BYTES) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    let n: number;
    try {
      n = parseSize(v);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return z.NEVER;
    }
    if (n > max) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(v)} is above the maximum ${formatSize(max)}` });
      return z.NEVER;
    }
    return n;
  });

/** An origin URL: `http://HOST[:PORT]` or `https://HOST[:PORT]` (fetched over TLS). */
export const originUrl = () =>
  z.string().superRefine((v, ctx) => {
    let u: URL | undefined;
    try {
      u = new URL(v);
    } catch {
      // reported below
    }
    if (!u || (u.protocol !== "http:" && u.protocol !== "https:")) {
      ctx.addIssue({ code: "custom", message: `"${v}" is not an http:// or https:// URL` });
    }
  });

/** An `http://HOST[:PORT]` URL. */
export const httpUrl = () =>
  z.string().superRefine((v, ctx) => {
    let u: URL | undefined;
    try {
      u = new URL(v);
    } catch {
      // reported below
    }
    if (!u || u.protocol !== "http:") {
      ctx.addIssue({ code: "custom", message: `"${v}" is not an http:// URL` });
    }
  });
