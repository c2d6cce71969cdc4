/**
 * Checks for the capabilities raw-packet forwarding needs, so DR/TUN fail at start with a
 * message that says what is missing and that the `proxy` method needs none.
 *
 * @module
 */

/** CAP_NET_ADMIN bit number (linux/capability.h). */
export const CAP_NET_ADMIN = 12;
/** CAP_NET_RAW bit number. */
export const CAP_NET_RAW = 13;

/** A start-up failure caused by missing privileges. */
export class PrivilegeError extends Error {
  /** Names of the missing capabilities, e.g. `["CAP_NET_RAW"]`. */
  readonly missing: string[];
  /**
   * @param message what could not be done
   * @param missing the missing capabilities
   * @param options the underlying error as `cause`
   */
  constructor(message: string, missing: string[], options?: ErrorOptions) {
    super(message, options);
    this.name = "PrivilegeError";
    this.missing = missing;
  }
}

/**
 * Parses the effective capability mask from `/proc/self/status` text.
 *
 * @param statusText the file's content
 * @returns the CapEff bits, or undefined when the line is missing
 */
export function parseCapEff(statusText: string): bigint | undefined {
  const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(statusText);
  return m ? BigInt("0x" + m[1]) : undefined;
}

/**
 * Lists which of CAP_NET_RAW and CAP_NET_ADMIN this process lacks.
 *
 * @param statusText `/proc/self/status` content (read when omitted)
 * @returns missing capability names (empty when both are present or the mask cannot be read)
 */
export function missingNetCapabilities(statusText?: string): string[] {
  let text = statusText;
  if (text === undefined) {
    try {
      text = Deno.readTextFileSync("/proc/self/status");
    } catch {
      return [];
    }
  }
  const eff = parseCapEff(text);
  if (eff === undefined) return [];
  const out: string[] = [];
  if (!(eff & (1n << BigInt(CAP_NET_RAW)))) out.push("CAP_NET_RAW");
  if (!(eff & (1n << BigInt(CAP_NET_ADMIN)))) out.push("CAP_NET_ADMIN");
  return out;
}

/**
 * The operator-facing explanation for a DR/TUN start without privileges.
 *
 * @param what what was attempted, e.g. `Cannot start DR forwarding on "eth0"`
 * @param missing missing capabilities
 */
export function privilegeMessage(what: string, missing: string[]): string {
  const caps = missing.length ? missing.join(" and ") : "CAP_NET_RAW and CAP_NET_ADMIN";
  return `${what}: missing ${caps}. DR and TUN forwarding open raw packet sockets (CAP_NET_RAW) and change ` +
    "interfaces, sysctls and nftables (CAP_NET_ADMIN): run the director as root or grant both capabilities " +
    "(e.g. setcap cap_net_raw,cap_net_admin+ep on the deno binary). --method proxy works unprivileged.";
}

/**
 * Throws a {@link PrivilegeError} when CAP_NET_RAW or CAP_NET_ADMIN is missing.
 *
 * @param what what is being started
 * @throws {PrivilegeError}
 */
export function requireNetCapabilities(what: string): void {
  const missing = missingNetCapabilities();
  if (missing.length) throw new PrivilegeError(privilegeMessage(what, missing), missing);
}
