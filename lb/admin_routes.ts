/**
 * The director's admin endpoint routes (registered on the role's AdminServer):
 *
 * | method + path                              | what                                              |
 * |--------------------------------------------|---------------------------------------------------|
 * | GET `/director/status`                     | {@link DirectorStatus} as JSON                    |
 * | GET `/director/connections?limit=N`        | connection entries (ipvsadm -Lnc)                 |
 * | POST `/director/drain?server=S[&undo=1]`   | weight 0 for S (`ADDR:PORT` or `ADDR`); its counts |
 * | GET `/director/route?client=C&vip=V`       | the {@link RouteDecision} for a flow              |
 *
 * Access control is the AdminServer's (loopback or token).
 *
 * @module
 */
import type { Director } from "./director.ts";

/** The part of AdminServer used here (lb does not import admin/). */
export interface RouteRegistry {
  /** Adds a route for an exact path. */
  route(path: string, handler: (req: Request, client: string) => Response | Promise<Response>): void;
  /** Adds a `/status` section. */
  status(name: string, fn: () => unknown): void;
}

const bad = (msg: string, status = 400) => new Response(msg + "\n", { status });

/** Registers the `/director/...` routes and the `director` section of `/status`. */
export function registerDirectorRoutes(admin: RouteRegistry, director: () => Director | undefined): void {
  const withDirector = (fn: (d: Director, url: URL, req: Request) => Response) => (req: Request) => {
    const d = director();
    if (!d) return bad("director not running", 503);
    return fn(d, new URL(req.url), req);
  };
  admin.route("/director/status", withDirector((d) => Response.json(d.status())));
  admin.route(
    "/director/connections",
    withDirector((d, url) => Response.json(d.connections(Number(url.searchParams.get("limit") ?? 1000)))),
  );
  admin.route(
    "/director/drain",
    withDirector((d, url, req) => {
      if (req.method !== "POST") return bad("use POST", 405);
      const server = url.searchParams.get("server");
      if (!server) return bad("missing ?server=ADDR:PORT");
      const list = d.drain(server, url.searchParams.get("undo") !== "1");
      if (list.length === 0) return bad(`no real server matches "${server}"`, 404);
      return Response.json(list);
    }),
  );
  admin.route(
    "/director/route",
    withDirector((d, url) => {
      const client = url.searchParams.get("client");
      const vip = url.searchParams.get("vip");
      if (!client || !vip) return bad("missing ?client=IP:PORT&vip=IP:PORT");
      try {
        return Response.json(d.route(client, vip));
      } catch (e) {
        return bad((e as Error).message);
      }
    }),
  );
  admin.status("director", () => {
    const d = director();
    if (!d) return undefined;
    const st = d.status();
    return { services: st.services.length, table: st.table, counters: st.counters };
  });
}
