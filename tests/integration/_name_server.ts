/**
 * Test helper process: a tiny HTTP server answering every request with its name (argv[1]) on
 * 0.0.0.0:argv[0], used as a real server until the cache is wired in.
 *
 * @module
 */
const port = Number(Deno.args[0]);
const name = Deno.args[1];
const body = name + "\n";
Deno.serve({ port, hostname: "0.0.0.0", onListen: () => console.log("ready") }, () => new Response(body));
