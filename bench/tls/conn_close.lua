-- wrk: every request on a new TLS connection (the server closes after answering), so the rate
-- measured is full handshakes plus one small request each.
wrk.headers["Connection"] = "close"
