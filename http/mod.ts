/**
 * HTTP/1.1 on raw TCP, without `Deno.serve`: a pure message-head codec and chunked coding, the
 * PROXY protocol codec, a buffered connection reader, the server (keep-alive, safe pipelining,
 * timeouts, PROXY protocol, exact error answers, CONNECT hijacking) and the origin client with a
 * keep-alive pool. Codecs (`head_codec.ts`, `chunked.ts`, `proxy_protocol.ts`) do no I/O.
 *
 * @module
 */
export * from "./header_list.ts";
export * from "./head_codec.ts";
export * from "./chunked.ts";
export * from "./proxy_protocol.ts";
export { type ByteSource, ConnReader } from "./conn_reader.ts";
export * from "./server.ts";
export * from "./origin_client.ts";
