/**
 * Headless Chromium for dashboard tests: Debian's `/usr/bin/chromium` driven by playwright-core
 * (which runs under Deno through npm compatibility), with a fresh profile directory that is
 * removed on close. Tests skip the browser part with a clear message when chromium is missing.
 *
 * @module
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";

/** Where Debian installs Chromium (package `chromium`). */
export const CHROMIUM = "/usr/bin/chromium";

/** Flags that keep Chromium quiet, offline and container-friendly. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A running browser with one page and the console errors seen so far. */
export interface TestBrowser {
  page: Page;
  context: BrowserContext;
  /** Console messages of type error and uncaught page errors. */
  errors: string[];
  close(): Promise<void>;
}

/** Whether Chromium is installed. */
export async function haveChromium(): Promise<boolean> {
  try {
    await Deno.stat(CHROMIUM);
    return true;
  } catch {
    return false;
  }
}

/**
 * Launches Chromium with a fresh profile and opens one page.
 *
 * @param opts.viewport page size (default 1400x1000)
 */
export async function launchBrowser(opts: { viewport?: { width: number; height: number } } = {}): Promise<TestBrowser> {
  const profile = await Deno.makeTempDir({ prefix: "wcdm-chromium-" });
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: opts.viewport ?? { width: 1400, height: 1000 },
      timeout: 60_000,
    });
    const page = context.pages()[0] ?? await context.newPage();
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    const ctx = context;
    return {
      page,
      context: ctx,
      errors,
      close: async () => {
        await ctx.close();
        await Deno.remove(profile, { recursive: true });
      },
    };
  } catch (e) {
    await context?.close().catch(() => {});
    await Deno.remove(profile, { recursive: true });
    throw e;
  }
}
