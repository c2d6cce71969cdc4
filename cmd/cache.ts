/**
 * `webcache cache`: the caching proxy role. Starts the HTTP listeners (accelerator, forward and
 * transparent modes), `cache.workers` workers sharing the ports with SO_REUSEPORT, and the admin
 * endpoint with a `cache` section in `/status`.
 *
 * Peering plugs in here: the main process runs the `PeeringNode` (ICP socket answering from the
 * shared index of every worker's objects, or from the shared disk tier; ICP client; liveness); each worker gets a selector
 * that decides hash ownership from the main process's view and sends ICP queries on its own socket
 * (`cache/peering/remote_icp.ts`). With `--peers auto` the cluster membership (`cluster/`)
 * supplies the sibling caches. `service.handler.lookupFresh(url)` answers ICP queries.
 *
 * Signals: SIGHUP reopens the access log and reloads what can change in place (`_cache_reload.ts`),
 * never exiting. SIGTERM and SIGINT stop gracefully: the cache announces it drains (membership
 * state `draining`, weight 0; its health endpoint answers 503; responses close their
 * connections), keeps accepting for `cache.shutdownDelayMs` while the directors learn it, then
 * stops accepting and lets requests in flight finish until `cache.shutdownGraceMs`, leaves the
 * cluster and exits. A second signal exits at once. On start the cache joins the cluster only
 * once its listeners are up and its store is open, at its full weight.
 *
 * @module
 */
import { Command, Option } from "commander";
import type { Appliance, ConfigOverride } from "../config/mod.ts";
import { AdminServer } from "../admin/server.ts";
import { formatHostPort, parseHostPort } from "../core/addr.ts";
import { configureLogging, getLogger, printErr, printOut } from "../core/log.ts";
import { buildInfo, setOtherThreadMetrics, threadMetricsSnapshot } from "../core/metrics.ts";
import { CacheService, statusSection } from "../cache/cache_service.ts";
import { counters, setCounterSources, SUMMED_IN_MAIN } from "../cache/metrics.ts";
import { isWorkerContext, runWorker, WorkerPool } from "../cache/worker_pool.ts";
import { SharedCollapse } from "../cache/shared_collapse.ts";
import { SharedIndex } from "../cache/shared_index.ts";
import { LazyCopy } from "../cache/lazy_copy.ts";
import { MemoryStore } from "../cache/store/memory_store.ts";
import { parsePeerFlag, PeeringNode, workerIcpClient, workerSelector } from "../cache/peering/mod.ts";
import {
  type AllowedDirectors,
  checkRealServer,
  formatCheckReport,
  type RealServerSetup,
  setupRealServer,
} from "../netctl/real_server.ts";
import { createStoreFromConfig, storeStatus } from "../cache/store/mod.ts";
import { BanList } from "../cache/ban_list.ts";
import { BannedStore } from "../cache/banned_store.ts";
import { BAN_FILE_NAME, readBanFile, writeBanFile } from "../cache/ban_file.ts";
import { PurgeFanout } from "../cache/purge_fanout.ts";
import { purgeAdminRoute } from "../cache/purge_admin_route.ts";
import { BanDecodeError } from "../cluster/ban_codec.ts";
import { registerDashboard } from "../admin/dashboard.ts";
import { mergeTopUrls, TopUrls, trackTopUrls } from "../status/top_urls.ts";
import { TlsFileError } from "../http/tls_files.ts";
import {
  addSharedOptions,
  EXIT_CONFIG,
  loadOrExit,
  numericFlag,
  type SharedOptions,
  sharedOverrides,
} from "./_common.ts";
import { applyCacheConfig, cacheReloadHandles, type CacheReloadTarget, reloadCache } from "./_cache_reload.ts";
import {
  addClusterOptions,
  type AdvertisedLink,
  advertisedLink,
  advertiseHost,
  type ClusterOptions,
  clusterOverrides,
  directorTunnelSources,
  siblingPeers,
  startRoleMembership,
} from "./_cluster.ts";

const log = getLogger("cache");

/** How many top URLs each worker reports to the main process (merged into `/status`'s top 10). */
const TOP_URLS_SHARED = 50;

/** Options of `webcache cache`. */
interface CacheOptions extends SharedOptions, ClusterOptions {
  origin?: string;
  listen?: string[];
  workers?: string;
  accessLog?: string;
  icpPort?: string;
  peer?: string[];
  peering?: string;
  vip?: string;
  forwarding?: "none" | "dr" | "tun";
  director?: string[];
  checkVip?: boolean;
  cacheDir?: string;
  cacheSize?: string;
}

/**
 * Parses one `--listen ADDR:PORT[,mode=accel|forward|transparent][,proxy][,cert=FILE,key=FILE]` value.
 *
 * @param v the flag value
 * @returns a listener entry for `cache.listen`
 * @throws {SyntaxError} for an unknown option
 */
export function parseListenFlag(
  v: string,
): { address: string; mode: string; proxyProtocol: boolean; tls?: { cert: string; key: string } } {
  const [address, ...opts] = v.split(",").map((s) => s.trim());
  const out: ReturnType<typeof parseListenFlag> = { address, mode: "accel", proxyProtocol: false };
  let cert: string | undefined, key: string | undefined;
  for (const o of opts) {
    if (o.startsWith("mode=")) out.mode = o.slice(5);
    else if (o === "proxy" || o === "proxy-protocol") out.proxyProtocol = true;
    else if (o.startsWith("cert=")) cert = o.slice(5);
    else if (o.startsWith("key=")) key = o.slice(4);
    else {
      throw new SyntaxError(
        `Cannot parse --listen "${v}": unknown option "${o}" (use mode=MODE, proxy, cert=FILE, key=FILE)`,
      );
    }
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new SyntaxError(`Cannot parse --listen "${v}": TLS needs both cert=FILE and key=FILE`);
  }
  if (cert !== undefined && key !== undefined) out.tls = { cert, key };
  return out;
}

/** This node's admin, gossip and ICP ports, which the proxy must never reach on its own addresses. */
function servicePorts(cfg: Appliance): number[] {
  const ports = [cfg.icp.port];
  for (const hp of [cfg.admin.listen, cfg.cluster.gossipListen]) {
    const m = /:(\d+)$/.exec(hp);
    if (m && Number(m[1]) > 0) ports.push(Number(m[1]));
  }
  return ports;
}

function nodeName(cfgName: string | undefined): string {
  if (cfgName) return cfgName;
  try {
    return Deno.hostname();
  } catch {
    return "webcache";
  }
}

/**
 * The allowed IP-in-IP sources as the flags and config define them (`--check-vip` in a separate
 * process: the running cache's list is in its `/status` under `realServer`).
 */
function configuredDirectors(director: string[] | undefined, fromMembership: boolean): AllowedDirectors {
  if (director?.length) return { addrs: [...new Set(director)].sort(), from: "--director" };
  return fromMembership ? { addrs: [], from: "membership" } : { addrs: "any", from: "none" };
}

/**
 * The allowed directors of the cache running on this host, from its `/status` (`realServer`
 * section), or undefined when none answers within a second.
 */
async function runningDirectors(admin: { listen: string; token?: string }): Promise<AllowedDirectors | undefined> {
  try {
    const hp = parseHostPort(admin.listen);
    const host = hp.host === "0.0.0.0" ? "127.0.0.1" : hp.host === "::" ? "::1" : hp.host;
    const res = await fetch(`http://${formatHostPort({ host, port: hp.port })}/status`, {
      headers: admin.token ? { authorization: `Bearer ${admin.token}` } : {},
      signal: AbortSignal.timeout(1000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    const rs = (await res.json() as { realServer?: { directors?: string[] | "any"; directorsFrom?: string } })
      .realServer;
    if (!rs?.directors || !rs.directorsFrom) return undefined;
    return { addrs: rs.directors, from: rs.directorsFrom as AllowedDirectors["from"], running: true };
  } catch {
    return undefined;
  }
}

/** The `realServer` section of `/status`: VIP, how TUN packets are decapsulated, from whom, counters. */
function realServerStatus(vip: string, forwarding: string, rs: RealServerSetup): Record<string, unknown> {
  const allowed = rs.allowedDirectors();
  return {
    vip,
    forwarding,
    decap: rs.decap,
    ...(allowed ? { directors: allowed.addrs, directorsFrom: allowed.from } : {}),
    ...(rs.ebpfStats ? { ebpf: rs.ebpfStats() } : {}),
    ...(rs.userSpaceStats ? { userSpace: rs.userSpaceStats() } : {}),
  };
}

/** Builds the `cache` subcommand. */
export function cacheCommand(): Command {
  const cmd = new Command("cache")
    .description("run the HTTP caching proxy (accelerator, forward and transparent modes)")
    .option("--origin <url>", "default origin for the accelerator (cache.defaultOrigin), e.g. http://10.0.0.5:8080")
    .option(
      "--listen <addr:port[,mode=M][,proxy][,cert=F,key=F]>",
      "listener (repeatable); mode accel|forward|transparent, proxy = expect PROXY protocol, cert/key = TLS",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--workers <n>", "worker threads sharing the ports (cache.workers; 0 = one per core)")
    .option("--access-log <path|stdout|none>", "Squid native access.log destination (cache.accessLog)")
    .option("--icp-port <port>", "UDP port of the ICP server (icp.port, default 3130)")
    .option(
      "--peer <host:http[:icp][/sibling|/parent]>",
      "peer cache (repeatable; cache.peers); ICP port default 3130, 0 = no ICP; type default sibling",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--peering <mode>", "peer selection on a miss: none, icp, hash, hash+icp (cache.peering.mode)")
    .option("--vip <addr>", "VIP served through a DR/TUN director (cache.vip): set up on lo, undone on exit")
    .addOption(
      new Option("--forwarding <method>", "real-server set-up for the director (cache.forwarding)").choices([
        "none",
        "dr",
        "tun",
      ]),
    )
    .option(
      "--director <addr>",
      "tun: director address accepted as IP-in-IP outer source (repeatable; default: the live directors " +
        "from membership with cluster peers, none until one is known; without peers any)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--check-vip", "report the DR/TUN real-server settings and common failure reasons, then exit")
    .option("--cache-dir <dir>", "one disk cache directory (replaces cache.store.dirs; needs --cache-size)")
    .option("--cache-size <size>", "size limit of --cache-dir, e.g. 1GiB");
  addSharedOptions(cmd);
  addClusterOptions(cmd);
  return cmd.action(async (opts: CacheOptions) => {
    const overrides: ConfigOverride[] = [...sharedOverrides(opts), ...clusterOverrides(opts)];
    if (opts.origin !== undefined) {
      overrides.push({ path: ["cache", "defaultOrigin"], value: opts.origin, flag: "--origin" });
    }
    if (opts.listen?.length) {
      try {
        overrides.push({ path: ["cache", "listen"], value: opts.listen.map(parseListenFlag), flag: "--listen" });
      } catch (e) {
        printErr((e as Error).message);
        Deno.exit(EXIT_CONFIG);
      }
    }
    if (opts.workers !== undefined) {
      overrides.push({ path: ["cache", "workers"], value: numericFlag(opts.workers), flag: "--workers" });
    }
    if (opts.accessLog !== undefined) {
      overrides.push({ path: ["cache", "accessLog"], value: opts.accessLog, flag: "--access-log" });
    }
    if (opts.icpPort !== undefined) {
      overrides.push({ path: ["icp", "port"], value: numericFlag(opts.icpPort), flag: "--icp-port" });
    }
    if (opts.peer?.length) {
      try {
        overrides.push({ path: ["cache", "peers"], value: opts.peer.map(parsePeerFlag), flag: "--peer" });
      } catch (e) {
        printErr((e as Error).message);
        Deno.exit(EXIT_CONFIG);
      }
    }
    if (opts.peering !== undefined) {
      overrides.push({ path: ["cache", "peering", "mode"], value: opts.peering, flag: "--peering" });
    }
    if (opts.vip !== undefined) overrides.push({ path: ["cache", "vip"], value: opts.vip, flag: "--vip" });
    if (opts.forwarding !== undefined) {
      overrides.push({ path: ["cache", "forwarding"], value: opts.forwarding, flag: "--forwarding" });
    }
    if ((opts.cacheDir === undefined) !== (opts.cacheSize === undefined)) {
      printErr(
        "Cannot start cache: --cache-dir and --cache-size go together, e.g. --cache-dir /var/cache/webcache --cache-size 1GiB",
      );
      Deno.exit(EXIT_CONFIG);
    }
    if (opts.cacheDir !== undefined) {
      overrides.push({
        path: ["cache", "store", "dirs"],
        value: [{ path: opts.cacheDir, size: opts.cacheSize }],
        flag: "--cache-dir/--cache-size",
      });
    }
    const cfg = await loadOrExit(opts.config, overrides);
    // TUN without --director: the allowed IP-in-IP sources are the live directors of the cluster.
    const directorsFromMembership = !opts.director?.length &&
      (cfg.cluster.peers === "auto" || cfg.cluster.peers.length > 0);
    if (opts.checkVip) {
      if (!cfg.cache.vip || cfg.cache.forwarding === "none") {
        printErr("--check-vip needs cache.vip (--vip ADDR) and cache.forwarding dr|tun (--forwarding)");
        Deno.exit(EXIT_CONFIG);
      }
      const items = await checkRealServer({
        vip: cfg.cache.vip,
        forwarding: cfg.cache.forwarding,
        allowed: await runningDirectors(cfg.admin) ?? configuredDirectors(opts.director, directorsFromMembership),
      });
      printOut(formatCheckReport(items));
      Deno.exit(items.every((i) => i.ok) ? 0 : 1);
    }
    const node = nodeName(cfg.cluster.nodeName);
    const workers = cfg.cache.workers === 0 ? navigator.hardwareConcurrency || 1 : cfg.cache.workers;
    // Cluster members (seeds or --peers auto) supply siblings too.
    const peeringOn = cfg.cache.peering.mode !== "none" &&
      (cfg.cache.peers.length > 0 || cfg.cluster.peers === "auto" || cfg.cluster.peers.length > 0);
    // With a disk tier every worker sees every object on disk. Memory-only caches with several
    // workers publish what each worker holds in a shared index and copy objects on demand.
    const memoryOnly = cfg.cache.store.dirs.length === 0;
    const lazyFor = (store: unknown, index: SharedArrayBuffer | undefined, worker: number) =>
      index && store instanceof MemoryStore ? new LazyCopy(new SharedIndex(index, worker), store) : undefined;
    // Purge bans (cache/ban_list.ts): every thread sees its store through its own copy of the list.
    const newBanList = () =>
      new BanList({
        lifetimeMs: cfg.cache.purge.banLifetimeS * 1000,
        maxBans: cfg.cache.purge.maxBans,
        maxUrlBans: cfg.cache.purge.maxUrlBans,
      });

    if (isWorkerContext()) {
      // Worker threads join the main thread's lock on the cache directories (same process
      // instance id) and leave eviction to it. Memory-only caches copy objects between workers
      // when asked (lazy_copy.ts).
      const top = new TopUrls();
      await runWorker(async (ctx) => {
        const store = await createStoreFromConfig(cfg.cache, { evictor: false, workers });
        const lazyCopy = lazyFor(store, ctx.sharedIndex, ctx.index);
        for (const { peer, port } of ctx.ports) {
          if (lazyCopy) lazyCopy.connect(peer, port);
          else port.close();
        }
        const bans = newBanList();
        ctx.onBans((set) => bans.merge(set));
        const service = new CacheService(cfg.cache, {
          node,
          workers,
          servicePorts: servicePorts(cfg),
          reusePort: true,
          invalidate: ctx.invalidate,
          purge: ctx.purge,
          store: new BannedStore(store, bans),
          lazyCopy,
          sharedCollapse: ctx.shared ? new SharedCollapse(ctx.shared, { worker: ctx.index }) : undefined,
        });
        trackTopUrls(service.accessLog, top);
        ctx.onReload(async (next) => {
          configureLogging({ level: next.log.level, components: next.log.components, format: next.log.format });
          await service.reconfigure(next.cache);
        });
        if (ctx.peering) {
          // Hash ownership decided here from the main process's view; ICP lookups on this worker's
          // own socket (or, with multicast, in the main process).
          const icp = await workerIcpClient(cfg);
          if (icp) ctx.onClose(icp.close);
          const { selector, update } = workerSelector(ctx.peering, ctx.peering.view, icp?.client);
          service.handler.setPeerSelector(selector);
          service.handler.setOriginObserver(ctx.peering.originResult);
          ctx.peering.onView = update;
        }
        return service.start();
      }, async () => ({ metrics: await threadMetricsSnapshot(SUMMED_IN_MAIN), topUrls: top.top(TOP_URLS_SHARED) }));
      return;
    }

    buildInfo.set({ version: "", role: "cache" }, 1);
    // A SIGHUP while starting (logrotate during a long disk index rebuild) must not kill the
    // process: remembered, and handled once the cache runs.
    let hupWhileStarting = false;
    const earlyHup = () => hupWhileStarting = true;
    Deno.addSignalListener("SIGHUP", earlyHup);
    let realServer: RealServerSetup | undefined;
    if (cfg.cache.vip && cfg.cache.forwarding !== "none") {
      try {
        realServer = await setupRealServer({
          vip: cfg.cache.vip,
          forwarding: cfg.cache.forwarding,
          director: opts.director,
          directorsFromMembership,
        });
        log.info("Real-server set-up done", {
          vip: cfg.cache.vip,
          forwarding: cfg.cache.forwarding,
          decap: realServer.decap,
        });
      } catch (e) {
        printErr(`Cannot prepare this host as a ${cfg.cache.forwarding} real server: ${(e as Error).message}`);
        Deno.exit(1);
      }
    }
    let store;
    try {
      // Opens (or rebuilds the index of) the disk directories; fails fast when one is not
      // writable or is locked by another instance. The main thread evicts.
      store = await createStoreFromConfig(cfg.cache, { evictor: true, workers });
    } catch (e) {
      printErr(`Cannot start cache: ${(e as Error).message}`);
      await realServer?.undo();
      Deno.exit(1);
    }
    // Bans survive a restart with a disk tier (bans.bin in the first directory); a damaged list
    // cannot say what was purged, so every object stored before now counts as purged.
    const bans = newBanList();
    const banFile = cfg.cache.store.dirs[0] ? `${cfg.cache.store.dirs[0].path}/${BAN_FILE_NAME}` : undefined;
    if (banFile) {
      try {
        const set = await readBanFile(banFile);
        if (set) bans.merge(set);
      } catch (e) {
        if (!(e instanceof BanDecodeError)) {
          printErr(`Cannot start cache: cannot read the ban list ${banFile}: ${(e as Error).message}`);
          await store.close();
          await realServer?.undo();
          Deno.exit(1);
        }
        log.error("Ban list damaged: every object stored before now counts as purged", {
          path: banFile,
          error: e as Error,
        });
        bans.merge({ floorMs: Date.now(), bans: [] });
      }
    }
    // Collapsing across workers: one shared claim table (no message per miss); memory-only caches
    // also share an index of which worker holds which object.
    const shared = workers > 1 && cfg.cache.collapse.enabled ? SharedCollapse.allocate() : undefined;
    const sharedIndex = workers > 1 && memoryOnly
      ? SharedIndex.allocate(SharedIndex.slotsFor(cfg.cache.memory.maxBytes))
      : undefined;
    const lazyCopy = lazyFor(store, sharedIndex, 0);
    const pool = new WorkerPool(workers - 1, { shared, sharedIndex, lazyCopy });
    const invalidateAll = async (keys: string[]): Promise<number> =>
      (await service.invalidateLocal(keys)) + (await pool.invalidate(keys));
    const fanout = new PurgeFanout({
      bans,
      deleteKeys: invalidateAll,
      toWorkers: (set) => pool.sendBans(set),
      persist: banFile ? (set) => writeBanFile(banFile, set) : undefined,
      timeoutMs: cfg.cache.purge.fanoutTimeoutMs,
    });
    pool.setPurger({ purge: (ban, n) => fanout.purge(ban, n), snapshot: () => fanout.snapshot() });
    const bannedStore = new BannedStore(store, bans);
    let service: CacheService;
    try {
      service = new CacheService(cfg.cache, {
        servicePorts: servicePorts(cfg),
        sharedCollapse: shared ? new SharedCollapse(shared, { worker: 0 }) : undefined,
        node,
        workers,
        store: bannedStore,
        reusePort: workers > 1,
        invalidate: invalidateAll,
        purge: (ban, n) => fanout.purge(ban, n),
        lazyCopy,
      });
    } catch (e) {
      printErr(`Cannot start cache: ${(e as Error).message}`);
      await store.close?.();
      await realServer?.undo();
      Deno.exit(1);
    }
    let peering: PeeringNode | undefined;
    // Without peers and without icp.acl nobody may query us (default ICP access: known peers only).
    if (peeringOn || (cfg.icp.enabled && cfg.icp.acl !== undefined)) {
      try {
        peering = await PeeringNode.start(cfg, { lookupFresh: (url) => service.handler.lookupFresh(url) });
      } catch (e) {
        printErr(`Cannot start peering: ${(e as Error).message}`);
        await service.close();
        await realServer?.undo();
        Deno.exit(1);
      }
      service.handler.setPeerSelector(peering.selector);
      const guard = peering.guard;
      service.handler.setOriginObserver((url, ok) => guard.originResult(url, ok));
      const p = peering;
      pool.setPeering({
        view: () => p.view(),
        lookup: (url) =>
          p.client?.lookup(url) ??
            Promise.resolve({ decision: { kind: "none" }, outcome: "no_peers", answers: [], expected: 0, waitedMs: 0 }),
        markDead: (key) => p.client?.markDead(key),
        originResult: (url, ok) => guard.originResult(url, ok),
      });
    }
    try {
      service.start();
      await pool.start(service);
    } catch (e) {
      printErr(`Cannot start cache: ${(e as Error).message}`);
      await peering?.close();
      await pool.close();
      await service.close();
      await realServer?.undo();
      // An unusable certificate or key file is a configuration error (exit 2, like the others).
      Deno.exit(e instanceof TlsFileError ? EXIT_CONFIG : 1);
    }
    setCounterSources(() => [counters, ...pool.snapshots().map((s) => s.counters)]);
    setOtherThreadMetrics(() => pool.snapshots().flatMap((s) => s.metrics ? [s.metrics] : []));
    const ahp = parseHostPort(cfg.admin.listen);
    const admin = new AdminServer({
      hostname: ahp.host,
      port: ahp.port,
      allow: cfg.admin.allow,
      token: cfg.admin.token,
      hosts: cfg.admin.hosts,
      node,
      role: "cache",
    });
    // Top URLs for `webcache status` and the dashboard: this thread's merged with every worker's.
    const topUrls = new TopUrls();
    trackTopUrls(service.accessLog, topUrls);
    admin.status("cache", () => {
      const snaps = pool.snapshots();
      return {
        ...statusSection([service.stats(), ...snaps]),
        topUrls: mergeTopUrls([topUrls.top(TOP_URLS_SHARED), ...snaps.map((s) => s.topUrls ?? [])]),
      };
    });
    registerDashboard(admin, { node, token: cfg.admin.token });
    if (peering) admin.status("peering", () => peering.status());
    const rs = realServer;
    if (rs) admin.status("realServer", () => realServerStatus(cfg.cache.vip!, cfg.cache.forwarding, rs));
    admin.status("store", () => storeStatus(store));
    admin.route(
      "/purge",
      purgeAdminRoute({
        acl: cfg.cache.acl.purge,
        token: cfg.admin.token,
        node,
        purge: (ban) => fanout.purge(ban),
      }),
    );
    admin.status("purge", () => ({
      bans: bans.size,
      floorMs: bans.floorMs,
      digest: bans.digest(),
      lazyDeletes: bannedStore.lazyDeletes,
    }));
    try {
      admin.start();
    } catch (e) {
      printErr(`Cannot start cache: ${(e as Error).message}`);
      await peering?.close();
      await pool.close();
      await service.close();
      await realServer?.undo();
      Deno.exit(1);
    }
    // Cluster membership: advertise this cache (directors make it a real server of cache.service)
    // and take the live caches of the cluster as siblings.
    const http = cfg.cache.listen[0] ? parseHostPort(cfg.cache.listen[0].address) : undefined;
    const httpHost = http ? advertiseHost(http.host, cfg) : undefined;
    let link: AdvertisedLink | undefined;
    try {
      link = advertisedLink(cfg.cache, httpHost); // DR: directors forward to this MAC without ARP
    } catch (e) {
      printErr(`Cannot start cache: ${(e as Error).message}`);
      await admin.stop();
      await peering?.close();
      await pool.close();
      await service.close();
      await realServer?.undo();
      Deno.exit(1);
    }
    let current: Appliance = cfg;
    const reloadTarget = (): CacheReloadTarget => ({
      boot: cfg,
      service,
      pool,
      peering,
      membership,
      stopping: () => stopping,
    });
    const membership = await startRoleMembership(cfg, opts, {
      role: "cache",
      record: {
        weight: cfg.cache.weight,
        service: cfg.cache.service,
        vip: cfg.cache.vip,
        forwarding: cfg.cache.forwarding,
        ...link,
        addrs: {
          ...(http && httpHost ? { http: formatHostPort({ host: httpHost, port: http.port }) } : {}),
          ...(cfg.icp.enabled
            ? { icp: formatHostPort({ host: advertiseHost(cfg.icp.listen, cfg), port: cfg.icp.port }) }
            : {}),
          admin: cfg.admin.listen,
        },
      },
      admin,
      reload: {
        handles: (path) => cacheReloadHandles(path, peering !== undefined),
        apply: async (synced) => {
          current = await applyCacheConfig(reloadTarget(), current, synced);
        },
      },
    });
    if (membership && rs?.allowedDirectors()?.from === "membership") {
      // Every membership change (join, death, leave) reaches both decapsulators at once.
      const feed = () =>
        rs.setDirectors(directorTunnelSources(membership.members())).catch((e) =>
          log.error("Cannot update the allowed directors", { error: (e as Error).message })
        );
      void feed();
      membership.onChange(() => void feed());
    }
    // Purges reach every cache over the gossip transport (needs the cluster key).
    if (membership) fanout.attach(membership);
    if (membership && peering) {
      const p = peering;
      const feed = () => p.setPeers(siblingPeers(membership.members(), membership.local.id));
      feed();
      membership.onChange(feed);
    }
    log.info("Cache started", { node, workers });
    // SIGHUP: one reload at a time; the process never exits on a reload.
    let reloading = Promise.resolve();
    const source = opts.config ? { file: opts.config, overrides } : undefined;
    const onHup = () => {
      reloading = reloading.then(async () => {
        current = await reloadCache(reloadTarget(), current, source);
      });
    };
    Deno.addSignalListener("SIGHUP", onHup);
    Deno.removeSignalListener("SIGHUP", earlyHup);
    if (hupWhileStarting) onHup();
    let stopping = false;
    const stop = async () => {
      if (stopping) {
        log.warn("Second signal: stopping now", { node });
        await realServer?.undo();
        Deno.exit(0);
      }
      stopping = true;
      const { shutdownGraceMs } = current.cache;
      const deadline = Date.now() + shutdownGraceMs;
      // The delay is for directors: skipped when none can be sending here (no membership, no
      // VIP, no health probe in the last minute).
      const probedAt = Math.max(
        service.health.probedAt,
        ...pool.snapshots().map((s) => s.healthProbedAt ?? -Infinity),
      );
      const watched = membership !== undefined || realServer !== undefined || Date.now() - probedAt < 60_000;
      const shutdownDelayMs = watched ? current.cache.shutdownDelayMs : 0;
      log.info("Cache draining", { node, shutdownDelayMs, shutdownGraceMs });
      // Directors stop sending new connections: membership says draining (weight 0), the health
      // endpoint says 503; clients on kept-alive connections get Connection: close.
      service.drain();
      pool.drain();
      membership?.update({ state: "draining", weight: 0 });
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(shutdownDelayMs, deadline - Date.now()))));
      await Promise.all([service.finish(deadline), pool.finish(deadline)]);
      log.info("Cache stopping", { node });
      // What is left (background revalidations, store flushes) gets a few seconds more.
      setTimeout(async () => {
        log.warn("Cache stop took too long; exiting", { node });
        await realServer?.undo();
        Deno.exit(0);
      }, 5000);
      await reloading;
      await membership?.leave();
      await membership?.stop();
      await admin.stop();
      await peering?.close();
      await fanout.close();
      await pool.close();
      await service.close();
      await realServer?.undo();
      Deno.exit(0);
    };
    Deno.addSignalListener("SIGTERM", stop);
    Deno.addSignalListener("SIGINT", stop);
  });
}
