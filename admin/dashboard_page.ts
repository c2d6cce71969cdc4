/**
 * The dashboard web page, one self-contained HTML document (inline CSS and JavaScript, no CDN,
 * no fonts or images from elsewhere), so it works on a machine with no internet access and ships
 * inside the bundle.
 *
 * The page polls `/cluster/status?history=1` every two seconds and draws:
 * - a cluster map (SVG): clients → directors → caches, coloured by health, with each cache's
 *   request rate, hit ratio and share of the director's connections;
 * - request-rate and hit-ratio charts (canvas) over the aggregator's history (10 minutes);
 * - every director with its HA mode and role and the VIPs it holds now (which director holds each VIP), and
 *   each director service's connection split and persistence table size;
 * - the members table (with each member's config version and any version it refused, cluster.configSync)
 *   and the top URLs.
 *
 * When the page was opened with `#token=…` its fetches carry `Authorization: Bearer …`, so it
 * works from outside `admin.allow`. The token sits in the fragment, which the browser keeps to
 * itself (the admin endpoint never reads a token from the query string). Elements tests read carry `data-value` with raw numbers.
 *
 * @module
 */

/** The dashboard HTML. */
export const DASHBOARD_HTML: string = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>webcache cluster</title>
<style>
:root {
  --bg: #0f1419; --panel: #171d24; --line: #263040; --text: #d8dee6; --dim: #8a97a8;
  --ok: #3fb950; --warn: #d29922; --bad: #f85149; --accent: #58a6ff;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font-size: 14px; }
header { display: flex; align-items: center; gap: 18px; padding: 12px 20px; border-bottom: 1px solid var(--line);
  background: #121820; flex-wrap: wrap; }
header h1 { font-size: 18px; margin: 0; font-weight: 600; letter-spacing: .3px; }
header h1 span { color: var(--accent); }
.kpi { display: flex; flex-direction: column; min-width: 92px; }
.kpi b { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.kpi small { color: var(--dim); font-size: 11px; text-transform: uppercase; letter-spacing: .6px; }
#conn { margin-left: auto; color: var(--dim); font-size: 12px; display: flex; align-items: center; gap: 6px; }
.dot { width: 9px; height: 9px; border-radius: 50%; display: inline-block; background: var(--dim); }
main { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 14px; padding: 14px 20px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
section.wide { grid-column: 1 / -1; }
section h2 { font-size: 12px; margin: 0 0 10px; color: var(--dim); text-transform: uppercase; letter-spacing: .8px;
  font-weight: 600; display: flex; justify-content: space-between; }
section h2 em { font-style: normal; text-transform: none; letter-spacing: 0; }
#map svg { width: 100%; height: auto; display: block; }
canvas { width: 100%; height: 190px; display: block; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 8px; text-align: left; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--dim); font-weight: 500; font-size: 12px; }
td.n, th.n { text-align: right; }
td.url { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; overflow: hidden;
  text-overflow: ellipsis; max-width: 420px; }
.badge { padding: 1px 7px; border-radius: 9px; font-size: 11px; font-weight: 600; }
.s-ok { background: rgba(63,185,80,.15); color: var(--ok); }
.s-warn { background: rgba(210,153,34,.15); color: var(--warn); }
.s-bad { background: rgba(248,81,73,.15); color: var(--bad); }
.bar { height: 8px; background: #0b0f14; border-radius: 4px; overflow: hidden; min-width: 120px; }
.bar i { display: block; height: 100%; background: var(--accent); }
.legend { display: flex; gap: 12px; flex-wrap: wrap; font-size: 12px; color: var(--dim); margin-top: 6px; }
.legend span::before { content: ""; display: inline-block; width: 10px; height: 3px; margin-right: 5px;
  vertical-align: middle; background: var(--c); }
.svc { margin-bottom: 12px; }
.svc-head { font-size: 13px; margin-bottom: 6px; }
.svc-head code { color: var(--accent); }
.muted { color: var(--dim); }
#banner { display: none; background: rgba(248,81,73,.12); color: var(--bad); padding: 8px 20px;
  border-bottom: 1px solid var(--line); }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
  <h1><span>web</span>cache</h1>
  <div class="kpi"><b id="members-count" data-value="">–</b><small>members</small></div>
  <div class="kpi"><b id="healthy-count" data-value="">–</b><small>healthy</small></div>
  <div class="kpi"><b id="hit-ratio" data-value="">–</b><small>array hit ratio</small></div>
  <div class="kpi"><b id="req-rate" data-value="">–</b><small>requests / s</small></div>
  <div class="kpi"><b id="stored" data-value="">–</b><small>stored</small></div>
  <div class="kpi"><b id="sibling-hits" data-value="">–</b><small>sibling hits</small></div>
  <div id="conn"><i class="dot" id="conn-dot"></i><span id="conn-text">connecting…</span></div>
</header>
<div id="banner"></div>
<main>
  <section class="wide" id="map"><h2>Cluster map <em class="muted" id="asked"></em></h2><div id="map-svg"></div></section>
  <section><h2>Requests / s <em class="muted" id="rate-now"></em></h2><canvas id="rate-chart"></canvas>
    <div class="legend" id="rate-legend"></div></section>
  <section><h2>Hit ratio <em class="muted" id="hit-now"></em></h2><canvas id="hit-chart"></canvas>
    <div class="legend"><span style="--c: #3fb950">array (per interval)</span></div></section>
  <section class="wide" id="directors"><h2>Directors and services <em class="muted">VIP holders, connection split</em></h2>
    <div id="services"><p class="muted">No director in this cluster.</p></div></section>
  <section><h2>Members</h2><table id="members">
    <thead><tr><th>Name</th><th>Role</th><th>Health</th><th class="n">Req/s</th><th class="n">Hit</th>
    <th class="n">Objects</th><th class="n">Stored</th><th class="n">ICP q</th><th class="n">Sib hits</th>
    <th>Config</th></tr></thead>
    <tbody></tbody></table></section>
  <section><h2>Top URLs</h2><table id="top-urls"><thead><tr><th>URL</th><th class="n">Requests</th></tr></thead>
    <tbody><tr><td class="muted" colspan="2">No data yet.</td></tr></tbody></table></section>
</main>
<script>
"use strict";
(function () {
  var POLL_MS = 2000;
  var COLORS = ["#58a6ff", "#f0883e", "#a371f7", "#3fb950", "#db61a2", "#d29922", "#39c5cf", "#ff7b72"];
  var token = new URLSearchParams(location.hash.replace(/^#/, "")).get("token");
  var colorOf = {};
  var nextColor = 0;
  function color(name) {
    if (!colorOf[name]) colorOf[name] = COLORS[nextColor++ % COLORS.length];
    return colorOf[name];
  }
  function $(id) { return document.getElementById(id); }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function pct(r) { return r === null || r === undefined ? "–" : (r * 100).toFixed(1) + "%"; }
  function rate(r) { return r === undefined || r === null ? "–" : r >= 100 ? r.toFixed(0) : r.toFixed(1); }
  function bytes(n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return i === 0 ? n + " B" : n.toFixed(1) + " " + u[i];
  }
  function setKpi(id, text, value) { var e = $(id); e.textContent = text; e.setAttribute("data-value", String(value)); }
  function healthClass(m) {
    if (!m.reachable || m.state === "dead" || m.state === "left") return "s-bad";
    if (m.state === "suspect" || m.state === "draining") return "s-warn";
    return "s-ok";
  }
  function healthText(m) {
    if (m.reachable) return m.state;
    return m.state === "unknown" || m.state === "alive" ? "down" : m.state + " (unreachable)";
  }
  // cluster.configSync: the version a member runs (counter and hash) and a newer one it refused.
  function configCell(m) {
    var c = m.config;
    if (!c) return "–";
    var out = '<span class="cfg-version" title="' + esc(c.hash) + '">v' + c.version + " " + esc(c.hash.slice(0, 8)) + "</span>";
    if (c.refused) {
      out += ' <span class="badge s-bad cfg-refused" title="' + esc(c.refused.hash) + '">refused v' + c.refused.version +
        '</span><br><small class="muted cfg-reason">' + esc(c.refused.reason) + "</small>";
    }
    return out;
  }
  var HEALTH_COLOR = { "s-ok": "#3fb950", "s-warn": "#d29922", "s-bad": "#f85149" };

  function drawMap(doc) {
    var directors = doc.members.filter(function (m) { return m.role === "director"; });
    var caches = doc.members.filter(function (m) { return m.role !== "director"; });
    var share = {};
    directors.forEach(function (d) {
      (d.director ? d.director.services : []).forEach(function (s) {
        s.servers.forEach(function (r) {
          var key = r.node || r.address;
          share[key] = Math.max(share[key] || 0, r.share);
        });
      });
    });
    var W = 1000, rowH = 92, n = Math.max(caches.length, directors.length, 1);
    var H = Math.max(170, n * rowH + 20);
    var out = ['<svg viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="cluster map">'];
    var cx = 80, dx = 330, kx = 640;
    function yAt(i, count) { return H / 2 + (i - (count - 1) / 2) * rowH; }
    var clientY = H / 2;
    directors.forEach(function (d, i) {
      var y = yAt(i, directors.length);
      out.push('<line x1="' + (cx + 46) + '" y1="' + clientY + '" x2="' + (dx - 90) + '" y2="' + y +
        '" stroke="#3a4658" stroke-width="2"/>');
    });
    caches.forEach(function (c, j) {
      var y2 = yAt(j, caches.length);
      var s = share[c.name] || 0;
      directors.forEach(function (d, i) {
        var y1 = yAt(i, directors.length);
        out.push('<line x1="' + (dx + 90) + '" y1="' + y1 + '" x2="' + (kx - 10) + '" y2="' + y2 + '" stroke="' +
          (c.reachable ? color(c.name) : "#5a2a2a") + '" stroke-opacity="' + (c.reachable ? 0.85 : 0.5) +
          '" stroke-width="' + (1.5 + 10 * s).toFixed(1) + '"' + (c.reachable ? "" : ' stroke-dasharray="6 5"') + "/>");
      });
      if (directors.length) {
        out.push('<text x="' + (kx - 22) + '" y="' + (y2 - 10) + '" text-anchor="end" fill="#8a97a8" font-size="13">' +
          pct(s) + " of conns</text>");
      }
    });
    out.push('<circle cx="' + cx + '" cy="' + clientY + '" r="34" fill="#1d2631" stroke="#3a4658" stroke-width="2"/>');
    out.push('<text x="' + cx + '" y="' + (clientY + 5) + '" text-anchor="middle" fill="#d8dee6" font-size="14">clients</text>');
    directors.forEach(function (d, i) {
      var y = yAt(i, directors.length), hc = healthClass(d);
      var svc = d.director && d.director.services[0];
      out.push('<rect x="' + (dx - 90) + '" y="' + (y - 34) + '" width="180" height="68" rx="8" fill="#1d2631" stroke="' +
        HEALTH_COLOR[hc] + '" stroke-width="2"/>');
      out.push('<text x="' + dx + '" y="' + (y - 12) + '" text-anchor="middle" fill="#d8dee6" font-size="15" font-weight="600">' +
        esc(d.name) + "</text>");
      out.push('<text x="' + dx + '" y="' + (y + 7) + '" text-anchor="middle" fill="#8a97a8" font-size="12">director · ' +
        esc(svc ? svc.scheduler : healthText(d)) + "</text>");
      var ha = d.director && d.director.ha;
      out.push('<text x="' + dx + '" y="' + (y + 24) + '" text-anchor="middle" fill="' +
        (ha && ha.vips.length ? "#3fb950" : "#8a97a8") + '" font-size="12" class="dir-role">' +
        esc(ha ? ha.role + (ha.vips.length ? " · " + ha.vips.join(", ") : "") : svc ? svc.address : "") + "</text>");
    });
    if (!directors.length) {
      out.push('<text x="' + dx + '" y="' + (H / 2) + '" text-anchor="middle" fill="#8a97a8" font-size="13">no director</text>');
    }
    caches.forEach(function (c, j) {
      var y = yAt(j, caches.length), hc = healthClass(c), f = c.cache;
      out.push('<rect x="' + (kx - 10) + '" y="' + (y - 38) + '" width="330" height="76" rx="8" fill="#1d2631" stroke="' +
        HEALTH_COLOR[hc] + '" stroke-width="2"/>');
      out.push('<rect x="' + (kx - 10) + '" y="' + (y - 38) + '" width="6" height="76" rx="3" fill="' + color(c.name) + '"/>');
      out.push('<text x="' + (kx + 8) + '" y="' + (y - 14) + '" fill="#d8dee6" font-size="15" font-weight="600">' +
        esc(c.name) + '</text><text x="' + (kx + 310) + '" y="' + (y - 14) + '" text-anchor="end" font-size="12" fill="' +
        HEALTH_COLOR[hc] + '">' + esc(healthText(c)) + "</text>");
      var line1 = f ? rate(f.requestRate) + " req/s · hit " + pct(f.hitRatio) : (c.error || "");
      var line2 = f ? f.objects + " objects · " + bytes(f.bytes) + " · " + f.siblingHits + " sibling hits" : "";
      out.push('<text x="' + (kx + 8) + '" y="' + (y + 6) + '" fill="#c0c8d2" font-size="13">' + esc(line1) + "</text>");
      out.push('<text x="' + (kx + 8) + '" y="' + (y + 25) + '" fill="#8a97a8" font-size="12">' + esc(line2) + "</text>");
    });
    out.push("</svg>");
    $("map-svg").innerHTML = out.join("");
  }

  function setupCanvas(canvas) {
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return { ctx: ctx, w: w, h: h };
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }

  // series: [{color, width, points: [[t, v|null]...]}]; yMax fixed or computed; fmt for labels.
  function drawChart(canvas, series, opts) {
    var c = setupCanvas(canvas), ctx = c.ctx;
    var L = 46, R = 10, T = 8, B = 22, pw = c.w - L - R, ph = c.h - T - B;
    var now = opts.now, span = opts.spanMs, t0 = now - span;
    var yMax = opts.yMax;
    if (yMax === undefined) {
      var m = 0;
      series.forEach(function (s) { s.points.forEach(function (p) { if (p[1] !== null && p[1] > m) m = p[1]; }); });
      yMax = niceMax(m * 1.1);
    }
    ctx.font = "11px system-ui, sans-serif";
    ctx.strokeStyle = "#263040";
    ctx.fillStyle = "#8a97a8";
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (var g = 0; g <= 4; g++) {
      var y = T + ph - (g / 4) * ph;
      ctx.beginPath(); ctx.moveTo(L, Math.round(y) + 0.5); ctx.lineTo(L + pw, Math.round(y) + 0.5); ctx.stroke();
      ctx.fillText(opts.fmt(yMax * g / 4), L - 6, y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (var k = 0; k <= 5; k++) {
      var x = L + (k / 5) * pw, ago = Math.round((span - k * span / 5) / 60000 * 10) / 10;
      ctx.fillText(ago === 0 ? "now" : "-" + ago + "m", x, T + ph + 6);
    }
    series.forEach(function (s) {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = s.width || 1.8;
      ctx.lineJoin = "round";
      ctx.beginPath();
      var pen = false;
      s.points.forEach(function (p) {
        if (p[0] < t0 || p[1] === null) { pen = false; return; }
        var x = L + (p[0] - t0) / span * pw, y = T + ph - Math.min(1, p[1] / yMax) * ph;
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      });
      ctx.stroke();
    });
    if (!series.some(function (s) { return s.points.length > 0; })) {
      ctx.fillStyle = "#8a97a8";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText("collecting samples…", L + pw / 2, T + ph / 2);
    }
  }

  function drawCharts(doc) {
    var hist = doc.history || [];
    var now = Date.parse(doc.at), span = 10 * 60 * 1000;
    if (hist.length > 1) span = Math.min(span, Math.max(60 * 1000, now - hist[0].t));
    var names = {};
    hist.forEach(function (p) { Object.keys(p.perNode).forEach(function (n) { names[n] = true; }); });
    var series = Object.keys(names).sort().map(function (n) {
      return { color: color(n), points: hist.map(function (p) { return [p.t, n in p.perNode ? p.perNode[n] : null]; }) };
    });
    series.push({ color: "#d8dee6", width: 2.4, points: hist.map(function (p) { return [p.t, p.requestRate]; }) });
    drawChart($("rate-chart"), series, { now: now, spanMs: span, fmt: function (v) { return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2); } });
    $("rate-legend").innerHTML = '<span style="--c: #d8dee6">array</span>' + Object.keys(names).sort().map(function (n) {
      return '<span style="--c: ' + color(n) + '">' + esc(n) + "</span>";
    }).join("");
    drawChart($("hit-chart"), [{ color: "#3fb950", width: 2.4, points: hist.map(function (p) { return [p.t, p.hitRatio]; }) }],
      { now: now, spanMs: span, yMax: 1, fmt: function (v) { return Math.round(v * 100) + "%"; } });
    var last = hist[hist.length - 1];
    $("rate-now").textContent = last ? rate(last.requestRate) + " req/s now" : "";
    $("hit-now").textContent = last ? pct(last.hitRatio) + " now" : "";
  }

  function drawServices(doc) {
    var html = [];
    // Every director, its HA role, and which of them hold each VIP now.
    var dirs = doc.members.filter(function (m) { return m.role === "director"; });
    if (dirs.length) {
      var holders = {};
      html.push('<table id="director-ha"><thead><tr><th>Director</th><th>HA mode</th><th>Role</th><th>VIPs held</th>' +
        "</tr></thead><tbody>");
      dirs.forEach(function (d) {
        var ha = d.director && d.director.ha;
        (ha ? ha.vips : []).forEach(function (v) { (holders[v] = holders[v] || []).push(d.name); });
        html.push('<tr data-director="' + esc(d.name) + '"><td>' + esc(d.name) + "</td><td>" +
          esc(ha ? ha.mode + (ha.group ? " (" + ha.group + ")" : "") : d.reachable ? "?" : "unreachable") +
          '</td><td><span class="badge ' + (ha && ha.vips.length ? "s-ok" : "s-warn") + '">' +
          esc(ha ? ha.role : healthText(d)) + "</span></td><td>" + esc(ha ? ha.vips.join(", ") || "–" : "–") +
          "</td></tr>");
      });
      html.push("</tbody></table>");
      var vips = Object.keys(holders).sort();
      html.push('<p class="muted" id="vip-holders">' + (vips.length ? vips.map(function (v) {
        return "VIP <code>" + esc(v) + "</code> held by <b>" + esc(holders[v].join(", ")) + "</b>";
      }).join(" · ") : "No director holds a VIP now.") + "</p>");
    }
    doc.members.forEach(function (d) {
      if (!d.director) return;
      d.director.services.forEach(function (s) {
        html.push('<div class="svc" data-service="' + esc(s.name) + '"><div class="svc-head"><b>' + esc(d.name) + "</b> · " +
          esc(s.name) + " <code>" + esc(s.address) + "</code> · " + esc(s.scheduler) +
          (s.persistenceS > 0 ? " · persistence " + s.persistenceS + "s, <b class='persist'>" + s.persistenceEntries +
            "</b> templates" : " · no persistence") + " · " + d.director.connections + " connections in table" +
          "</div><table><thead><tr><th>Real server</th><th>Fwd</th><th class='n'>Weight</th><th>Health</th>" +
          "<th>Split</th><th class='n'>Share</th><th class='n'>Conns</th><th class='n'>Active</th><th class='n'>Inactive</th>" +
          "<th class='n'>In bytes</th><th class='n'>Out bytes</th></tr></thead><tbody>");
        s.servers.forEach(function (r) {
          var hc = r.health === "up" || r.health === "alive" ? "s-ok" : r.health === "draining" ? "s-warn" : "s-bad";
          html.push("<tr><td>" + esc(r.node ? r.node + " " : "") + '<span class="muted">' + esc(r.address) + "</span></td><td>" +
            esc(r.method) + '</td><td class="n">' + r.weight + '</td><td><span class="badge ' + hc + '">' + esc(r.health) +
            '</span></td><td><div class="bar"><i style="width:' + (r.share * 100).toFixed(1) + "%;background:" +
            color(r.node || r.address) + '"></i></div></td><td class="n">' + pct(r.share) + '</td><td class="n">' +
            r.connections + '</td><td class="n">' + r.activeConns + '</td><td class="n">' + r.inactiveConns +
            '</td><td class="n">' + bytes(r.bytesIn) + '</td><td class="n">' + bytes(r.bytesOut) + "</td></tr>");
        });
        html.push("</tbody></table></div>");
      });
    });
    $("services").innerHTML = html.length ? html.join("") : '<p class="muted">No director in this cluster.</p>';
  }

  function drawTables(doc) {
    $("members").tBodies[0].innerHTML = doc.members.map(function (m) {
      var f = m.cache;
      return '<tr data-node="' + esc(m.name) + '"><td>' + esc(m.name) + "</td><td>" + esc(m.role) +
        '</td><td><span class="badge ' + healthClass(m) + '" title="' + esc(m.error || "") + '">' + esc(healthText(m)) +
        '</span></td><td class="n">' + (f ? rate(f.requestRate) : m.director ? rate(m.director.connectionRate) + " conn/s" : "–") +
        '</td><td class="n">' + (f ? pct(f.hitRatio) : "–") + '</td><td class="n">' + (f ? f.objects : "–") +
        '</td><td class="n">' + (f ? bytes(f.bytes) : "–") + '</td><td class="n">' + (f ? f.icpQueries : "–") +
        '</td><td class="n">' + (f ? f.siblingHits : "–") + "</td><td>" + configCell(m) + "</td></tr>";
    }).join("");
    var urls = doc.topUrls || [];
    $("top-urls").tBodies[0].innerHTML = urls.length ? urls.map(function (u) {
      return '<tr><td class="url" title="' + esc(u.url) + '">' + esc(u.url) + '</td><td class="n">' + u.requests + "</td></tr>";
    }).join("") : '<tr><td class="muted" colspan="2">No URLs reported yet.</td></tr>';
  }

  var lastDoc = null;
  function render(doc) {
    var t = doc.totals;
    setKpi("members-count", String(t.members), t.members);
    setKpi("healthy-count", t.healthy + " / " + t.members, t.healthy);
    setKpi("hit-ratio", pct(t.hitRatio), t.hitRatio === null ? "" : t.hitRatio);
    setKpi("req-rate", rate(t.requestRate), t.requestRate === undefined ? "" : t.requestRate);
    setKpi("stored", t.objects + " · " + bytes(t.bytes), t.objects);
    setKpi("sibling-hits", String(t.siblingHits), t.siblingHits);
    $("asked").textContent = "as seen by " + doc.askedNode;
    drawMap(doc);
    drawCharts(doc);
    drawServices(doc);
    drawTables(doc);
    document.body.setAttribute("data-updated", doc.at);
  }

  function setConn(ok, text) {
    $("conn-dot").style.background = ok ? "var(--ok)" : "var(--bad)";
    $("conn-text").textContent = text;
    var b = $("banner");
    b.style.display = ok ? "none" : "block";
    if (!ok) b.textContent = text;
  }

  function poll() {
    var headers = token ? { Authorization: "Bearer " + token } : {};
    fetch("/cluster/status?history=1", { headers: headers, cache: "no-store" }).then(function (res) {
      if (res.status === 403) throw new Error("refused by the admin endpoint: open the page with #token=<admin.token>");
      if (!res.ok) throw new Error("cluster status: HTTP " + res.status);
      return res.json();
    }).then(function (doc) {
      lastDoc = doc;
      render(doc);
      setConn(true, "updated " + new Date(doc.at).toLocaleTimeString());
    }).catch(function (e) {
      setConn(false, "cannot update: " + e.message);
    }).then(function () {
      setTimeout(poll, POLL_MS);
    });
  }
  window.addEventListener("resize", function () { if (lastDoc) drawCharts(lastDoc); });
  poll();
})();
</script>
</body>
</html>
`;
