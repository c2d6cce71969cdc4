/**
 * `POST /purge` on the cache's admin endpoint: what `webcache purge` calls. The body is JSON, one
 * of `{"url": URL}`, `{"prefix": URL}` or `{"regex": RE}`; the answer is the {@link PurgeResult}
 * (how many other caches acknowledged, objects deleted at once).
 *
 * Who may call it: the admin endpoint's own rule first (`admin.allow` or `admin.token`); then a
 * state-changing route needs `Authorization: Bearer <admin.token>` or a JSON content type (a form a
 * browser posts from another site carries neither); and the client must be in `cache.acl.purge`
 * unless it showed the token. Anything else is 403 and purges nothing anywhere.
 *
 * @module
 */
import { Acl } from "../core/addr.ts";
import { getLogger } from "../core/log.ts";
import type { Ban } from "../cluster/ban_codec.ts";
import { newBan, type PurgeResult, purgeSpec } from "./purge_request.ts";
import { cacheKey } from "./semantics/mod.ts";

const log = getLogger("cache.purge");

/** Options of {@link purgeAdminRoute}. */
export interface PurgeAdminOptions {
  /** `cache.acl.purge`. */
  acl: readonly string[];
  /** `admin.token`, when set. */
  token?: string;
  /** This node's name (the ban's origin). */
  node: string;
  /** The cluster-wide purge. */
  purge(ban: Ban): Promise<PurgeResult>;
}

/** Largest request body accepted. */
const MAX_BODY_BYTES = 16 * 1024;

function bearerMatches(req: Request, token: string | undefined): boolean {
  if (!token) return false;
  const auth = req.headers.get("authorization") ?? "";
  if (!auth.startsWith("Bearer ")) return false;
  const given = auth.slice(7);
  if (given.length !== token.length) return false;
  let diff = 0;
  for (let i = 0; i < given.length; i++) diff |= given.charCodeAt(i) ^ token.charCodeAt(i);
  return diff === 0;
}

function text(status: number, body: string): Response {
  return new Response(body + "\n", { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

/**
 * Builds the `/purge` route handler.
 *
 * @param opts ACL, token, node name and the purge function
 * @returns a handler for `AdminServer.route("/purge", ...)`
 */
export function purgeAdminRoute(opts: PurgeAdminOptions): (req: Request, client: string) => Promise<Response> {
  const acl = new Acl(opts.acl);
  return async (req, client) => {
    if (req.method !== "POST") return new Response("use POST\n", { status: 405, headers: { allow: "POST" } });
    const tokenOk = bearerMatches(req, opts.token);
    const json = /^application\/json\b/i.test(req.headers.get("content-type") ?? "");
    if (!tokenOk && !json) {
      return text(403, "forbidden: POST /purge needs Authorization: Bearer <admin.token> or a JSON body");
    }
    if (!tokenOk && !acl.allows(client)) {
      log.info("Denied purge", { from: client });
      return text(403, "forbidden: this client is not in cache.acl.purge");
    }
    const raw = new Uint8Array(await req.arrayBuffer());
    if (raw.length > MAX_BODY_BYTES) return text(413, `the body exceeds ${MAX_BODY_BYTES} bytes`);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(new TextDecoder().decode(raw));
      if (body === null || typeof body !== "object" || Array.isArray(body)) throw new TypeError("not an object");
    } catch (e) {
      return text(400, `the body is not a JSON object: ${(e as Error).message}`);
    }
    const given = (["url", "prefix", "regex"] as const).filter((k) => typeof body[k] === "string");
    if (given.length !== 1) return text(400, `give exactly one of "url", "prefix" or "regex" (strings)`);
    const kind = given[0];
    let pattern = body[kind] as string;
    if (kind !== "regex") {
      try {
        pattern = cacheKey(pattern);
      } catch (e) {
        return text(400, (e as Error).message);
      }
    }
    const spec = purgeSpec(kind, pattern);
    if ("error" in spec) return text(400, spec.error);
    const result = await opts.purge(newBan(spec, opts.node));
    return Response.json(result);
  };
}
