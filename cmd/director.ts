/**
 * `webcache director`: the layer-4 load balancer role, and its operator subcommands.
 *
 * ```text
 * webcache director [--config appliance.yaml] [--service VIP:PORT --scheduler NAME [--persistence S]
 *                   [--netmask N] [--method proxy|dr|tun] [--listen ADDR] [--proxy-protocol]
 *                   [--health http|tcp|none] --real HOST:PORT[:WEIGHT] ...] [--interface IF] [--state-file PATH]
 *                   [--fast-path auto|off] [--ha-priority N]
 * webcache director status [--stats|--rate|--connections] [--json] [--exact] [--admin ADDR:PORT]
 * webcache director drain SERVER [--undo] [--wait SECONDS] [--admin ADDR:PORT]
 * webcache director route CLIENT_IP:PORT VIP:PORT [--config FILE] [--admin ADDR:PORT]
 * ```
 *
 * SIGHUP reloads appliance.yaml (services, servers, weights, health, timeouts) in place; so does a
 * newer config adopted from a peer with `cluster.configSync` (other changed keys are logged and
 * shown as `cluster.restartNeeded` in `/status`).
 *
 * @module
 */
import { Command, Option } from "commander";
import { AdminServer } from "../admin/server.ts";
import { type Appliance, ConfigError, type ConfigOverride, loadConfig, validateConfig } from "../config/mod.ts";
import { SCHEDULERS } from "../config/director_schema.ts";
import { parseHostPort } from "../core/addr.ts";
import { getLogger, printErr, printOut } from "../core/log.ts";
import { buildInfo } from "../core/metrics.ts";
import { VERSION } from "../core/version.ts";
import { registerDirectorRoutes } from "../lb/admin_routes.ts";
import { registerDashboard } from "../admin/dashboard.ts";
import "../lb/dataplane/mod.ts"; // registers the dr and tun forwarders (AF_PACKET data plane)
import { Director, type DirectorStatus } from "../lb/director.ts";
import { bindDirectorMetrics } from "../lb/metrics.ts";
import type { HaNode } from "../lb/ha/ha_node.ts";
import { formatStatus } from "../lb/status_format.ts";
import { HaConfigError, startDirectorHa } from "./_ha.ts";
import {
  addSharedOptions,
  EXIT_CONFIG,
  loadOrExit,
  numericFlag,
  type SharedOptions,
  sharedOverrides,
} from "./_common.ts";
import {
  addClusterOptions,
  type ClusterOptions,
  clusterOverrides,
  directorTunnelSource,
  startRoleMembership,
} from "./_cluster.ts";

const log = getLogger("lb.director");

/** Options of the `director` command as commander parses them. */
export interface RunOptions extends SharedOptions, ClusterOptions {
  /** `--service VIP:PORT`. */
  service?: string;
  /** `--scheduler NAME`. */
  scheduler?: string;
  /** `--persistence SECONDS`. */
  persistence?: string;
  /** `--netmask BITS`. */
  netmask?: string;
  /** `--method`. */
  method?: "proxy" | "dr" | "tun";
  /** `--listen ADDR`. */
  listen?: string;
  /** `--proxy-protocol`. */
  proxyProtocol?: boolean;
  /** `--health TYPE`. */
  health?: "http" | "tcp" | "none";
  /** `--real HOST:PORT[:WEIGHT]`, repeated. */
  real: string[];
  interface?: string;
  vipMode?: "arp" | "nft";
  fastPath?: "auto" | "off";
  /** `--state-file PATH`. */
  stateFile?: string;
  /** `--ha-priority N`. */
  haPriority?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** Parses `HOST:PORT[:WEIGHT]`. */
export function parseRealFlag(s: string): { address: string; port: number; weight?: number } {
  const m = /^(.*):(\d+)$/.exec(s);
  let text = s;
  let weight: number | undefined;
  if (m && /:\d+$/.test(m[1]) && !m[1].startsWith("[")) {
    text = m[1];
    weight = Number(m[2]);
  }
  const hp = parseHostPort(text);
  return { address: hp.host, port: hp.port, weight };
}

/** Turns the single-service flags into config overrides. */
export function directorOverrides(o: RunOptions): ConfigOverride[] {
  const out = sharedOverrides(o);
  if (o.interface !== undefined) out.push({ path: ["director", "interface"], value: o.interface, flag: "--interface" });
  if (o.vipMode !== undefined) out.push({ path: ["director", "vipMode"], value: o.vipMode, flag: "--vip-mode" });
  if (o.fastPath !== undefined) {
    out.push({ path: ["director", "fastPath"], value: o.fastPath, flag: "--fast-path" });
  }
  if (o.stateFile !== undefined) {
    out.push({ path: ["director", "stateFile"], value: o.stateFile, flag: "--state-file" });
  }
  if (o.haPriority !== undefined) {
    out.push({ path: ["director", "ha", "priority"], value: Number(o.haPriority), flag: "--ha-priority" });
  }
  if (o.service === undefined) {
    const stray = ["scheduler", "persistence", "netmask", "method", "listen", "health"].filter((k) =>
      (o as unknown as Record<string, unknown>)[k] !== undefined
    );
    if (stray.length || o.real.length) {
      throw new ConfigError([{
        source: "command line",
        path: "--service",
        message: `--${stray[0] ?? "real"} needs --service VIP:PORT`,
      }]);
    }
    return out;
  }
  const vip = parseHostPort(o.service);
  const svc: Record<string, unknown> = {
    vip: vip.host,
    port: vip.port,
    reals: o.real.map((r) => {
      try {
        const x = parseRealFlag(r);
        return x.weight === undefined ? { address: x.address, port: x.port } : x;
      } catch (e) {
        throw new ConfigError([{ source: "--real", path: "--real", value: r, message: (e as Error).message }]);
      }
    }),
  };
  if (o.scheduler) svc.scheduler = o.scheduler;
  if (o.method) svc.method = o.method;
  if (o.listen) svc.listen = o.listen;
  if (o.proxyProtocol) svc.proxyProtocol = true;
  if (o.health) svc.health = { type: o.health };
  if (o.persistence !== undefined || o.netmask !== undefined) {
    svc.persistence = {
      timeoutS: o.persistence === undefined ? 300 : numericFlag(o.persistence),
      ...(o.netmask === undefined ? {} : { netmask: numericFlag(o.netmask) }),
    };
  }
  out.push({ path: ["director", "services"], value: [svc], flag: "--service" });
  return out;
}

/**
 * Reloads the director's services, servers, weights, health checks and timeouts in place from
 * `next()` (SIGHUP and `cluster.configSync` both come here); on any error it logs and keeps the
 * running configuration. Established connections stay on their servers.
 */
export async function reloadDirector(
  director: Director,
  source: string,
  next: () => Promise<Appliance>,
): Promise<void> {
  try {
    const cfg = await next();
    await director.reload(cfg.director);
    log.info("Configuration reloaded", { from: source });
  } catch (e) {
    log.error("Reload failed, keeping the running configuration", { from: source, error: (e as Error).message });
  }
}

function tunnelAddr(iface: string | undefined): { tunnel?: string } {
  const tunnel = directorTunnelSource(iface);
  return tunnel ? { tunnel } : {};
}

async function runDirector(o: RunOptions): Promise<void> {
  let overrides: ConfigOverride[];
  try {
    overrides = [...directorOverrides(o), ...clusterOverrides(o)];
  } catch (e) {
    if (e instanceof ConfigError || e instanceof SyntaxError || e instanceof RangeError) {
      printErr((e as Error).message);
      Deno.exit(EXIT_CONFIG);
    }
    throw e;
  }
  const cfg = await loadOrExit(o.config, overrides);
  if (cfg.director.services.length === 0) {
    printErr("No virtual service: give --service VIP:PORT --real HOST:PORT ... or director.services in --config");
    Deno.exit(EXIT_CONFIG);
  }
  const director = new Director(cfg.director);
  bindDirectorMetrics(() => director);
  buildInfo.set({ version: VERSION, role: "director" }, 1);
  const adminAddr = parseHostPort(cfg.admin.listen);
  const admin = new AdminServer({
    hostname: adminAddr.host,
    port: adminAddr.port,
    allow: cfg.admin.allow,
    token: cfg.admin.token,
    hosts: cfg.admin.hosts,
    node: cfg.cluster.nodeName ?? Deno.hostname(),
    role: "director",
  });
  registerDirectorRoutes(admin, () => director);
  registerDashboard(admin, { node: cfg.cluster.nodeName ?? Deno.hostname(), token: cfg.admin.token });
  try {
    await director.start();
    admin.start();
  } catch (e) {
    printErr(`Cannot start director: ${(e as Error).message}`);
    await director.stop();
    await admin.stop();
    Deno.exit(1);
  }
  // One reload path for SIGHUP and cluster.configSync, one reload at a time.
  let reloading = Promise.resolve();
  const reload = (source: string, next: () => Promise<Appliance>): Promise<void> => {
    const run = reloading.then(() => reloadDirector(director, source, next));
    reloading = run;
    return run;
  };
  // Cluster membership: live caches of a `fromMembership` service become its real servers.
  const membership = await startRoleMembership(cfg, o, {
    role: "director",
    // addrs.tunnel: the IP-in-IP outer source, so TUN caches with --peers accept this director.
    record: { addrs: { admin: cfg.admin.listen, ...tunnelAddr(cfg.director.interface) } },
    admin,
    reload: {
      handles: (path) => path.startsWith("director."),
      // Before the synced config is adopted: the command-line overrides still win, and a config
      // this director cannot run (say a dr service without director.interface) throws, which
      // refuses it. Queued behind SIGHUP reloads.
      apply: (synced) => {
        const run = reloading.then(() => director.reload(validateConfig(synced, { overrides }).director));
        reloading = run.catch(() => {});
        return run;
      },
    },
  });
  if (membership) {
    director.setMembers(membership.members());
    membership.onChange((members) => director.setMembers(members));
  }
  let ha: HaNode | undefined;
  try {
    ha = await startDirectorHa(cfg, director, membership, o.clusterKeyFile);
  } catch (e) {
    printErr(`Cannot start director HA: ${(e as Error).message}`);
    await membership?.stop();
    await director.stop();
    await admin.stop();
    Deno.exit(e instanceof HaConfigError ? EXIT_CONFIG : 1);
  }
  const onHup = () => {
    if (!o.config) {
      log.warn("SIGHUP ignored: no --config file to reload");
      return;
    }
    const file = o.config;
    void reload("SIGHUP", () => loadConfig(file, overrides));
  };
  Deno.addSignalListener("SIGHUP", onHup);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  log.info("Director stopping");
  // First: a MASTER releases its VIP group, so a BACKUP takes over at once (it forwards until then).
  await ha?.stop();
  await membership?.leave();
  await membership?.stop();
  await reloading;
  await director.stop();
  await admin.stop();
  Deno.exit(0);
}

interface AdminClientOptions {
  admin?: string;
  config?: string;
}

async function adminTarget(o: AdminClientOptions): Promise<{ base: string; headers: HeadersInit }> {
  let cfg: Appliance | undefined;
  if (o.config) cfg = await loadOrExit(o.config, []);
  const addr = o.admin ?? cfg?.admin.listen ?? "127.0.0.1:9090";
  const hp = parseHostPort(addr);
  const host = hp.host === "0.0.0.0" ? "127.0.0.1" : hp.host.includes(":") ? `[${hp.host}]` : hp.host;
  const token = Deno.env.get("WEBCACHE_ADMIN_TOKEN") ?? cfg?.admin.token;
  return { base: `http://${host}:${hp.port}`, headers: token ? { authorization: `Bearer ${token}` } : {} };
}

async function adminFetch(o: AdminClientOptions, path: string, init: RequestInit = {}): Promise<Response> {
  const t = await adminTarget(o);
  try {
    // A state-changing request carries a JSON body: the admin endpoint refuses other content types
    // without the token (a browser could send them cross-site).
    const json = init.method !== undefined && init.method !== "GET" && init.method !== "HEAD";
    const headers = json ? { ...t.headers, "content-type": "application/json" } : t.headers;
    return await fetch(t.base + path, { ...init, headers, ...(json && init.body === undefined ? { body: "{}" } : {}) });
  } catch (e) {
    throw new Error(`Cannot reach the director's admin endpoint at ${t.base}: ${(e as Error).message}`, { cause: e });
  }
}

async function fetchJson<T>(o: AdminClientOptions, path: string, init?: RequestInit): Promise<T> {
  const res = await adminFetch(o, path, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}: ${text.trim()}`);
  return JSON.parse(text) as T;
}

function failed(e: unknown): never {
  printErr((e as Error).message);
  Deno.exit(1);
}

function statusCommand(): Command {
  return new Command("status")
    .description("print the virtual server table like ipvsadm -Ln, read from the running director")
    .option("--stats", "counters: connections, packets and bytes in and out (ipvsadm --stats)")
    .option("--rate", "rates per second, 2-second samples smoothed as IPVS does (ipvsadm --rate)")
    .option("--connections", "the connection table (ipvsadm -Lnc), first 1000 entries")
    .option("--exact", "print counters in full, without K/M/G")
    .option("--json", "print JSON")
    .option("--admin <addr:port>", "admin endpoint of the director (default from --config, else 127.0.0.1:9090)")
    .option("-c, --config <file>", "appliance.yaml to read admin.listen and admin.token from")
    .action(
      async (_o: unknown, cmd: Command) => {
        // optsWithGlobals: `director --admin X status` and `director status --admin X` both work.
        const o = cmd.optsWithGlobals<
          AdminClientOptions & {
            stats?: boolean;
            rate?: boolean;
            json?: boolean;
            exact?: boolean;
            connections?: boolean;
          }
        >();
        try {
          if (o.connections) {
            const list = await fetchJson<
              { client: string; vip: string; server: string; state: string; expiresInS: number }[]
            >(
              o,
              "/director/connections",
            );
            if (o.json) return printOut(JSON.stringify(list, null, 2));
            printOut("Pro expire state       source                  virtual                 destination");
            for (const c of list) {
              const exp = `${String(Math.floor(c.expiresInS / 60)).padStart(2, "0")}:${
                String(c.expiresInS % 60).padStart(2, "0")
              }`;
              printOut(`TCP ${exp}  ${c.state.padEnd(11)} ${c.client.padEnd(23)} ${c.vip.padEnd(23)} ${c.server}`);
            }
            return;
          }
          const st = await fetchJson<DirectorStatus>(o, "/director/status");
          if (o.json) printOut(JSON.stringify(st, null, 2));
          else printOut(formatStatus(st, o.stats ? "stats" : o.rate ? "rate" : "list", o.exact));
        } catch (e) {
          failed(e);
        }
      },
    );
}

function drainCommand(): Command {
  return new Command("drain")
    .description("set a real server's weight to 0 (no new connections) and report its connections counting down")
    .argument("<server>", "real server ADDR:PORT or ADDR (every service it is in)")
    .option("--undo", "restore the configured weight")
    .option("--wait <seconds>", "poll until its active connections reach 0, at most this long", "0")
    .option("--admin <addr:port>", "admin endpoint of the director (default from --config, else 127.0.0.1:9090)")
    .option("-c, --config <file>", "appliance.yaml to read admin.listen and admin.token from")
    .action(async (server: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<AdminClientOptions & { undo?: boolean; wait: string }>();
      try {
        const q = `/director/drain?server=${encodeURIComponent(server)}${o.undo ? "&undo=1" : ""}`;
        type S = { key: string; weight: number; activeConns: number; inactConns: number };
        const list = await fetchJson<S[]>(o, q, { method: "POST" });
        const line = (s: S) => `${s.key}: weight ${s.weight}, active ${s.activeConns}, inactive ${s.inactConns}`;
        for (const s of list) printOut(`${o.undo ? "undrained" : "drained"} ${line(s)}`);
        const deadline = Date.now() + Number(o.wait) * 1000;
        let remaining = list.reduce((a, s) => a + s.activeConns, 0);
        while (!o.undo && remaining > 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 1000));
          const st = await fetchJson<DirectorStatus>(o, "/director/status");
          const now = st.services.flatMap((v) => v.servers).filter((s) => list.some((x) => x.key === s.key));
          remaining = now.reduce((a, s) => a + s.activeConns, 0);
          for (const s of now) printOut(line(s));
        }
        if (Number(o.wait) > 0 && remaining > 0) {
          printErr(`${remaining} active connection(s) left after ${o.wait} s`);
          Deno.exit(1);
        }
      } catch (e) {
        failed(e);
      }
    });
}

function routeCommand(): Command {
  return new Command("route")
    .description("say which real server a flow would get and why (live from the director, else from --config)")
    .argument("<client>", "client IP:PORT")
    .argument("<vip>", "virtual service VIP:PORT")
    .option("--json", "print JSON")
    .option("--offline", "compute from --config (every server up, no connections) without asking the director")
    .option("--admin <addr:port>", "admin endpoint of the director (default from --config, else 127.0.0.1:9090)")
    .option("-c, --config <file>", "appliance.yaml")
    .action(async (client: string, vip: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<AdminClientOptions & { json?: boolean; offline?: boolean }>();
      type R = { service?: string; server?: string; reason: string; detail: string; state?: string; method?: string };
      let r: R;
      let source = "live";
      try {
        if (o.offline) throw new Error("offline");
        r = await fetchJson<R>(
          o,
          `/director/route?client=${encodeURIComponent(client)}&vip=${encodeURIComponent(vip)}`,
        );
      } catch (e) {
        if (!o.config) failed(o.offline ? new Error("--offline needs --config FILE") : e);
        const cfg = await loadOrExit(o.config, []);
        const d = new Director(cfg.director);
        d.dispatcher.configure(cfg.director.services);
        try {
          r = d.route(client, vip);
        } catch (err) {
          failed(err);
        }
        source = `offline from ${o.config}: every server up, no connections`;
      }
      if (o.json) return printOut(JSON.stringify({ ...r, source }, null, 2));
      printOut(`${client} -> ${vip}: ${r.server ? `${r.server} (${r.method})` : "no server"}`);
      printOut(`  reason: ${r.reason}: ${r.detail}`);
      if (r.state) printOut(`  state after a SYN: ${r.state}`);
      printOut(`  (${source})`);
      if (!r.server) Deno.exit(1);
    });
}

/** Builds the `director` command with its subcommands. */
export function directorCommand(): Command {
  const cmd = new Command("director")
    .description("run the layer-4 load balancer (LVS-style virtual services, schedulers, health checks)")
    .option("--service <vip:port>", "one virtual service from flags (instead of director.services)")
    .addOption(new Option("--scheduler <name>", "scheduler").choices([...SCHEDULERS]))
    .option("--persistence <seconds>", "persistence timeout (ipvsadm -p)")
    .option("--netmask <bits>", "persistence netmask as a prefix length (ipvsadm -M), default 32")
    .addOption(new Option("--method <method>", "forwarding method").choices(["proxy", "dr", "tun"]))
    .option("--listen <addr>", "proxy method: accept on this local address instead of the VIP")
    .option("--proxy-protocol", "proxy method: send a PROXY v2 header to the real servers")
    .addOption(new Option("--health <type>", "health check type").choices(["http", "tcp", "none"]))
    .option("--real <host:port[:weight]>", "a real server (repeatable)", collect, [] as string[])
    .option("--interface <ifname>", "dr/tun: interface the VIP traffic arrives on (director.interface)")
    .addOption(
      new Option(
        "--fast-path <mode>",
        "dr/tun: forward established flows in the kernel (eBPF at tcx ingress) when it accepts, or never (director.fastPath)",
      ).choices(["auto", "off"]),
    )
    .addOption(
      new Option("--vip-mode <mode>", "dr/tun: own the VIP by user-space ARP or VIP + nftables drop").choices([
        "arp",
        "nft",
      ]),
    )
    .option(
      "--state-file <path>",
      "dr/tun: save the connection table here and restore it at start, so flows survive restarts (director.stateFile)",
    )
    .option(
      "--ha-priority <n>",
      "director HA: this director's election priority 1-254 (director.ha.priority; per node, so one shared config serves all)",
    );
  addSharedOptions(cmd);
  addClusterOptions(cmd);
  cmd.action((o: RunOptions) => runDirector(o));
  cmd.addCommand(statusCommand());
  cmd.addCommand(drainCommand());
  cmd.addCommand(routeCommand());
  for (const c of cmd.commands) c.exitOverride();
  return cmd;
}
