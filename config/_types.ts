/**
 * Reusable zod field types for the config schema: endpoints, ports, CIDRs, sizes, durations.
 * Each one reports the offending value in words an operator understands.
 *
 * @module
 */
import { z } from "zod";
import { isHost, isIPv4, parseCidr, parseHostPort } from "../core/addr.ts";
import { parseSize } from "../core/units.ts";

/** A TCP/UDP port number, 1-65535. */
export const port = () => z.number().int().min(1).max(65535);

/** An integer count with a lower bound. */
export const count = (min = 0) => z.number().int().min(min);

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

/** A byte size: a number of bytes or text like `512MiB`; parsed to a number. */
export const size = () =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    try {
      return parseSize(v);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return z.NEVER;
    }
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
