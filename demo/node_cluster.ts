/**
 * What the two demo cluster builders (loopback processes, network namespaces) share once their
 * nodes run: the node list, members for the status aggregator, the in-process origin's counters,
 * the failure report (the end of every node's log) and an orderly stop (directors first, so no
 * new connections arrive, then the caches and the origin, then whatever the builder made).
 *
 * @module
 */
import type { MemberRef } from "../status/members.ts";
import { memberRefsFromAddresses } from "../status/members.ts";
import type { DemoCluster, DemoNode } from "./demo_cluster.ts";
import type { LoadOptions, LoadReport } from "./load.ts";
import type { DemoOrigin, OriginStats } from "./origin.ts";
import type { DemoMode } from "./summary.ts";

/** The running part of a demo cluster; subclasses build it and say how the load reaches the VIP. */
export abstract class NodeCluster implements DemoCluster {
  /** How it forwards and where it runs. */
  readonly mode: DemoMode;
  readonly vip: { hostname: string; port: number };
  readonly originUrl: string;
  /** Every node, the director first. */
  readonly nodes: DemoNode[] = [];
  readonly workDir: string;
  /** The origin, running in this process. */
  protected readonly origin: DemoOrigin;
  #stopped = false;

  /**
   * @param mode what to report as the mode
   * @param workDir folder of configs and logs (removed by {@link stop})
   * @param origin the started origin
   * @param originHost the origin's address as the caches reach it
   * @param vip the address clients use
   */
  protected constructor(
    mode: DemoMode,
    workDir: string,
    origin: DemoOrigin,
    originHost: string,
    vip: { hostname: string; port: number },
  ) {
    this.mode = mode;
    this.workDir = workDir;
    this.origin = origin;
    this.originUrl = `http://${originHost}:${origin.addr.port}`;
    this.vip = vip;
  }

  /** Runs the client load against the VIP. */
  abstract runLoad(opts: Omit<LoadOptions, "target">): Promise<LoadReport>;

  /** Removes what the builder made besides processes, origin and folder (a network, say). */
  protected cleanup(): Promise<void> {
    return Promise.resolve();
  }

  /** Members for the status aggregator: every node by admin address. */
  members(): MemberRef[] {
    return memberRefsFromAddresses(this.nodes.map((n) => n.admin)).map((r, i) => ({
      ...r,
      id: this.nodes[i].name,
      name: this.nodes[i].name,
      role: this.nodes[i].role,
      state: this.nodes[i].proc.exited ? "dead" : "alive",
      http: this.nodes[i].http,
    }));
  }

  /** The origin's counters (in-process). */
  originStats(): Promise<OriginStats> {
    return Promise.resolve(this.origin.stats());
  }

  /**
   * Stops everything after a failed start and says why: the error with the end of every node's log.
   *
   * @param e what went wrong
   * @returns the error to throw
   */
  async failed(e: unknown): Promise<Error> {
    const tails = await Promise.all(
      this.nodes.map(async (n) => `--- ${n.name} (${n.proc.logFile}):\n${await n.proc.tail(8)}`),
    );
    await this.stop();
    return new Error(`${(e as Error).message}\n${tails.join("\n")}`, { cause: e });
  }

  /** Stops the directors first (no new connections), then the caches and the origin; removes everything. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(this.nodes.filter((n) => n.role === "director").map((n) => n.proc.stop()));
    await Promise.all(this.nodes.filter((n) => n.role !== "director").map((n) => n.proc.stop()));
    await this.origin.stop();
    await this.cleanup();
    await Deno.remove(this.workDir, { recursive: true }).catch(() => {});
  }
}
