/**
 * Loading `appliance.yaml`: YAML text → command-line overrides → zod validation → a frozen
 * {@link Appliance}. Every error names the file (or flag), the key path and the bad value:
 *
 * ```
 * appliance.yaml: director.services[0].scheduler: "rrr" is not one of rr, wrr, lc, wlc, ...
 * ```
 *
 * @module
 */
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { type Appliance, ApplianceSchema } from "./schema.ts";
import { MAX_TIMER_MS, MAX_TIMER_S } from "./_types.ts";

/** One problem found in a configuration. */
export interface ConfigProblem {
  /** Where the value came from: a file name or a command-line flag. */
  source: string;
  /** Key path such as `director.services[0].scheduler`; empty for the whole document. */
  path: string;
  /** The offending value, if there was one. */
  value?: unknown;
  /** What is wrong, in words. */
  message: string;
}

/** Raised when a configuration cannot be used; `problems` lists every finding. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[], options?: ErrorOptions) {
    super(problems.map(formatProblem).join("\n"), options);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** A value set from the command line, applied on top of the file. */
export interface ConfigOverride {
  /** Key path, e.g. `["admin", "listen"]`. */
  path: (string | number)[];
  value: unknown;
  /** The flag that set it, named in errors, e.g. `--admin`. */
  flag: string;
}

/** Formats one problem as `source: path: message`. */
export function formatProblem(p: ConfigProblem): string {
  return p.path ? `${p.source}: ${p.path}: ${p.message}` : `${p.source}: ${p.message}`;
}

/** Formats a key path: `["a", 0, "b"]` → `a[0].b`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/** Formats a value for a message: strings quoted, objects as JSON. */
export function formatValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === undefined) return "nothing";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function getAt(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur = obj;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

function setAt(obj: Record<string, unknown>, path: readonly (string | number)[], value: unknown): void {
  let cur: Record<string | number, unknown> = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i];
    const next = cur[seg];
    if (next === null || typeof next !== "object") {
      cur[seg] = typeof path[i + 1] === "number" ? [] : {};
    }
    cur = cur[seg] as Record<string | number, unknown>;
  }
  cur[path[path.length - 1]] = value;
}

function describeType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `a ${typeof v}`;
}

function closest(word: string, options: string[]): string | undefined {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      }
    }
    return d[a.length][b.length];
  };
  let best: string | undefined;
  let bestD = 3;
  for (const o of options) {
    const d = dist(word.toLowerCase(), o.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = o;
    }
  }
  return best;
}

function knownKeys(path: readonly PropertyKey[]): string[] {
  // Walk the schema shape along the path to list the keys allowed at that place.
  // deno-lint-ignore no-explicit-any
  let node: any = ApplianceSchema;
  for (const seg of path) {
    node = unwrap(node);
    if (typeof seg === "number") node = node?.def?.element;
    else node = node?.def?.shape?.[seg as string];
  }
  node = unwrap(node);
  return node?.def?.shape ? Object.keys(node.def.shape) : [];
}

// deno-lint-ignore no-explicit-any
function unwrap(node: any): any {
  let n = node;
  for (let i = 0; i < 10 && n; i++) {
    const t = n.def?.type;
    if (t === "default" || t === "prefault" || t === "optional" || t === "nullable") n = n.def.innerType;
    else if (t === "pipe") n = n.def.in;
    else break;
  }
  return n;
}

function issueToProblems(issue: z.core.$ZodIssue, input: unknown, source: (path: string) => string): ConfigProblem[] {
  const path = issue.path as PropertyKey[];
  const value = getAt(input, path);
  const at = formatPath(path);
  const problem = (message: string, p = at, v: unknown = value): ConfigProblem => ({
    source: source(p),
    path: p,
    value: v,
    message,
  });
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((k) => {
        const hint = closest(k, knownKeys(path));
        return problem(`unknown key${hint ? ` (did you mean "${hint}"?)` : ""}`, formatPath([...path, k]), undefined);
      });
    case "invalid_value":
      return [problem(`${formatValue(value)} is not one of ${issue.values.map((v) => String(v)).join(", ")}`)];
    case "invalid_type":
      if (value === undefined) return [problem("is required")];
      return [problem(`${formatValue(value)} is ${describeType(value)}, expected ${issue.expected}`)];
    case "too_big":
      if (issue.origin === "string") {
        return [problem(`${formatValue(value)} is longer than ${issue.maximum} characters`)];
      }
      if (issue.origin === "array") return [problem(`has more than ${issue.maximum} entries`)];
      if (issue.maximum === MAX_TIMER_MS) {
        return [
          problem(`${formatValue(value)} ms is above ${MAX_TIMER_MS} (2^31-1 ms, about 24.8 days), the longest timer`),
        ];
      }
      if (issue.maximum === MAX_TIMER_S) {
        return [
          problem(`${formatValue(value)} s is above ${MAX_TIMER_S} (2^31-1 ms, about 24.8 days), the longest timer`),
        ];
      }
      return [problem(`${formatValue(value)} is above the maximum ${issue.maximum}`)];
    case "too_small":
      if (issue.origin === "string") {
        return [problem(`${formatValue(value)} is shorter than ${issue.minimum} characters`)];
      }
      if (issue.origin === "array") return [problem(`has fewer than ${issue.minimum} entries`)];
      return [problem(`${formatValue(value)} is below the minimum ${issue.minimum}`)];
    case "invalid_format":
      return [
        problem(`${formatValue(value)} is not in the expected format${"pattern" in issue ? ` ${issue.pattern}` : ""}`),
      ];
    case "not_multiple_of":
      if (issue.divisor === 1) return [problem(`${formatValue(value)} is not a whole number`)];
      return [problem(`${formatValue(value)} is not a multiple of ${issue.divisor}`)];
    case "invalid_union": {
      // Report the most specific branch's findings when one branch got further than type checks.
      const branches = issue.errors.filter((b) => b.some((e) => e.code !== "invalid_type"));
      if (branches.length === 1) {
        return branches[0].flatMap((e) =>
          issueToProblems({ ...e, path: [...path, ...e.path] } as z.core.$ZodIssue, input, source)
        );
      }
      return [problem(`${formatValue(value)} is not valid here`)];
    }
    case "custom":
      // Custom checks (config/_types.ts and the section refinements) write complete messages.
      return [problem(issue.message)];
    default:
      return [problem(`${formatValue(value)}: ${issue.message}`)];
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/**
 * Validates an already parsed document with overrides applied.
 *
 * @param raw the parsed YAML (a mapping, or null/undefined for an empty file)
 * @param opts.source file name used in messages
 * @param opts.overrides command-line values applied on top
 * @returns the frozen configuration
 * @throws {ConfigError} naming each bad key and value
 */
export function validateConfig(
  raw: unknown,
  opts: { source?: string; overrides?: ConfigOverride[] } = {},
): Appliance {
  const sourceName = opts.source ?? "appliance.yaml";
  if (raw !== null && raw !== undefined && (typeof raw !== "object" || Array.isArray(raw))) {
    throw new ConfigError([{ source: sourceName, path: "", value: raw, message: "the document is not a mapping" }]);
  }
  const doc: Record<string, unknown> = structuredClone((raw as Record<string, unknown>) ?? {});
  const flagAt = new Map<string, string>();
  for (const o of opts.overrides ?? []) {
    setAt(doc, o.path, o.value);
    flagAt.set(formatPath(o.path), o.flag);
  }
  const source = (path: string) => {
    for (const [p, flag] of flagAt) if (path === p || path.startsWith(p + ".") || path.startsWith(p + "[")) return flag;
    return sourceName;
  };
  const result = ApplianceSchema.safeParse(doc);
  if (!result.success) {
    throw new ConfigError(result.error.issues.flatMap((i) => issueToProblems(i, doc, source)));
  }
  return deepFreeze(result.data);
}

/**
 * Parses YAML text into a plain value.
 *
 * @throws {ConfigError} on YAML syntax errors, with line and column
 */
export function parseYaml(text: string, source: string): unknown {
  const lineCounter = new LineCounter();
  try {
    const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
    if (doc.errors.length > 0) {
      // The first syntax error, as YAML tools report it (later ones are often its echoes).
      const e = doc.errors[0];
      const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
      const where = pos ? `line ${pos.line}, column ${pos.col}: ` : "";
      const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more)` : "";
      throw new ConfigError([{
        source,
        path: "",
        message: `invalid YAML: ${where}${e.message.split("\n")[0]}${more}`,
      }]);
    }
    // Aliases may expand to at most MAX_YAML_ALIAS_COUNT nodes (billion laughs: 9 aliases nested 9 deep).
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const msg = (e as Error).message ?? String(e);
    const why = /alias/i.test(msg)
      ? `aliases expand to too many nodes (more than ${MAX_YAML_ALIAS_COUNT}; an alias bomb?)`
      : e instanceof RangeError
      ? "nested too deeply"
      : msg.split("\n")[0];
    throw new ConfigError([{ source, path: "", message: `invalid YAML: ${why}` }], { cause: e });
  }
}

/**
 * Reads a text file of at most `max` bytes; reads no further than that from a device or pipe
 * (`/dev/zero` must not exhaust memory).
 *
 * @throws {RangeError} when there is more
 */
async function readCapped(file: string, max: number): Promise<string> {
  const f = await Deno.open(file, { read: true });
  try {
    const buf = new Uint8Array(max + 1);
    let n = 0;
    while (n < buf.length) {
      const got = await f.read(buf.subarray(n));
      if (got === null) break;
      n += got;
    }
    if (n > max) throw new RangeError(`it is larger than ${max} bytes`);
    return new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    f.close();
  }
}

/** Largest config file read (1 MiB): a real appliance.yaml is a few KiB. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** Alias expansions allowed in a config file (the yaml package's `maxAliasCount`); a real config needs a few. */
export const MAX_YAML_ALIAS_COUNT = 100;

/**
 * Loads a configuration file (or none) and applies command-line overrides.
 *
 * @param file path of appliance.yaml, or `undefined` for defaults only
 * @param overrides values from flags, which win over the file
 * @returns the frozen configuration
 * @throws {ConfigError} when the file cannot be read, parsed or validated
 * @example
 * ```ts
 * const cfg = await loadConfig("appliance.yaml", [{ path: ["admin", "listen"], value: "127.0.0.1:9191", flag: "--admin" }]);
 * ```
 */
export async function loadConfig(file: string | undefined, overrides: ConfigOverride[] = []): Promise<Appliance> {
  if (file === undefined) return validateConfig({}, { source: "defaults", overrides });
  let text: string;
  try {
    const st = await Deno.stat(file);
    if (st.isDirectory) throw new TypeError("it is a directory");
    text = await readCapped(file, MAX_CONFIG_FILE_BYTES);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "file not found" : (e as Error).message;
    throw new ConfigError([{ source: file, path: "", message: `cannot read config: ${why}` }], { cause: e });
  }
  return validateConfig(parseYaml(text, file), { source: file, overrides });
}
