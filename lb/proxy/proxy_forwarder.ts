/**
 * The `proxy` forwarding method: a user-space full TCP proxy that needs no privileges. For each
 * proxy service it listens on the VIP (or `service.listen`), asks the {@link Dispatcher} for a real
 * server per accepted connection (feeding it SYN on accept, ACK once connected, FIN at the end,
 * RST when the connect fails, so the connection table and active/inactive counts look as IPVS's),
 * connects with a timeout, optionally sends a PROXY v2 header, and splices both ways.
 * Stats: connections, packets (= reads) and bytes per direction per server.
 *
 * @module
 */
import { formatHostPort, ipv4ToInt, isIPv4 } from "../../core/addr.ts";
import { listenError } from "../../core/listen_error.ts";
import { getLogger } from "../../core/log.ts";
import { addrNumber, type Dispatcher, type ServiceSpec } from "../dispatcher.ts";
import type { Forwarder, ForwarderContext } from "../forwarder.ts";
import type { ForwardMethod } from "../real_server.ts";
import type { FlowKey } from "../scheduler/mod.ts";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../tcp_state.ts";
import { encodeProxyV2 } from "../../http/proxy_protocol.ts";
import { splice } from "./splice.ts";

const log = getLogger("lb.proxy");

/** Connection-level failures, counted by reason. */
export interface ProxyFailures {
  /** No server could take the connection (refused). */
  noServer: number;
  /** Connecting to the chosen server failed or timed out. */
  connect: number;
}

interface Listener {
  key: string;
  listener: Deno.TcpListener;
  /** The service key this listener feeds. */
  service: string;
  vip: number;
  port: number;
  proxyProtocol: boolean;
  vipText: string;
  done: Promise<void>;
}

/** Refreshes a connection entry at most this often while data flows. */
const TOUCH_EVERY_MS = 5000;

/** The unprivileged full-proxy forwarder. */
export class ProxyForwarder implements Forwarder {
  readonly methods: readonly ForwardMethod[] = ["proxy"];
  /** Failures by reason. */
  readonly failures: ProxyFailures = { noServer: 0, connect: 0 };
  readonly #dispatcher: Dispatcher;
  readonly #connectTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #listeners = new Map<string, Listener>();
  readonly #sessions = new Set<Promise<void>>();
  readonly #ac = new AbortController();

  /**
   * Creates a forwarder; listeners open in {@link start}.
   *
   * @param ctx the dispatcher and the `director` section (proxy timeouts)
   */
  constructor(ctx: ForwarderContext) {
    this.#dispatcher = ctx.dispatcher;
    this.#connectTimeoutMs = ctx.director.proxy.connectTimeoutMs;
    this.#idleTimeoutMs = ctx.director.proxy.idleTimeoutMs;
  }

  /** Connections being proxied now. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Bound addresses by service key (tests use port 0). */
  addresses(): Map<string, Deno.NetAddr> {
    return new Map([...this.#listeners.values()].map((l) => [l.service, l.listener.addr as Deno.NetAddr]));
  }

  /** Opens a listener per service. */
  async start(services: readonly ServiceSpec[]): Promise<void> {
    await this.update(services);
  }

  /** Opens listeners for new services, closes those of removed ones; live sessions continue. */
  update(services: readonly ServiceSpec[]): Promise<void> {
    const want = new Map<string, ServiceSpec>();
    for (const s of services) {
      if (s.transparent) {
        throw new TypeError(
          `Cannot proxy transparent service *:${s.port}: a full proxy needs one listen address; use method dr`,
        );
      }
      const host = s.listen ?? s.vip!;
      want.set(`${host}:${s.port}`, s);
    }
    for (const [key, l] of this.#listeners) {
      const s = want.get(key);
      if (!s || `${s.vip}:${s.port}` !== l.service) {
        l.listener.close();
        this.#listeners.delete(key);
      }
    }
    for (const [key, s] of want) {
      const existing = this.#listeners.get(key);
      if (existing) {
        existing.proxyProtocol = s.proxyProtocol ?? false;
        continue;
      }
      let listener: Deno.TcpListener;
      try {
        listener = Deno.listen({ hostname: s.listen ?? s.vip!, port: s.port, transport: "tcp" });
      } catch (e) {
        const addr = formatHostPort({ host: s.listen ?? s.vip!, port: s.port });
        throw listenError(e, addr, `director service ${s.vip}:${s.port}${s.listen ? " listen" : ""}`);
      }
      const l: Listener = {
        key,
        listener,
        service: `${s.vip}:${s.port}`,
        vip: ipv4ToInt(s.vip!),
        vipText: s.vip!,
        port: s.port,
        proxyProtocol: s.proxyProtocol ?? false,
        done: Promise.resolve(),
      };
      l.done = this.#acceptLoop(l);
      this.#listeners.set(key, l);
      log.info("Proxy listening", {
        vip: l.service,
        listen: `${(listener.addr as Deno.NetAddr).hostname}:${listener.addr.port}`,
      });
    }
    return Promise.resolve();
  }

  async #acceptLoop(l: Listener): Promise<void> {
    while (true) {
      let conn: Deno.TcpConn;
      try {
        conn = await l.listener.accept();
      } catch (e) {
        if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) return;
        log.warn("Accept failed", { vip: l.service, error: e });
        continue;
      }
      const p = this.#session(l, conn).catch((e) => log.error("Proxy session failed", { vip: l.service, error: e }));
      this.#sessions.add(p);
      p.finally(() => this.#sessions.delete(p));
    }
  }

  async #session(l: Listener, client: Deno.TcpConn): Promise<void> {
    const ra = client.remoteAddr as Deno.NetAddr;
    const flow: FlowKey = {
      saddr: isIPv4(ra.hostname) ? ipv4ToInt(ra.hostname) : addrNumber(ra.hostname),
      sport: ra.port,
      daddr: l.vip,
      dport: l.port,
    };
    const d = this.#dispatcher;
    const id = d.schedule(flow, TCP_SYN, Date.now());
    const rs = id === undefined ? undefined : d.server(id);
    if (id === undefined || !rs) {
      this.failures.noServer++;
      log.debug("No real server for connection", { vip: l.service, from: `${ra.hostname}:${ra.port}` });
      client.close();
      return;
    }
    let server: Deno.TcpConn;
    const signal = AbortSignal.any([AbortSignal.timeout(this.#connectTimeoutMs), this.#ac.signal]);
    try {
      server = await Deno.connect({ hostname: rs.address, port: rs.port, signal });
    } catch (e) {
      this.failures.connect++;
      d.schedule(flow, TCP_RST, Date.now());
      log.warn("Cannot connect to real server", {
        vip: l.service,
        backend: rs.key,
        from: `${ra.hostname}:${ra.port}`,
        error: signal.aborted ? "timeout" : e,
      });
      client.close();
      return;
    }
    // Small writes (HTTP heads) must not wait for Nagle's algorithm on either leg.
    client.setNoDelay(true);
    server.setNoDelay(true);
    d.schedule(flow, TCP_ACK, Date.now());
    let lastTouch = Date.now();
    const touch = () => {
      const now = Date.now();
      if (now - lastTouch >= TOUCH_EVERY_MS) {
        lastTouch = now;
        d.schedule(flow, TCP_ACK, now);
      }
    };
    if (l.proxyProtocol) {
      try {
        const hdr = encodeProxyV2({ srcAddr: ra.hostname, srcPort: ra.port, dstAddr: l.vipText, dstPort: l.port });
        let off = 0;
        while (off < hdr.length) off += await server.write(hdr.subarray(off));
      } catch (e) {
        log.warn("Cannot send PROXY header", { backend: rs.key, error: e });
        server.close();
        client.close();
        d.schedule(flow, TCP_RST, Date.now());
        return;
      }
    }
    const end = await splice(client, server, {
      idleTimeoutMs: this.#idleTimeoutMs,
      signal: this.#ac.signal,
      onIn: (n) => {
        d.account(id, 1, n, 0, 0);
        touch();
      },
      onOut: (n) => {
        d.account(id, 0, 0, 1, n);
        touch();
      },
    });
    d.schedule(flow, end === "closed" ? TCP_FIN : TCP_RST, Date.now());
  }

  /** Closes listeners and every proxied connection, and waits for them. */
  async stop(): Promise<void> {
    for (const l of this.#listeners.values()) l.listener.close();
    const loops = [...this.#listeners.values()].map((l) => l.done);
    this.#listeners.clear();
    this.#ac.abort();
    await Promise.all(loops);
    while (this.#sessions.size) await Promise.all([...this.#sessions]);
  }
}
