/**
 * Wires the cache's peering from the configuration: the ICP socket (`icp.*`) answering queries from
 * this cache's store, the ICP client, the {@link PeeringSelector} for `cache.peering.mode`, the
 * {@link LoadGuard} behind MISS_NOFETCH, and the timers (multicast member probes; liveness pings in
 * the hash modes, every `icp.deadPeerMs / 3`).
 *
 * Peers = `cache.peers` plus whatever {@link PeeringNode.setPeers} is given (the live caches of the
 * cluster for `--peers auto`). Default ICP access (no `icp.acl`): the addresses of those peers.
 *
 * This cache's own id in the hash (`cache.peering.self`) defaults to the `cache.peers` entry that is
 * one of its own listeners (so every cache can share one peer list), else its first listener.
 *
 * @module
 */
import type { Appliance } from "../../config/mod.ts";
import { Acl, isIPv4, isIPv6, parseHostPort } from "../../core/addr.ts";
import { getLogger } from "../../core/log.ts";
import { IcpClient } from "../../icp/client.ts";
import { IcpServer } from "../../icp/server.ts";
import { LoadGuard } from "./load_guard.ts";
import { memberId, type PeeringMode, type PeeringPeer, PeeringSelector } from "./peering_selector.ts";
import { type PeeringLink, type PeeringView, RemoteIcp } from "./remote_icp.ts";

const log = getLogger("cache.peering");

/** What the cache provides to peering. */
export interface PeeringDeps {
  /** Whether a URL is fresh in this cache (answers ICP queries). */
  lookupFresh(url: string): Promise<boolean>;
}

function localAddresses(): Set<string> {
  const out = new Set(["127.0.0.1", "::1"]);
  try {
    for (const i of Deno.networkInterfaces()) out.add(i.address);
  } catch {
    // not permitted: loopback only
  }
  return out;
}

/**
 * Finds this cache's id in the hash (see the module doc).
 *
 * @param cfg the configuration
 * @param peers the peer list to look for ourselves in (default `cache.peers`; pass resolved ones)
 * @returns `HOST:HTTP_PORT`
 */
export function selfId(
  cfg: Pick<Appliance, "cache">,
  peers: readonly { host: string; httpPort: number }[] = cfg.cache.peers,
): string {
  if (cfg.cache.peering.self) {
    const hp = parseHostPort(cfg.cache.peering.self);
    return memberId({ host: hp.host, httpPort: hp.port });
  }
  const listeners = cfg.cache.listen.map((l) => parseHostPort(l.address));
  const local = localAddresses();
  for (const p of peers) {
    for (const l of listeners) {
      const anyAddr = l.host === "0.0.0.0" || l.host === "::";
      if (l.port === p.httpPort && (l.host === p.host || (anyAddr && local.has(p.host)))) return memberId(p);
    }
  }
  const first = listeners[0] ?? { host: "127.0.0.1", port: 3128 };
  let host = first.host;
  if (host === "0.0.0.0" || host === "::") {
    host = [...local].find((a) => a.includes(".") && !a.startsWith("127.")) ?? "127.0.0.1";
  }
  return memberId({ host, httpPort: first.port });
}

/**
 * Resolves peer host names to IPv4 addresses: ICP replies are matched, and the default ICP access
 * list built, by source address. `localhost` is 127.0.0.1; other names are looked up in DNS (A).
 * A name that does not resolve is kept (and logged): HTTP to it still works, ICP replies from it
 * will not be recognised.
 *
 * @param peers configured peers
 * @returns the same peers with `host` an address and `name` the original `HOST:PORT`
 */
export async function resolvePeers(peers: readonly PeeringPeer[]): Promise<PeeringPeer[]> {
  return await Promise.all(peers.map(async (p) => {
    if (isIPv4(p.host) || isIPv6(p.host)) return p;
    const name = p.name ?? `${p.host}:${p.httpPort}`;
    if (p.host === "localhost") return { ...p, host: "127.0.0.1", name };
    try {
      const [addr] = await Deno.resolveDns(p.host, "A");
      if (addr) return { ...p, host: addr, name };
    } catch (e) {
      log.warn("Cannot resolve peer; ICP replies from it will not be recognised", { peer: p.host, error: e });
    }
    return p;
  }));
}

/** The running peering of one cache. */
export class PeeringNode {
  /** The selector the cache's miss path consults (a `PeerSelector`). */
  readonly selector: PeeringSelector;
  /** The ICP socket, when `icp.enabled`. */
  readonly server: IcpServer | undefined;
  /** The ICP client, when `icp.enabled`. */
  readonly client: IcpClient | undefined;
  /** Origin failures, lag and loading: feeds MISS_NOFETCH. */
  readonly guard: LoadGuard;
  #configured: PeeringPeer[];
  #dynamic: readonly PeeringPeer[] = [];
  readonly #warmupMs: number;
  readonly #startedAt = Date.now();
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  readonly #tasks = new Set<Promise<unknown>>();
  #closed = false;

  private constructor(
    selector: PeeringSelector,
    server: IcpServer | undefined,
    client: IcpClient | undefined,
    guard: LoadGuard,
    configured: PeeringPeer[],
    warmupMs: number,
  ) {
    this.#warmupMs = warmupMs;
    this.selector = selector;
    this.server = server;
    this.client = client;
    this.guard = guard;
    this.#configured = configured;
  }

  /**
   * Starts peering.
   *
   * @param cfg the configuration (`icp`, `cache.peers`, `cache.peering`, `cache.listen`)
   * @param deps the cache's freshness lookup
   * @returns the running node
   * @throws {Deno.errors.AddrInUse} when the ICP port is taken
   */
  static async start(cfg: Pick<Appliance, "icp" | "cache">, deps: PeeringDeps): Promise<PeeringNode> {
    const icpCfg = cfg.icp;
    let mode: PeeringMode = cfg.cache.peering.mode;
    if (!icpCfg.enabled && (mode === "icp" || mode === "hash+icp")) {
      const to: PeeringMode = mode === "icp" ? "none" : "hash";
      log.warn("ICP is disabled; peering mode downgraded", { from: mode, to });
      mode = to;
    }
    const configured = await resolvePeers(cfg.cache.peers);
    const guard = new LoadGuard().start();
    let selector!: PeeringSelector;
    const acl = icpCfg.acl ? new Acl(icpCfg.acl) : undefined;
    let server: IcpServer | undefined;
    let client: IcpClient | undefined;
    if (icpCfg.enabled) {
      const g = icpCfg.multicast.group;
      server = await IcpServer.listen({
        hostname: icpCfg.listen,
        port: icpCfg.port,
        isFresh: (url) => deps.lookupFresh(url),
        missNoFetch: (url) => guard.reason(url) !== undefined,
        allows: (ip) => acl ? acl.allows(ip) : selector.peers.some((p) => p.host === ip),
        multicast: g ? { group: g, interface: icpCfg.multicast.interface, ttl: icpCfg.multicast.ttl } : undefined,
      });
      client = new IcpClient(server, {
        timeoutMs: icpCfg.timeoutMs,
        minTimeoutMs: icpCfg.minTimeoutMs,
        deadPeerMs: icpCfg.deadPeerMs,
        multicast: g ? { group: g, port: icpCfg.port } : undefined,
      });
    }
    const self = mode === "hash" || mode === "hash+icp" ? selfId(cfg, configured) : undefined;
    try {
      selector = new PeeringSelector({ mode, self, icp: client, warmupMs: cfg.cache.peering.warmupMs });
    } catch (e) {
      guard.close();
      client?.close();
      await server?.close();
      throw e;
    }
    const node = new PeeringNode(selector, server, client, guard, configured, cfg.cache.peering.warmupMs);
    selector.setPeers(configured);
    if (client && icpCfg.multicast.group) {
      const probeUrl = `http://${self ?? "webcache.invalid"}/webcache-icp-multicast-probe`;
      const probe = () => node.#track(client.probeMulticast(probeUrl));
      probe();
      node.#timers.push(setInterval(probe, icpCfg.multicast.probeIntervalMs));
    }
    if (client && (mode === "hash" || mode === "hash+icp")) {
      const pingUrl = `http://${self}/webcache-icp-ping`;
      node.#timers.push(
        setInterval(() => node.#track(client.lookup(pingUrl)), Math.max(100, Math.floor(icpCfg.deadPeerMs / 3))),
      );
    }
    log.info("Peering started", {
      mode,
      self,
      peers: configured.length,
      icp: server ? `${server.addr.hostname}:${server.addr.port}` : "off",
      group: icpCfg.multicast.group,
    });
    return node;
  }

  #track(p: Promise<unknown>): void {
    if (this.#closed) return;
    const t = p.catch((e) => log.debug("Background ICP task failed", { error: e })).finally(() =>
      this.#tasks.delete(t)
    );
    this.#tasks.add(t);
  }

  /**
   * Sets the dynamic peers (live cluster caches for `--peers auto`); configured peers stay.
   *
   * @param peers the live caches other than this one
   */
  setPeers(peers: readonly PeeringPeer[]): void {
    this.#dynamic = peers;
    this.selector.setPeers([...this.#configured, ...peers]);
  }

  /**
   * Replaces the configured peers (`cache.peers` after a SIGHUP reload); the dynamic ones stay.
   *
   * @param peers the new `cache.peers`
   * @throws {Error} when a peer host does not resolve (the old list stays)
   */
  async setConfigured(peers: Appliance["cache"]["peers"]): Promise<void> {
    this.#configured = await resolvePeers(peers);
    this.selector.setPeers([...this.#configured, ...this.#dynamic]);
    log.info("Configured peers reloaded", { peers: this.#configured.length });
  }

  /** The peers and their liveness, for the cache workers ({@link workerSelector}). */
  view(): PeeringView {
    const up: Record<string, boolean> = {};
    for (const s of this.client?.peers() ?? []) up[s.key] = s.up;
    return {
      mode: this.selector.mode,
      self: this.selector.self,
      warmupMs: this.#warmupMs,
      startedAt: this.#startedAt,
      peers: [...this.selector.peers],
      up,
    };
  }

  /** State for `/status`. */
  status(): Record<string, unknown> {
    return {
      ...this.selector.status(),
      icpListen: this.server ? `${this.server.addr.hostname}:${this.server.addr.port}` : null,
      lagMs: Math.round(this.guard.lagMs),
    };
  }

  /** Stops timers, ends lookups, closes the ICP socket. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.client?.close();
    await Promise.all([...this.#tasks]);
    await this.server?.close();
    this.guard.close();
  }
}

/**
 * A cache worker's selector: decides hash ownership from the main process's {@link PeeringView}
 * and sends ICP lookups on `local` or, without it, to the main process (see `remote_icp.ts`).
 *
 * @param link the channel to the main process
 * @param view the view at start
 * @param local the worker's own ICP client for lookups ({@link workerIcpClient}), if any
 * @returns the selector and a function that applies each newer view
 */
export function workerSelector(
  link: PeeringLink,
  view: PeeringView,
  local?: IcpClient,
): { selector: PeeringSelector; update: (view: PeeringView) => void } {
  const icp = new RemoteIcp(link, view, local);
  const now = () => performance.now();
  const selector = new PeeringSelector({
    mode: view.mode,
    self: view.self,
    icp,
    warmupMs: view.warmupMs,
    now,
    startedAt: now() - (Date.now() - view.startedAt),
  });
  selector.setPeers(view.peers);
  return {
    selector,
    update: (v) => {
      icp.update(v);
      selector.setPeers(v.peers);
    },
  };
}

/**
 * A cache worker's own ICP client: a UDP socket on an ephemeral port of `icp.listen` that sends
 * this worker's ICP queries and receives their answers (it answers no queries itself). Not made
 * with a multicast group (those lookups go to the main process, which tracks the group's members).
 *
 * @param cfg the configuration (`icp`)
 * @returns the client and its socket, or undefined when ICP is off or multicast is configured
 */
export async function workerIcpClient(
  cfg: Pick<Appliance, "icp">,
): Promise<{ client: IcpClient; close: () => Promise<void> } | undefined> {
  const icp = cfg.icp;
  if (!icp.enabled || icp.multicast.group) return undefined;
  const server = await IcpServer.listen({
    hostname: icp.listen,
    port: 0,
    isFresh: () => false,
    allows: () => false, // nobody queries this socket: only answers to our queries arrive here
  });
  const client = new IcpClient(server, {
    timeoutMs: icp.timeoutMs,
    minTimeoutMs: icp.minTimeoutMs,
    deadPeerMs: icp.deadPeerMs,
  });
  return {
    client,
    close: async () => {
      client.close();
      await server.close();
    },
  };
}
