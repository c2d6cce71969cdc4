vcl 4.1;
# Varnish in front of the origin. Everything else is Varnish's built-in VCL: it honours
# Cache-Control max-age for the TTL and turns no-store responses into hit-for-miss.
# Rendered by lib/common.sh: @ORIGIN_PORT@ is substituted.

backend origin {
    .host = "127.0.0.1";
    .port = "@ORIGIN_PORT@";
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
