import assert from "node:assert/strict";
import type { Ban } from "../cluster/ban_codec.ts";
import { purgeAdminRoute } from "./purge_admin_route.ts";

const TOKEN = "0123456789abcdef-token";

function route() {
  const issued: Ban[] = [];
  const handler = purgeAdminRoute({
    acl: ["127.0.0.0/8"],
    token: TOKEN,
    node: "cache-1",
    purge: (ban) => {
      issued.push(ban);
      return Promise.resolve({
        id: ban.id,
        kind: ban.kind,
        pattern: ban.pattern,
        deleted: 1,
        nodes: 2,
        acked: 2,
        failed: [],
      });
    },
  });
  return { handler, issued };
}

const post = (body: string, headers: Record<string, string>) =>
  new Request("http://admin/purge", { method: "POST", body, headers });

Deno.test("POST /purge refuses requests without a token or JSON body, outside the ACL, or malformed", async () => {
  const cases: { description: string; req: Request; client: string; status: number }[] = [
    { description: "GET", req: new Request("http://admin/purge"), client: "127.0.0.1", status: 405 },
    {
      description: "form post from an allowed client",
      req: post("url=http://h/a", { "content-type": "application/x-www-form-urlencoded" }),
      client: "127.0.0.1",
      status: 403,
    },
    {
      description: "JSON from outside cache.acl.purge",
      req: post('{"url":"http://h/a"}', { "content-type": "application/json" }),
      client: "10.1.2.3",
      status: 403,
    },
    {
      description: "not JSON",
      req: post("{", { "content-type": "application/json" }),
      client: "127.0.0.1",
      status: 400,
    },
    {
      description: "two kinds at once",
      req: post('{"url":"http://h/a","prefix":"http://h/"}', { "content-type": "application/json" }),
      client: "127.0.0.1",
      status: 400,
    },
    {
      description: "a regex that does not compile",
      req: post('{"regex":"("}', { "content-type": "application/json" }),
      client: "127.0.0.1",
      status: 400,
    },
    {
      description: "a wrong token from outside the ACL",
      req: post('{"url":"http://h/a"}', { authorization: "Bearer wrong-token-wrong-token" }),
      client: "10.1.2.3",
      status: 403,
    },
  ];
  for (const c of cases) {
    const { handler, issued } = route();
    const res = await handler(c.req, c.client);
    await res.body?.cancel();
    assert.equal(res.status, c.status, c.description);
    assert.equal(issued.length, 0, c.description);
  }
});

Deno.test("POST /purge issues a ban from a JSON body, or with the token from anywhere", async () => {
  const { handler, issued } = route();
  const r1 = await handler(
    post('{"prefix":"http://H.example/p/"}', { "content-type": "application/json" }),
    "127.0.0.1",
  );
  assert.equal(r1.status, 200);
  assert.deepEqual(await r1.json(), {
    id: issued[0].id,
    kind: "prefix",
    pattern: "http://h.example/p/",
    deleted: 1,
    nodes: 2,
    acked: 2,
    failed: [],
  });
  assert.equal(issued[0].origin, "cache-1");
  const r2 = await handler(post('{"regex":"\\\\.css$"}', { authorization: `Bearer ${TOKEN}` }), "10.1.2.3");
  assert.equal(r2.status, 200);
  await r2.body?.cancel();
  assert.equal(issued[1].kind, "regex");
  assert.equal(issued[1].pattern, "\\.css$");
});
