/**
 * Kernel parameters under /proc/sys, set with their previous values remembered so they can be
 * restored on exit ({@link SysctlGuard}). Names use sysctl's dotted form
 * (`net.ipv4.conf.all.arp_ignore`); they are per network namespace.
 *
 * @module
 */

/** Path of a dotted sysctl name. Interface names may contain dots, so only the first parts split. */
export function sysctlPath(name: string): string {
  const m = /^net\.ipv4\.conf\.([^/]+)\.([a-z_]+)$/.exec(name);
  if (m) return `/proc/sys/net/ipv4/conf/${m[1]}/${m[2]}`;
  if (!/^[a-z0-9_.]+$/.test(name)) throw new RangeError(`Cannot use sysctl name "${name}"`);
  return `/proc/sys/${name.replaceAll(".", "/")}`;
}

/**
 * Reads a sysctl.
 *
 * @param name dotted name
 * @returns the trimmed value, or undefined when it does not exist
 */
export function readSysctl(name: string): string | undefined {
  try {
    return Deno.readTextFileSync(sysctlPath(name)).trim();
  } catch {
    return undefined;
  }
}

/**
 * Writes a sysctl.
 *
 * @param name dotted name
 * @param value new value
 * @throws {Deno.errors.PermissionDenied} without CAP_NET_ADMIN / root
 * @throws {Deno.errors.NotFound} when it does not exist
 */
export function writeSysctl(name: string, value: string): void {
  try {
    Deno.writeTextFileSync(sysctlPath(name), value);
  } catch (e) {
    const Ctor = (e as Error).constructor as new (m: string, o?: ErrorOptions) => Error;
    throw new Ctor(`Cannot set sysctl ${name}=${value}: ${(e as Error).message}`, { cause: e });
  }
}

/** Sets sysctls and restores their original values on {@link restore}, in reverse order. */
export class SysctlGuard {
  #saved: [string, string][] = [];

  /**
   * Sets `name` to `value`, remembering the value it had (only the first time per name).
   *
   * @returns whether the value changed
   */
  set(name: string, value: string): boolean {
    const old = readSysctl(name);
    if (old === undefined) throw new Deno.errors.NotFound(`Cannot set sysctl ${name}: it does not exist`);
    if (old === value) return false;
    writeSysctl(name, value);
    if (!this.#saved.some(([n]) => n === name)) this.#saved.push([name, old]);
    return true;
  }

  /** The settings changed so far, with their original values. */
  get changed(): readonly [string, string][] {
    return this.#saved;
  }

  /** Restores every changed sysctl (errors are collected, not thrown midway). */
  restore(): Error[] {
    const errors: Error[] = [];
    for (const [name, value] of this.#saved.reverse()) {
      try {
        writeSysctl(name, value);
      } catch (e) {
        errors.push(e as Error);
      }
    }
    this.#saved = [];
    return errors;
  }
}
