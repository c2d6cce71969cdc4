/**
 * Getting a {@link ClusterStatus} from any node: ask its `/cluster/status` (the node aggregates,
 * and keeps rates and history between callers); if the node does not serve that route, aggregate
 * here from its `/members` and every member's `/status`.
 *
 * @module
 */
import { ClusterAggregator } from "./aggregator.ts";
import type { ClusterStatus } from "./cluster_status.ts";
import { adminMembers } from "./members.ts";

/** Path of the aggregated document on the admin endpoint. */
export const CLUSTER_STATUS_PATH = "/cluster/status";

/** Asks one node for the cluster's status; keep one per poller so rates accumulate. */
export class ClusterStatusClient {
  readonly #admin: string;
  readonly #token?: string;
  readonly #timeoutMs: number;
  #local?: ClusterAggregator;

  /**
   * Creates a client for one node.
   *
   * @param admin `HOST:PORT` of the node to ask
   * @param opts.token bearer token (admin.token) for nodes outside admin.allow; opts.timeoutMs per request
   */
  constructor(admin: string, opts: { token?: string; timeoutMs?: number } = {}) {
    this.#admin = admin;
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? 3000;
  }

  /** Whether the last answer was aggregated here because the node has no `/cluster/status`. */
  get aggregatingLocally(): boolean {
    return this.#local !== undefined;
  }

  /**
   * Fetches the document.
   *
   * @throws {Error} when the node cannot be reached or refuses (403 names admin.token)
   */
  async fetch(opts: { history?: boolean } = {}): Promise<ClusterStatus> {
    if (this.#local) return await this.#local.collect(opts);
    const url = `http://${this.#admin}${CLUSTER_STATUS_PATH}${opts.history ? "?history=1" : ""}`;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: this.#token ? { authorization: `Bearer ${this.#token}` } : {},
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      const why = (e as Error).name === "TimeoutError" ? "timed out" : (e as Error).message;
      throw new Error(`Cannot reach the admin endpoint at ${this.#admin}: ${why}`, { cause: e });
    }
    if (res.status === 404) {
      await res.body?.cancel();
      this.#local = new ClusterAggregator({
        members: adminMembers(this.#admin, { token: this.#token, timeoutMs: this.#timeoutMs }),
        token: this.#token,
        timeoutMs: this.#timeoutMs,
      });
      return await this.#local.collect(opts);
    }
    if (res.status === 403) {
      await res.body?.cancel();
      throw new Error(
        `Cannot read cluster status from ${this.#admin}: refused (HTTP 403); give the admin.token ` +
          `(--token-file or WEBCACHE_ADMIN_TOKEN) or ask from a network in admin.allow`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`Cannot read cluster status from ${this.#admin}: HTTP ${res.status}`);
    }
    return await res.json() as ClusterStatus;
  }
}
