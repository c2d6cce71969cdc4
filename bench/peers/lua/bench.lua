-- wrk script shared by every scenario of bench/peers/run.sh.
--
--   wrk ... -s lua/bench.lua http://host:port/<path> -- <mode> [args...]
--
--   static                        one fixed request: the URL given to wrk (no per-request Lua)
--   spread <prefix> <n> <size>    uniform random over <prefix>0 .. <prefix>(n-1), ?size=<size>;
--                                 the n requests are pre-formatted, so per-request Lua cost is an
--                                 array lookup
--   unique <prefix> <nonce> <size>  every request a URL never seen before (pure misses):
--                                 <prefix><nonce>-t<thread>-<counter>?size=<size>
--
-- done() prints one machine-readable line:  WRKJSON {...}  (latencies in microseconds).

local thread_count = 0

function setup(thread)
   thread:set("tid", thread_count)
   thread_count = thread_count + 1
end

function init(args)
   local mode = args[1] or "static"
   if mode == "static" then
      request = nil
   elseif mode == "spread" then
      local prefix, n, size = args[2], tonumber(args[3]), args[4]
      local reqs = {}
      for i = 0, n - 1 do
         reqs[i + 1] = wrk.format(nil, prefix .. i .. "?size=" .. size)
      end
      math.randomseed(12345 + (tid or 0))
      local random = math.random
      request = function()
         return reqs[random(n)]
      end
   elseif mode == "unique" then
      local prefix, nonce, size = args[2], args[3], args[4]
      local base = prefix .. nonce .. "-t" .. (tid or 0) .. "-"
      local suffix = "?size=" .. size
      local counter = 0
      request = function()
         counter = counter + 1
         return wrk.format(nil, base .. counter .. suffix)
      end
   else
      error("bench.lua: unknown mode " .. tostring(mode))
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.1f,' ..
      '"lat_mean_us":%.1f,"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d,' ..
      '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
      summary.requests, summary.duration, summary.bytes, summary.requests / secs,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
