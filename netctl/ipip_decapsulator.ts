/**
 * The user-space IP-in-IP decapsulator for TUN real servers on kernels without the ipip module:
 * a raw protocol-4 socket feeding a TUN device, run in a Worker (see `decap_loop.ts`). The TUN
 * device needs no address; the VIP stays on `lo`, and rp_filter must be 0 on the TUN device and
 * `all` because the reply route to the client is via the real interface.
 *
 * The allowed outer sources live in shared memory ({@link DecapAllowList}): {@link
 * IpipDecapsulator.setDirectors} changes them while the Worker runs. An empty list drops every packet.
 *
 * @module
 */
import { ipv4ToInt, isIPv4 } from "../core/addr.ts";
import { runCommand } from "./ip_command.ts";
import { DECAP, DECAP_WORDS, type DecapInit } from "./decap_loop.ts";
import { DecapAllowList } from "./decap_allow_list.ts";
import { MAX_DECAP_DIRECTORS } from "./ipip_decap_program.ts";
import { DECAP_WORKER_NAME } from "./decap_worker.ts";
import { closeFd, openIpipSocket, openTunDevice } from "./tun_device.ts";

/** Counters of a running decapsulator. */
export interface DecapStats {
  packets: number;
  bytes: number;
  dropSource: number;
  dropMalformed: number;
  dropWrite: number;
}

function workerUrl(): string {
  const here = import.meta.url;
  return here.endsWith("/ipip_decapsulator.ts") ? new URL("./decap_worker.ts", here).href : here;
}

function checkDirectors(directors: readonly string[] | "any"): void {
  if (directors === "any") return;
  const bad = directors.find((a) => !isIPv4(a));
  if (bad !== undefined) throw new RangeError(`Cannot allow director "${bad}": not an IPv4 address`);
  const n = new Set(directors).size;
  if (n > MAX_DECAP_DIRECTORS) {
    throw new RangeError(`Cannot allow ${n} directors: the decapsulator holds ${MAX_DECAP_DIRECTORS}`);
  }
}

/** A running decapsulator (see module doc). */
export class IpipDecapsulator {
  /** The TUN device name. */
  readonly tunName: string;
  readonly #sab = new SharedArrayBuffer(DECAP_WORDS * 8);
  readonly #c = new Float64Array(this.#sab);
  readonly #allowed = new DecapAllowList();
  #directors: readonly string[] | "any" = [];
  #rawFd: number;
  #tunFd: number;
  #worker: Worker | undefined;
  #stopped: Promise<void>;

  private constructor(tunName: string, rawFd: number, tunFd: number, worker: Worker, stopped: Promise<void>) {
    this.tunName = tunName;
    this.#rawFd = rawFd;
    this.#tunFd = tunFd;
    this.#worker = worker;
    this.#stopped = stopped;
  }

  /**
   * Opens the raw socket and the TUN device, brings the device up and starts the Worker.
   *
   * @param opts.tunName TUN device name (default `wctun0`)
   * @param opts.directors outer source addresses accepted: a list (empty: none, until {@link setDirectors}) or
   *   `"any"` (not recommended: any host can then send packets as if from any client); default none
   * @throws {PrivilegeError} without CAP_NET_RAW/CAP_NET_ADMIN
   * @throws {RangeError} with more than 64 directors or one that is not IPv4
   */
  static async start(
    opts: { tunName?: string; directors?: readonly string[] | "any" } = {},
  ): Promise<IpipDecapsulator> {
    const tunName = opts.tunName ?? "wctun0";
    const directors = opts.directors ?? [];
    checkDirectors(directors); // before anything is opened
    const rawFd = openIpipSocket();
    let tunFd = -1;
    try {
      tunFd = openTunDevice(tunName);
      await runCommand(["ip", "link", "set", tunName, "up"]);
    } catch (e) {
      closeFd(rawFd);
      if (tunFd >= 0) closeFd(tunFd);
      throw e;
    }
    const worker = new Worker(workerUrl(), { type: "module", name: DECAP_WORKER_NAME });
    const stopped = Promise.withResolvers<void>();
    worker.onmessage = () => stopped.resolve();
    worker.onerror = (e) => {
      e.preventDefault();
      stopped.resolve();
    };
    const d = new IpipDecapsulator(tunName, rawFd, tunFd, worker, stopped.promise);
    d.setDirectors(directors);
    const init: DecapInit = { sab: d.#sab, rawFd, tunFd, allowed: d.#allowed.sab };
    worker.postMessage(init);
    const deadline = Date.now() + 5000;
    while (d.#c[DECAP.running] !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (d.#c[DECAP.running] !== 1) {
      await d.stop();
      throw new Error("Cannot start the IP-in-IP decapsulator: its Worker did not start");
    }
    return d;
  }

  /** The allowed outer sources: a sorted list, or `"any"`. */
  get directors(): readonly string[] | "any" {
    return this.#directors;
  }

  /**
   * Replaces the allowed outer sources; the Worker sees the change before its next batch.
   *
   * @param directors IPv4 addresses (empty: none), or `"any"`
   * @throws {RangeError} with more than 64 addresses or one that is not IPv4
   */
  setDirectors(directors: readonly string[] | "any"): void {
    if (directors === "any") {
      this.#allowed.set("any");
      this.#directors = "any";
      return;
    }
    checkDirectors(directors);
    this.#allowed.set(directors.map(ipv4ToInt));
    this.#directors = [...new Set(directors)].sort();
  }

  /** Counters so far. */
  stats(): DecapStats {
    const c = this.#c;
    return {
      packets: c[DECAP.packets],
      bytes: c[DECAP.bytes],
      dropSource: c[DECAP.dropSource],
      dropMalformed: c[DECAP.dropMalformed],
      dropWrite: c[DECAP.dropWrite],
    };
  }

  /** Stops the Worker and closes the socket and the device (which removes it). */
  async stop(): Promise<void> {
    const w = this.#worker;
    if (!w) return;
    this.#worker = undefined;
    this.#c[DECAP.stop] = 1;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#stopped, new Promise((r) => timer = setTimeout(r, 2000))]);
    clearTimeout(timer);
    w.terminate();
    closeFd(this.#rawFd);
    closeFd(this.#tunFd);
  }
}
