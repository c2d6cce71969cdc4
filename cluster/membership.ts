/**
 * {@link Membership}: the public face of cluster membership for the roles. It binds the gossip
 * transport, loads the key ring, runs the {@link Swim} engine, joins seeds or finds the cluster by
 * multicast, keeps metrics, and tells the role about changes through a `change` event.
 *
 * @example
 * ```ts
 * const m = await Membership.start({ cfg, record: { role: "cache", weight: 100, service: "web" }, signal });
 * m.addEventListener("change", () => rebuildSiblings(m.members().filter((n) => n.state === "alive")));
 * Deno.addSignalListener("SIGTERM", async () => { await m.leave(); await m.stop(); Deno.exit(0); });
 * ```
 *
 * @module
 */
import type { AdminServer } from "../admin/server.ts";
import type { Appliance } from "../config/mod.ts";
import { formatHostPort, parseHostPort } from "../core/addr.ts";
import { getLogger } from "../core/log.ts";
import { realClock } from "./clock.ts";
import { ConfigSyncer, type ConfigUpdate } from "./config_syncer.ts";
import type { ConfigVersion } from "./config_version.ts";
import type { ConfigMessage, Message } from "./codec.ts";
import { Discovery } from "./discovery.ts";
import { Keyring, resolveClusterKeys } from "./keyring.ts";
import {
  awarenessGauge,
  conflictsTotal,
  deathsTotal,
  membersGauge,
  messagesDroppedTotal,
  messagesReceivedTotal,
  probesTotal,
  pushPullsTotal,
  refutationsTotal,
  suspicionsTotal,
} from "./metrics.ts";
import type { NodeRecord, NodeState } from "./node.ts";
import { loadOrCreateNodeId } from "./node_id.ts";
import { Swim } from "./swim.ts";
import { NetTransport } from "./transport.ts";

const log = getLogger("cluster");

/** What a role tells about itself; the rest of the record is filled in by {@link Membership.start}. */
export type LocalRecord =
  & Omit<
    NodeRecord,
    "id" | "name" | "addrs" | "state" | "configHash" | "configVersion" | "configRefused" | "incarnation"
  >
  & {
    id?: string;
    name?: string;
    addrs?: Partial<NodeRecord["addrs"]>;
    state?: "alive" | "draining";
  };

/** Options of {@link Membership.start}. */
export interface MembershipOptions {
  /** The validated config (the `cluster` section drives membership). */
  cfg: Appliance;
  /** The role's part of this node's record. */
  record: LocalRecord;
  /** Aborting it stops the membership (without a leave announcement; call `leave()` first for that). */
  signal?: AbortSignal;
  /** `--cluster-key-file`, which wins over the config. */
  keyFile?: string;
  /** Key from the environment; default `WEBCACHE_CLUSTER_KEY`. */
  envKey?: string;
  /**
   * File keeping the stable node id (created with a random id). Without it and without `record.id`
   * the id is derived from cluster name, role and node name, which survives restarts and address
   * changes as long as the name stays.
   */
  idFile?: string;
  /**
   * The appliance.yaml `cfg` was loaded from. With `cluster.configSync` it is served to peers,
   * replaced by a newer peer config (this node's node-local keys kept), and its version counter is
   * kept beside it in `<file>.version` (`config_version.ts`).
   */
  configFile?: string;
  /**
   * `cluster.configSync`: the role applies a peer's config before it is adopted (say the
   * director's services); throwing refuses the config, which is then gossiped as refused.
   */
  accept?: (detail: ConfigEventDetail) => Promise<void>;
}

/**
 * Detail of the `config` event: cluster.configSync adopted a newer config from a peer, or this
 * node published a change to its own file ({@link Membership.publishConfig}, `local`).
 */
export type ConfigEventDetail = ConfigUpdate;

/** The status section and `/members` document. */
export interface MembersDocument {
  /** Id of the node that answered. */
  self: string;
  /** Cluster name. */
  cluster: string;
  /** Config hash of the node that answered. */
  configHash: string;
  /** Config version counter of the node that answered (0: never published). */
  configVersion: number;
  /**
   * Every member it knows, itself first; `configDiffers` when the hash is not its own. Each
   * record carries its `configVersion` and, when it refused a newer one, `configRefused`.
   */
  members: (NodeRecord & { configDiffers: boolean })[];
}

/** A stable id from cluster name, role and node name: the first 16 hex digits of their SHA-256. */
async function derivedNodeId(cluster: string, role: string, name: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${cluster}\0${role}\0${name}`));
  return [...new Uint8Array(d)].slice(0, 8).map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Parses `cluster.gossipListen`, which (unlike other endpoints) may use port 0. */
function parseListen(s: string): { host: string; port: number } {
  if (s.endsWith(":0")) return { host: parseHostPort(s.slice(0, -2) + ":1").host, port: 0 };
  return parseHostPort(s);
}

function pickAdvertise(listenHost: string): string {
  if (listenHost !== "0.0.0.0" && listenHost !== "::") return listenHost;
  for (const i of Deno.networkInterfaces()) {
    if (i.family === "IPv4" && !i.address.startsWith("127.")) return i.address;
  }
  return "127.0.0.1";
}

/** Cluster membership of this process. */
export class Membership extends EventTarget {
  #cfg: Appliance;
  readonly #swim: Swim;
  #syncer!: ConfigSyncer;
  #restartNeeded: string[] = [];
  readonly #transport: NetTransport;
  readonly #keyring: Keyring;
  #discovery?: Discovery;
  #changeTimer?: ReturnType<typeof setTimeout>;
  #stopped = false;
  #onAbort?: () => void;
  readonly #signal?: AbortSignal;
  #requestHandler?: (msgs: Message[], from: string) => Promise<Message[] | undefined>;

  private constructor(
    cfg: Appliance,
    swim: Swim,
    transport: NetTransport,
    keyring: Keyring,
    signal?: AbortSignal,
  ) {
    super();
    this.#cfg = cfg;
    this.#swim = swim;
    this.#transport = transport;
    this.#keyring = keyring;
    this.#signal = signal;
  }

  /**
   * Starts membership: loads keys, binds `cluster.gossipListen` (UDP and TCP), joins the seeds in
   * `cluster.peers` or looks for the cluster by multicast when it is `auto`.
   *
   * @throws {Error} when no key is configured and `cluster.insecure` is not set, or a key is bad
   * @throws {Deno.errors.AddrInUse} when the gossip port is taken
   */
  static async start(opts: MembershipOptions): Promise<Membership> {
    const { cfg } = opts;
    const c = cfg.cluster;
    const keys = await resolveClusterKeys({
      keyFileFlag: opts.keyFile,
      keyFile: c.keyFile,
      secretKey: c.secretKey,
      keyRing: c.keyRing,
      env: opts.envKey ?? Deno.env.get("WEBCACHE_CLUSTER_KEY"),
    });
    if (keys.length === 0 && !c.insecure) {
      throw new Error(
        "Refusing to start cluster membership without a key: set cluster.keyFile, --cluster-key-file, " +
          "cluster.secretKey or WEBCACHE_CLUSTER_KEY (or cluster.insecure: true, never in production)",
      );
    }
    if (keys.length === 0) log.warn("Cluster gossip runs without authentication (cluster.insecure: true)");
    const keyring = await Keyring.create(keys, c.name, { replayWindowMs: c.replayWindowMs });
    if (c.configSync && !keyring.secure) {
      log.warn("cluster.configSync is off: without a key, peer configs cannot be authenticated");
    }
    const syncing = c.configSync && keyring.secure;
    const initial = await ConfigSyncer.initial(cfg, opts.configFile, syncing);
    const listen = parseListen(c.gossipListen);
    let swim: Swim | undefined;
    let m: Membership | undefined;
    const transport = NetTransport.listen({
      hostname: listen.host,
      port: listen.port,
      keyring,
      handler: {
        packet: (msgs) => {
          messagesReceivedTotal.inc(msgs.length);
          swim?.handlePacket(msgs);
        },
        pushPull: (req, from) => {
          messagesReceivedTotal.inc();
          if (req.join) log.info("Node joining", { from, node: req.entries[0]?.record.name });
          return swim!.handlePushPull(req);
        },
        streamPing: (p) => swim?.handleStreamPing(p) ?? false,
        config: () => m?.configMessage(),
        request: async (msgs, from) => {
          messagesReceivedTotal.inc();
          // Requests change state (purges): only from holders of the cluster key.
          const serve = m?.requestHandler;
          if (!keyring.secure || !serve) {
            messagesDroppedTotal.inc({ reason: keyring.secure ? "unhandled" : "insecure" });
            return undefined;
          }
          return await serve(msgs, from);
        },
        drop: (reason, from, error) => {
          messagesDroppedTotal.inc({ reason });
          log.debug("Dropped gossip input", { from, reason, error });
        },
      },
    });
    try {
      const port = transport.addr.port;
      const adv = c.advertise ? parseHostPort(c.advertise) : { host: pickAdvertise(listen.host), port };
      const name = c.nodeName ?? opts.record.name ??
        (port === 7946 ? Deno.hostname() : `${Deno.hostname()}-${opts.record.role}-${port}`);
      const id = opts.record.id ??
        (opts.idFile ? await loadOrCreateNodeId(opts.idFile) : await derivedNodeId(c.name, opts.record.role, name));
      const local: NodeRecord = {
        ...opts.record,
        id,
        name,
        addrs: { ...opts.record.addrs, gossip: formatHostPort(adv) },
        state: opts.record.state ?? "alive",
        configHash: initial.version.hash,
        configVersion: initial.version.version,
        // Seconds since the epoch: a restarted node outranks what the cluster remembers of it.
        incarnation: Math.floor(Date.now() / 1000) >>> 0,
      };
      const nameOf = (node: string) => m ? m.#nameOf(node) : node;
      const changed = () => m?.changed();
      swim = new Swim(local, c, {
        transport,
        clock: realClock,
        hooks: {
          onProbe: (_t, result) => probesTotal.inc({ result }),
          onSuspect: (node, from) => {
            suspicionsTotal.inc();
            log.info("Member suspect", { node: nameOf(node), from: nameOf(from) });
          },
          onDead: (node, from, left) => {
            deathsTotal.inc({ how: left ? "left" : "failed" });
            log.info(left ? "Member left" : "Member dead", { node: nameOf(node), from: nameOf(from) });
          },
          onAlive: (node, isNew) => log.info(isNew ? "Member joined" : "Member alive again", { node: nameOf(node) }),
          onRefute: (incarnation) => {
            refutationsTotal.inc();
            log.info("Refuted a suspicion about this node", { incarnation });
          },
          onChange: () => changed(),
          onDrop: (reason) => messagesDroppedTotal.inc({ reason }),
          onConflict: (other) => {
            conflictsTotal.inc();
            log.error("Another node uses this node's id; give every node its own --node-name", {
              node: other.name,
              peer: other.addrs.gossip,
            });
          },
        },
      });
      m = new Membership(cfg, swim, transport, keyring, opts.signal);
      const mm = m;
      const sw = swim;
      m.#syncer = new ConfigSyncer({
        cfg,
        configFile: opts.configFile,
        text: initial.text,
        enabled: syncing,
        persist: syncing,
        hooks: {
          local: () => sw.local,
          peers: () => sw.others().map((o) => ({ record: o.record, alive: o.state === "alive" })),
          update: (patch) => sw.update(patch),
          fetch: (addr) => transport.fetchConfig(addr),
          accept: opts.accept,
          adopted: (detail) => mm.#adopted(detail),
        },
      });
      swim.start();
      m.#updateGauges();
      log.info("Cluster membership started", { node: name, id, listen: `${listen.host}:${port}`, cluster: c.name });
      if (opts.signal) {
        m.#onAbort = () => void m!.stop();
        if (opts.signal.aborted) await m.stop();
        else opts.signal.addEventListener("abort", m.#onAbort, { once: true });
      }
      if (c.peers === "auto") await m.#startDiscovery();
      else if (c.peers.length) m.join(c.peers);
      return m;
    } catch (e) {
      swim?.stop();
      await transport.close();
      throw e;
    }
  }

  async #startDiscovery(): Promise<void> {
    const d = this.#cfg.cluster.discovery;
    this.#discovery = await Discovery.start({
      group: d.group,
      port: d.port,
      iface: d.interface,
      ttl: d.ttl,
      intervalMs: d.intervalMs,
      keyring: this.#keyring,
      id: this.local.id,
      addr: this.local.addrs.gossip,
      connected: () => this.#swim.numAlive() > 1,
      knows: (id) => this.#swim.stateOf(id) === "alive",
      onFound: (addr) => this.join([addr]),
      onDrop: (reason, from) => {
        messagesDroppedTotal.inc({ reason });
        log.debug("Dropped discovery announcement", { from, reason });
      },
    });
  }

  #nameOf(id: string): string {
    if (id === this.#swim.local.id) return this.#swim.local.name;
    return this.#swim.others().find((m) => m.record.id === id)?.record.name ?? id;
  }

  /**
   * Joins seeds by full-state exchange over TCP; seeds are retried while this node is alone.
   *
   * @returns the number of seeds that answered
   */
  join(addrs: readonly string[]): Promise<number> {
    return new Promise((resolve) => {
      this.#swim.join(addrs, (n) => {
        pushPullsTotal.inc({ result: "ok" }, n);
        if (addrs.length - n > 0) pushPullsTotal.inc({ result: "failed" }, addrs.length - n);
        if (n === 0 && addrs.length) log.warn("No seed answered; retrying while alone", { peers: addrs.join(",") });
        resolve(n);
      });
    });
  }

  /** This node's record. */
  get local(): NodeRecord {
    return this.#swim.local;
  }

  /** The gossip address actually bound (useful with port 0). */
  get addr(): Deno.NetAddr {
    return this.#transport.addr;
  }

  /** The validated config this membership runs with. */
  get config(): Appliance {
    return this.#cfg;
  }

  /**
   * Every known member, this node first. `state` is the SWIM state, except that a live member
   * that declared itself `draining` shows as `draining`.
   */
  members(): NodeRecord[] {
    const out: NodeRecord[] = [this.local];
    for (const m of this.#swim.others()) {
      const state: NodeState = m.state === "alive" && m.record.state === "draining" ? "draining" : m.state;
      out.push({ ...m.record, state });
    }
    return out;
  }

  /** Changes this node's record (weight, `state: "draining"`, service, addresses) and gossips it. */
  update(patch: Partial<Omit<LocalRecord, "id">>): NodeRecord {
    const { addrs, ...rest } = patch;
    const r = this.#swim.update({
      ...rest,
      ...(addrs ? { addrs: { ...this.local.addrs, ...addrs, gossip: this.local.addrs.gossip } } : {}),
    });
    log.info("Local record updated", { node: r.name, incarnation: r.incarnation, ...patch });
    return r;
  }

  /**
   * Calls `cb` after `cluster.configSync` adopted a newer config from a peer (or this node published
   * its own change, `local`); the role applies the `reloadable` keys it supports and reports the
   * rest through {@link restartNeeded}.
   *
   * @returns a function that unsubscribes
   */
  onConfig(cb: (detail: ConfigEventDetail) => void): () => void {
    const l = (e: Event) => cb((e as CustomEvent<ConfigEventDetail>).detail);
    this.addEventListener("config", l);
    return () => this.removeEventListener("config", l);
  }

  /**
   * Calls `cb` (within a second, coalesced) after any change of the member list.
   *
   * @returns a function that unsubscribes
   */
  onChange(cb: (members: NodeRecord[]) => void): () => void {
    const l = () => cb(this.members());
    this.addEventListener("change", l);
    return () => this.removeEventListener("change", l);
  }

  /**
   * Whether gossip is sealed with a cluster key. Requests ({@link Membership.request}) need one:
   * without a key they are neither sent nor served.
   */
  get secure(): boolean {
    return this.#keyring.secure;
  }

  /**
   * Serves the roles' requests (`purge`, `bans` messages) arriving over the authenticated gossip
   * transport; the returned messages are the reply. Only with a cluster key ({@link secure}).
   *
   * @param fn the handler; replaces an earlier one
   */
  onRequest(fn: (msgs: Message[], from: string) => Promise<Message[] | undefined>): void {
    this.#requestHandler = fn;
  }

  /**
   * Sends a request to a member's gossip address over TCP, sealed with the cluster key, and
   * returns its reply.
   *
   * @param addr the member's `addrs.gossip`
   * @param msgs the request (`purge` or `bans` messages)
   * @param timeoutMs deadline for connect and reply
   * @throws {Error} without a cluster key, or when the member cannot be reached or does not reply in time
   */
  async request(addr: string, msgs: Message[], timeoutMs?: number): Promise<Message[]> {
    if (!this.#keyring.secure) throw new Error("Cannot send a cluster request without a cluster key");
    return await this.#transport.request(addr, msgs, timeoutMs);
  }

  /** The handler {@link onRequest} installed (internal; called by the transport). */
  private get requestHandler(): ((msgs: Message[], from: string) => Promise<Message[] | undefined>) | undefined {
    return this.#requestHandler;
  }

  /** Schedules the coalesced `change` event (internal; called by the engine). */
  private changed(): void {
    if (this.#changeTimer !== undefined || this.#stopped) return;
    this.#changeTimer = setTimeout(() => {
      this.#changeTimer = undefined;
      this.#updateGauges();
      if (this.#stopped) return;
      this.dispatchEvent(new Event("change"));
      this.#maybeSync();
    }, 50);
  }

  /** Our config for a peer that asks (only with a key: the envelope is the signature). */
  private configMessage(): ConfigMessage | undefined {
    if (!this.#keyring.secure) return undefined;
    return this.#syncer.message();
  }

  #maybeSync(): void {
    this.#syncer.poke();
  }

  #adopted(detail: ConfigEventDetail): void {
    this.#cfg = detail.cfg;
    if (this.#stopped) return;
    this.dispatchEvent(new CustomEvent("config", { detail }));
  }

  /**
   * Publishes a change of this node's config file (call on SIGHUP): when its cluster-wide part
   * changed, this node runs it as a new version, `max(every version seen) + 1`, which the other
   * nodes pull with `cluster.configSync`; node-local keys stay as running. Emits a `config` event
   * with `local: true` when something changed.
   *
   * @returns the version this node runs afterwards
   * @throws {ConfigError} when the file does not validate (nothing changes)
   * @throws {Error} when the node runs without a config file
   */
  publishConfig(): Promise<ConfigVersion> {
    return this.#syncer.publish();
  }

  #updateGauges(): void {
    const counts: Record<NodeState, number> = { alive: 0, suspect: 0, dead: 0, left: 0, draining: 0 };
    for (const m of this.members()) counts[m.state]++;
    for (const [state, n] of Object.entries(counts)) membersGauge.set({ state }, n);
    awarenessGauge.set(this.#swim.awareness);
  }

  /** The document served at `/members` and in `/status`. */
  document(): MembersDocument {
    const mine = this.local.configHash;
    return {
      self: this.local.id,
      cluster: this.#cfg.cluster.name,
      configHash: mine,
      configVersion: this.local.configVersion ?? 0,
      members: this.members().map((m) => ({ ...m, configDiffers: m.configHash !== mine })),
    };
  }

  /**
   * The key paths whose running value differs from the config in effect and that take a restart
   * (the role sets them after each synced config); shown as `restartNeeded` in the `cluster`
   * status section.
   */
  get restartNeeded(): readonly string[] {
    return this.#restartNeeded;
  }

  set restartNeeded(keys: readonly string[]) {
    this.#restartNeeded = [...keys];
  }

  /** Adds `/members` and a `cluster` section of `/status` to an admin endpoint. */
  registerAdmin(admin: AdminServer): void {
    admin.route("/members", () => Response.json(this.document()));
    admin.status("cluster", () => {
      const doc = this.document();
      const counts: Record<string, number> = {};
      for (const m of doc.members) counts[m.state] = (counts[m.state] ?? 0) + 1;
      return {
        name: doc.cluster,
        self: this.local.name,
        configHash: doc.configHash,
        configVersion: doc.configVersion,
        ...(this.local.configRefused ? { configRefused: this.local.configRefused } : {}),
        members: counts,
        restartNeeded: this.#restartNeeded,
      };
    });
  }

  /**
   * Announces that this node leaves (`left`, sent at once to every live member and gossiped) and
   * waits briefly for the announcement to get out. Call before {@link stop} on SIGTERM.
   */
  async leave(waitMs?: number): Promise<void> {
    if (this.#stopped) return;
    log.info("Leaving the cluster", { node: this.local.name });
    this.#swim.leave();
    const wait = waitMs ?? Math.max(200, 2 * this.#cfg.cluster.gossipIntervalMs);
    await new Promise((r) => setTimeout(r, wait));
  }

  /** Stops gossip, closes sockets and waits for in-flight work. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#onAbort) this.#signal?.removeEventListener("abort", this.#onAbort);
    clearTimeout(this.#changeTimer);
    const syncerStopped = this.#syncer.stop();
    this.#swim.stop();
    await this.#discovery?.close();
    await this.#transport.close();
    await syncerStopped;
  }
}
