/**
 * The user-space IP-in-IP decapsulator for TUN real servers on kernels without the ipip module:
 * a raw protocol-4 socket feeding a TUN device, run in a Worker (see `decap_loop.ts`). The TUN
 * device needs no address; the VIP stays on `lo`, and rp_filter must be 0 on the TUN device and
 * `all` because the reply route to the client is via the real interface.
 *
 * @module
 */
import { ipv4ToInt } from "../core/addr.ts";
import { runCommand } from "./ip_command.ts";
import { DECAP, DECAP_WORDS, type DecapInit } from "./decap_loop.ts";
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

/** A running decapsulator (see module doc). */
export class IpipDecapsulator {
  /** The TUN device name. */
  readonly tunName: string;
  readonly #sab = new SharedArrayBuffer(DECAP_WORDS * 8);
  readonly #c = new Float64Array(this.#sab);
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
   * @param opts.directors outer source addresses accepted (empty: any, not recommended)
   * @throws {PrivilegeError} without CAP_NET_RAW/CAP_NET_ADMIN
   */
  static async start(opts: { tunName?: string; directors?: string[] } = {}): Promise<IpipDecapsulator> {
    const tunName = opts.tunName ?? "wctun0";
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
    const init: DecapInit = {
      sab: d.#sab,
      rawFd,
      tunFd,
      allowed: (opts.directors ?? []).map(ipv4ToInt),
    };
    worker.postMessage(init);
    const deadline = Date.now() + 5000;
    while (d.#c[DECAP.running] !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (d.#c[DECAP.running] !== 1) {
      await d.stop();
      throw new Error("Cannot start the IP-in-IP decapsulator: its Worker did not start");
    }
    return d;
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
