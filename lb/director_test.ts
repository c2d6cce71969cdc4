import assert from "node:assert/strict";
import { validateConfig } from "../config/load.ts";
import { registerDirectorRoutes } from "./admin_routes.ts";
import { Director, effectiveCheck } from "./director.ts";
import { MissingForwarderError } from "./forwarder.ts";

const cfg = (services: unknown[]) => validateConfig({ director: { services } }).director;

Deno.test("Director.start() refuses a dr service without the packet forwarder, naming what is missing", async () => {
  const d = new Director(cfg([{ vip: "10.0.0.100", port: 80, method: "dr", reals: [{ address: "10.0.0.11" }] }]));
  await assert.rejects(() => d.start(), (e: Error) => {
    assert.ok(e instanceof MissingForwarderError);
    assert.match(e.message, /Cannot start service 10\.0\.0\.100:80 with method dr: no dr forwarder is registered/);
    assert.match(e.message, /proxy method works unprivileged/);
    return true;
  });
  await d.stop();
});

Deno.test("Director.start() refuses a service mixing proxy and dr servers", async () => {
  const d = new Director(cfg([{
    vip: "10.0.0.100",
    port: 80,
    reals: [{ address: "10.0.0.11" }, { address: "10.0.0.12", method: "dr" }],
  }]));
  await assert.rejects(() => d.start(), /mixes the proxy method with dr/);
  await d.stop();
});

Deno.test("Director.setMembers() adds caches of a fromMembership service and follows their state", () => {
  const d = new Director(cfg([{
    name: "web",
    vip: "10.0.0.100",
    port: 80,
    fromMembership: true,
    health: { type: "none" },
    reals: [{ address: "10.0.0.11" }],
  }]));
  d.dispatcher.configure(d.config.services);
  const member = (name: string, state: "alive" | "draining" | "dead", service = "web") => ({
    name,
    role: "cache",
    state,
    weight: 3,
    service,
    addrs: { http: `${name}:8080` },
  });
  d.setMembers([member("10.0.0.21", "alive"), member("10.0.0.22", "draining"), member("10.0.0.23", "alive", "other")]);
  const servers = () => d.dispatcher.services[0].eligible.map((s) => `${s.key}/${s.weight}`);
  assert.deepEqual(servers(), ["10.0.0.11:80/1", "10.0.0.21:8080/3", "10.0.0.22:8080/0"]);
  d.setMembers([member("10.0.0.21", "dead"), member("10.0.0.22", "alive")]);
  assert.deepEqual(servers(), ["10.0.0.11:80/1", "10.0.0.22:8080/3"]);
});

Deno.test("registerDirectorRoutes() serves status, route and drain", async () => {
  const d = new Director(cfg([{
    vip: "10.0.0.100",
    port: 80,
    scheduler: "rr",
    health: { type: "none" },
    reals: [{ address: "10.0.0.11" }, { address: "10.0.0.12" }],
  }]));
  d.dispatcher.configure(d.config.services);
  const routes = new Map<string, (req: Request, client: string) => Response | Promise<Response>>();
  registerDirectorRoutes({ route: (p, h) => routes.set(p, h), status: () => {} }, () => d);
  const call = async (path: string, method = "GET") => {
    const url = new URL(`http://admin${path}`);
    return await routes.get(url.pathname)!(new Request(url, { method }), "127.0.0.1");
  };
  const st = await (await call("/director/status")).json();
  assert.equal(st.services[0].servers.length, 2);
  const r = await (await call("/director/route?client=1.2.3.4:5&vip=10.0.0.100:80")).json();
  assert.equal(r.reason, "scheduler");
  assert.equal((await call("/director/drain?server=10.0.0.12:80")).status, 405);
  const drained = await (await call("/director/drain?server=10.0.0.12:80", "POST")).json();
  assert.equal(drained[0].weight, 0);
  assert.equal((await call("/director/drain?server=10.9.9.9:80", "POST")).status, 404);
  assert.equal((await call("/director/route?client=nope&vip=10.0.0.100:80")).status, 400);
});

Deno.test("effectiveCheck(): a fromMembership service probes the cache health path by default, others /", () => {
  const [members, plain, explicit, tcp] = cfg([
    { vip: "10.0.0.100", port: 80, method: "proxy", fromMembership: true, health: { type: "http" } },
    { vip: "10.0.0.100", port: 81, method: "proxy", health: { type: "http" } },
    { vip: "10.0.0.100", port: 82, method: "proxy", fromMembership: true, health: { type: "http", path: "/x" } },
    { vip: "10.0.0.100", port: 83, method: "proxy", fromMembership: true, health: { type: "tcp" } },
  ]).services;
  assert.equal(effectiveCheck(members).path, "/.well-known/webcache/health");
  assert.equal(effectiveCheck(plain).path, "/");
  assert.equal(effectiveCheck(explicit).path, "/x");
  assert.equal(effectiveCheck(tcp).path, undefined);
});
