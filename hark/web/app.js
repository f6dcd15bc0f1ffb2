// app.js - the page of `hark serve`: records, a transaction, charts.
//
// The view and its filters live in the page's address (?view=...&path=...)
// so a view can be shared and reloaded; the page asks the JSON API under
// /api/ with the same filters. Text from the trail only ever reaches the
// page through textContent and attribute values, never as markup.
"use strict";

const FILTERS = ["since", "until", "path", "method", "status", "outcome",
                 "flag", "client", "server", "uid", "kind"];
const CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];
const SVGNS = "http://www.w3.org/2000/svg";
const HEX_MAX = 64 * 1024;        // bytes of a binary body shown as hex
const LIVE_REFRESH_MS = 5000;

const query = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

// ---- small helpers ---------------------------------------------------

// An element with attributes and children (strings become text nodes).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {}))
    if (v !== undefined && v !== null) e.setAttribute(k, v);
  for (const c of children)
    if (c !== undefined && c !== null)
      e.append(typeof c === "string" || typeof c === "number" ? String(c) : c);
  return e;
}

function sv(tag, attrs, parent) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.append(e);
  return e;
}

function showError(msg) {
  const e = $("error");
  e.textContent = msg;
  e.hidden = false;
}

async function getJSON(url) {
  const r = await fetch(url, { credentials: "same-origin" });
  let body = null;
  try {
    body = await r.json();
  } catch (e) {
    throw new Error(`${url}: HTTP ${r.status}`);
  }
  if (!r.ok)
    throw new Error(body && body.error ? body.error : `HTTP ${r.status}`);
  return body;
}

// The page's filters, as the API takes them; kind is the list's own.
function filterParams(withKind) {
  const p = new URLSearchParams();
  for (const f of FILTERS) {
    const v = (query.get(f) || "").trim();
    if (!v || (f === "kind" && !withKind)) continue;
    p.set(f, v);
  }
  if (withKind && !p.has("kind")) p.set("kind", "response");
  return p;
}

// An address of this page: the filters, then the given arguments.
function pageURL(extra) {
  const p = filterParams(false);
  if (query.get("kind")) p.set("kind", query.get("kind"));
  for (const [k, v] of Object.entries(extra || {})) {
    if (v === null || v === undefined || v === "") p.delete(k);
    else p.set(k, v);
  }
  const s = p.toString();
  return s ? `/?${s}` : "/";
}

function fmtTime(iso) {
  return iso ? iso.replace("T", " ").replace("Z", "") : "";
}

function fmtMs(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

function fmtNum(n) {
  return Number(n).toLocaleString("en-US");
}

function statusClass(s) {
  if (!s) return "none";
  return s >= 100 && s < 600 ? `${Math.floor(s / 100)}xx` : "none";
}

// ---- the filter form -------------------------------------------------

function setupForm(view) {
  $("f-view").value = view === "charts" ? "charts" : "";
  // defaultValue and defaultSelected are the markup's own value: the
  // form reads back as the address says, to people and to a DOM dump
  for (const f of FILTERS) {
    const input = $(`f-${f}`);
    const v = query.get(f) || (f === "kind" ? "response" : "");
    if (!input) continue;
    if (input.tagName === "SELECT")
      for (const o of input.options) o.defaultSelected = o.value === v;
    else
      input.defaultValue = v;
  }
  $("kind-label").hidden = view === "charts";
  $("clear").href = view === "charts" ? "/?view=charts" : "/";
  $("nav-list").href = pageURL({ view: null });
  $("nav-charts").href = pageURL({ view: "charts" });
  $(view === "charts" ? "nav-charts" : "nav-list").classList.add("here");
  $("filters").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(ev.target)) {
      const t = String(v).trim();
      if (!t || (k === "kind" && t === "response")) continue;
      if (k === "kind" && view === "charts") continue;
      p.set(k, t);
    }
    const s = p.toString();
    location.assign(s ? `/?${s}` : "/");
  });
}

// ---- the list --------------------------------------------------------

// A stage that died: when, which, why, until when, what it took along.
function outageRow(r) {
  const tx = `/?view=tx&key=${encodeURIComponent(r.key)}`;
  const lost = Object.entries(r.lost || {}).map(([k, v]) => `${k} ${v}`);
  return el("tr", { "data-key": r.key, "data-kind": r.kind, class: "outage" },
    el("td", { class: "time" },
       el("a", { href: tx }, fmtTime(r["@timestamp"]))),
    el("td", {}, ""), el("td", {}, ""), el("td", {}, ""),
    el("td", { class: "uri" }, el("a", { href: tx },
      `${r.stage || "a stage"} down until ${fmtTime(r.until)}` +
      (r.reason ? `: ${r.reason}` : ""))),
    el("td", {}, el("span", { class: "st st-none" }, "outage")),
    el("td", {}, ""), el("td", {}, ""), el("td", {}, ""),
    el("td", { class: "flags" }, lost.join(", ")), el("td", {}, ""));
}

function listRow(r) {
  if (r.kind === "outage") return outageRow(r);
  const tx = `/?view=tx&key=${encodeURIComponent(r.key)}`;
  const cls = r.kind === "response" ? statusClass(r.status) : "req";
  const route = [r.route, r.policy].filter(Boolean).join(" \u00b7 ");
  return el("tr", { "data-key": r.key, "data-kind": r.kind },
    el("td", { class: "time" },
       el("a", { href: tx }, fmtTime(r["@timestamp"]))),
    el("td", {}, r.client),
    el("td", {}, r.server),
    el("td", {}, r.method || ""),
    el("td", { class: "uri" }, el("a", { href: tx }, r.uri)),
    el("td", {}, r.kind === "response"
      ? el("span", { class: `st st-${cls}` },
           r.status ? String(r.status)
             : r.outcome === "ok" ? "0.9" : "none")
      : el("span", { class: "muted" }, "request")),
    el("td", { class: "num" }, fmtNum(r.bytes)),
    el("td", { class: "num" },
       r.duration_ms !== undefined ? r.duration_ms.toFixed(3) : ""),
    el("td", {}, r.outcome || ""),
    el("td", { class: "flags" }, (r.flags || []).join(", ")),
    el("td", {}, route));
}

async function showList() {
  $("view-list").hidden = false;
  const p = filterParams(true);
  const before = query.get("before");
  if (before) p.set("before", before);
  if (query.get("limit")) p.set("limit", query.get("limit"));
  const page = await getJSON(`/api/records?${p}`);
  $("rows").replaceChildren(...page.records.map(listRow));
  $("empty").hidden = page.records.length > 0;
  $("older").hidden = !page.next;
  if (page.next) $("older").href = pageURL({ before: page.next });
  $("newest").hidden = !before;
  $("newest").href = pageURL({ before: null });
  $("list-info").textContent =
    `${page.records.length} records${before ? " (older page)" : ""}, ` +
    `answered in ${page.ms} ms`;
  if (page.live && !before)
    setTimeout(() => showList().catch((e) => showError(e.message)),
               LIVE_REFRESH_MS);
}

// ---- a transaction ---------------------------------------------------

function b64bytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function hexdump(bytes) {
  const lines = [];
  const n = Math.min(bytes.length, HEX_MAX);
  for (let off = 0; off < n; off += 16) {
    const row = bytes.subarray(off, Math.min(off + 16, n));
    let hex = "", text = "";
    for (let i = 0; i < 16; i++) {
      hex += i < row.length ? row[i].toString(16).padStart(2, "0") + " "
                            : "   ";
      if (i === 7) hex += " ";
      if (i < row.length)
        text += row[i] >= 0x20 && row[i] < 0x7f
          ? String.fromCharCode(row[i]) : ".";
    }
    lines.push(`${off.toString(16).padStart(8, "0")}  ${hex} |${text}|`);
  }
  if (bytes.length > n)
    lines.push(`... ${fmtNum(bytes.length - n)} more bytes not shown`);
  return lines.join("\n");
}

// The bytes of a body object ({content} text or {base64}) as a block.
function bodyBlock(b, what) {
  if (b.content !== undefined)
    return el("pre", { class: "body text", "data-body": what }, b.content);
  if (b.base64 !== undefined)
    return el("pre", { class: "body hex", "data-body": what },
              hexdump(b64bytes(b.base64)));
  return el("p", { class: "muted" }, "(no bytes captured)");
}

function bodySection(rec, view) {
  const b = rec.hark.body;
  const v = view.body;
  const box = el("div", { class: "bodybox" });
  const facts = [`captured ${fmtNum(v.captured)} of ${fmtNum(v.length)} bytes`];
  if (v.truncated) facts.push("truncated: the policy keeps only the beginning");
  box.append(el("p", { class: "bodyfacts" }, facts.join("; ")));
  box.append(el("p", { class: "digest" }, "sha256 of the captured bytes: ",
                el("code", {}, v.sha256)));
  if (v.encoding) {
    const d = v.decoded;
    const words = {
      whole: "decoded whole",
      prefix: "decoded up to where the captured bytes end",
      capped: "decoding stopped at 4 MiB",
      invalid: "not valid for this encoding",
    };
    box.append(el("p", { class: "encoding" },
      `Content-Encoding: ${v.encoding}`,
      d ? ` - ${words[d.state] || d.state}: ${fmtNum(d.bytes)} bytes ` +
          `from ${fmtNum(v.captured)} captured`
        : " - shown as sent (not decoded here)"));
    if (d && d.bytes) box.append(bodyBlock(d, "decoded"));
    if (v.captured) {
      const raw = el("details", {}, el("summary", {}, "bytes as captured"),
                     bodyBlock(b, "raw"));
      box.append(raw);
    }
  } else {
    box.append(bodyBlock(b, "raw"));
  }
  return box;
}

function chainSection(c) {
  const box = el("div", { class: "chain" });
  if (!c.available) {
    box.append(el("p", { class: "muted" }, `Hash chain: ${c.why}`));
    return box;
  }
  const ok = c.verifies;
  box.append(el("p", { class: ok ? "ok" : "bad", "data-verifies": String(ok) },
    ok ? `Chain entry ${fmtNum(c.seq)} of ${fmtNum(c.last_seq)}: the record ` +
         "verifies (its bytes hash to its entry)"
       : `Does not verify: ${c.why}`));
  if (c.hash)
    box.append(el("p", { class: "digest" }, "entry hash ",
                  el("code", {}, c.hash)));
  const cp = c.checkpoint;
  box.append(el("p", { class: "muted" }, cp
    ? `Covered by the checkpoint at seq ${fmtNum(cp.seq)} ` +
      `(${cp.signed ? "signed" : "unsigned"}${cp.final ? ", final" : ""}; ` +
      `${cp.matches ? "matches the chain" : "does NOT match the chain"})`
    : "No checkpoint covers it yet."));
  box.append(el("p", { class: "muted" },
    "`hark verify` checks the whole chain and its anchors."));
  return box;
}

function headersTable(rec, view) {
  const redacted = new Set(view.redacted);
  const t = el("table", { class: "headers" });
  rec.hark.headers.forEach(([name, value], i) => {
    t.append(el("tr", {},
      el("th", {}, name),
      redacted.has(i)
        ? el("td", { class: "redacted" },
             el("span", { class: "badge" }, "redacted"))
        : el("td", {}, value)));
  });
  if (!rec.hark.headers.length)
    t.append(el("tr", {}, el("td", { class: "muted" }, "(none)")));
  return t;
}

function side(s, focus) {
  const rec = s.record, v = s.view;
  const isResp = rec.event.action === "response";
  const panel = el("article", {
    class: `side${s.key === focus ? " focus" : ""}`,
    "data-key": s.key, "data-kind": rec.event.action });
  const status = isResp && rec.http.response
    ? rec.http.response.status_code : null;
  panel.append(el("h3", {}, isResp ? "Response" : "Request",
    isResp ? el("span", { class: `st st-${statusClass(status)}` },
                status ? String(status)
                  : rec.http.response ? "HTTP/0.9, no status line"
                  : "no response") : null));
  const facts = el("dl", { class: "facts" });
  const fact = (k, ...vals) =>
    facts.append(el("dt", {}, k), el("dd", {}, ...vals));
  fact("time", fmtTime(rec["@timestamp"]));
  fact("client", `${rec.source.ip}:${rec.source.port}`);
  fact("server", `${rec.destination.ip}:${rec.destination.port}`);
  fact("connection", `${rec.hark.uid} #${rec.hark.idx}`);
  const method = rec.http.request ? rec.http.request.method || "" : "";
  fact("request", `${method} ${rec.url.original}`);
  if (rec.hark.route)
    fact("route", `${rec.hark.service_group || ""} ${rec.hark.route} ` +
                  `\u2192 ${rec.hark.policy || ""}`);
  if (rec.hark.step) fact("step", rec.hark.step);
  if (v.outcome)
    fact("outcome", el("b", {}, v.outcome.name), ` - ${v.outcome.meaning}`);
  const t = v.timings;
  if (t.request_start) fact("request began", fmtTime(t.request_start));
  if (t.response_start) fact("response began", fmtTime(t.response_start));
  if (t.wait_end) fact("wait ended", fmtTime(t.wait_end));
  if (t.latency_ms !== undefined)
    fact("latency", `${t.latency_ms.toFixed(3)} ms ` +
                    "(request's end to response's first byte)");
  panel.append(facts);
  if (v.flags.length) {
    panel.append(el("h4", {}, "Flags"));
    panel.append(el("ul", { class: "flaglist" },
      ...v.flags.map((f) => el("li", { "data-flag": f.name },
                               el("b", {}, f.name), ` - ${f.meaning}`))));
  }
  panel.append(el("h4", {}, "Headers"));
  panel.append(headersTable(rec, v));
  panel.append(el("h4", {}, "Body"));
  panel.append(bodySection(rec, v));
  panel.append(el("h4", {}, "Hash chain"));
  panel.append(chainSection(s.chain));
  return panel;
}

function outageSide(s) {
  const rec = s.record, o = rec.hark.outage;
  const panel = el("article", { class: "side focus", "data-key": s.key,
                                "data-kind": "outage" });
  panel.append(el("h3", {}, "Outage",
                  el("span", { class: "st st-none" }, o.stage)));
  const facts = el("dl", { class: "facts" });
  const fact = (k, v) => facts.append(el("dt", {}, k), el("dd", {}, v));
  fact("stage", o.stage);
  fact("reason", o.reason);
  fact("down from", fmtTime(rec["@timestamp"]));
  fact("back at", fmtTime(rec.event.end));
  for (const [k, v] of Object.entries(o.lost)) fact(`lost: ${k}`, fmtNum(v));
  panel.append(facts);
  panel.append(el("p", { class: "muted" },
    "Records may be missing while a stage was down."));
  panel.append(el("h4", {}, "Hash chain"));
  panel.append(chainSection(s.chain));
  return panel;
}

async function showTx() {
  $("view-tx").hidden = false;
  $("filters").hidden = true;
  const key = query.get("key") || "";
  const ref = document.referrer;
  $("back").href = ref && new URL(ref).origin === location.origin ? ref : "/";
  const tx = await getJSON(`/api/record?key=${encodeURIComponent(key)}`);
  if (tx.outage) {
    $("tx-title").textContent =
      `Outage of ${tx.outage.record.hark.outage.stage}`;
    $("tx").replaceChildren(outageSide(tx.outage));
    return;
  }
  const sides = [];
  if (tx.request) sides.push(tx.request);
  sides.push(...tx.responses);
  const first = tx.request || tx.responses[0];
  const r = first.record;
  const resp = tx.responses[0];
  const st = resp && resp.record.http.response
    ? resp.record.http.response.status_code : null;
  $("tx-title").textContent =
    `${r.http.request ? r.http.request.method || "" : ""} ${r.url.original}` +
    (resp ? ` \u2192 ${st || resp.view.outcome.name}` : "");
  const notes = [];
  if (!tx.request)
    notes.push("No request record: the response is an orphan, or its " +
               "request is outside the trail.");
  if (!tx.responses.length) notes.push("No response record yet.");
  if (!tx.complete)
    notes.push("The search for more records of this transaction stopped " +
               "early.");
  $("tx-note").textContent = notes.join(" ");
  if (!tx.request) sides.unshift(null);
  $("tx").replaceChildren(...sides.map((s) => s ? side(s, tx.focus)
    : el("article", { class: "side missing" }, el("h3", {}, "Request"),
         el("p", { class: "muted" }, "not in the trail"))));
}

// ---- charts ----------------------------------------------------------

function dataTable(cls, head, rows) {
  return el("table", { class: `chart-data ${cls}` },
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c, i) =>
      el(i === 0 ? "th" : "td", { class: i ? "num" : null }, String(c)))))));
}

function round2(v) {
  return Math.round(v * 100) / 100;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function drawRate(fig, c) {
  const W = 1000, H = 260, L = 56, R = 10, T = 10, B = 34;
  const n = c.buckets.length;
  const secs = c.bucket_ms / 1000;
  const perSec = c.buckets.map((b) => b.reduce((a, x) => a + x, 0) / secs);
  const ymax = niceMax(Math.max(0, ...perSec));
  const svg = sv("svg", {
    viewBox: `0 0 ${W} ${H}`, class: "plot", role: "img",
    "aria-label": "requests per second by status class" });
  const y = (v) => T + (H - T - B) * (1 - v / ymax);
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    sv("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }, svg);
    sv("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" },
       svg).textContent = v >= 10 ? fmtNum(Math.round(v)) : String(round2(v));
  }
  const bw = (W - L - R) / Math.max(n, 1);
  c.buckets.forEach((b, i) => {
    let acc = 0;
    const t0 = c.start_ms + i * c.bucket_ms;
    b.forEach((count, k) => {
      if (!count) return;
      const h = (H - T - B) * (count / secs) / ymax;
      const rect = sv("rect", {
        x: L + i * bw + 0.5, width: Math.max(bw - 1, 1),
        y: y(acc / secs) - h, height: h,
        class: `bar c-${CLASSES[k]}`, "data-class": CLASSES[k],
        "data-count": count, "data-t": t0,
      }, svg);
      acc += count;
      sv("title", {}, rect).textContent =
        `${fmtMs(t0)}: ${count} ${CLASSES[k]} (${round2(count / secs)}/s)`;
      rect.addEventListener("click", () => location.assign(pageURL({
        view: null, before: null,
        since: new Date(t0).toISOString(),
        until: new Date(t0 + c.bucket_ms).toISOString(),
        status: CLASSES[k] })));
    });
  });
  // the first, middle and last bar's time, kept inside the plot
  [...new Set([0, Math.floor(n / 2), n - 1])].filter((i) => i >= 0)
    .forEach((i, k, all) => {
      const anchor = k === 0 ? "start"
        : k === all.length - 1 ? "end" : "middle";
      const x = anchor === "start" ? L + i * bw
        : anchor === "end" ? L + (i + 1) * bw : L + i * bw + bw / 2;
      sv("text", { x, y: H - B + 16, class: "axis", "text-anchor": anchor },
         svg).textContent = fmtMs(c.start_ms + i * c.bucket_ms).slice(11);
    });
  sv("text", { x: L, y: H - 4, class: "axis" }, svg).textContent =
    `${fmtMs(c.since_ms)} to ${fmtMs(c.until_ms)} UTC, ${c.bucket_ms} ms a bar`;
  fig.append(svg);
  const legend = el("p", { class: "legend" });
  CLASSES.forEach((k) =>
    legend.append(el("span", { class: `key c-${k}` }), ` ${k} `));
  fig.append(legend);
  fig.append(dataTable("rate", ["class", "requests", "per second"],
    CLASSES.map((k, i) => [k, c.totals[i],
      round2(c.totals[i] / Math.max((c.until_ms - c.since_ms) / 1000,
                                    1e-3))])));
}

// Horizontal bars: items [{label, value, part?, href?}]
function hbars(items, unit, attrs) {
  const W = 480, rowH = 22, L = 180, R = 70;
  const H = Math.max(items.length, 1) * rowH + 6;
  const svg = sv("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot",
                          role: "img" });
  const max = Math.max(1e-9, ...items.map((it) => it.value));
  items.forEach((it, i) => {
    const yy = 3 + i * rowH;
    const label = it.label.length > 28 ? it.label.slice(0, 27) + "\u2026"
                                       : it.label;
    const t = sv("text", { x: L - 6, y: yy + 15, class: "axis",
                           "text-anchor": "end" }, svg);
    t.textContent = label;
    sv("title", {}, t).textContent = it.label;
    const w = (W - L - R) * it.value / max;
    const g = sv("g", Object.assign({ class: "hbar" }, attrs(it)), svg);
    sv("rect", { x: L, y: yy + 3, width: Math.max(w, 1), height: rowH - 8,
                 class: "bar c-main" }, g);
    if (it.part) sv("rect", { x: L, y: yy + 3,
                               width: Math.max((W - L - R) * it.part / max, 0),
                               height: rowH - 8, class: "bar c-err" }, g);
    sv("text", { x: L + w + 4, y: yy + 15, class: "axis" }, svg).textContent =
      (Number.isInteger(it.value) ? fmtNum(it.value)
                                  : it.value.toFixed(3)) + unit;
    if (it.href) g.addEventListener("click", () => location.assign(it.href));
  });
  return svg;
}

function drawLatency(fig, c) {
  if (!c.routes.length) {
    fig.append(el("p", { class: "muted" }, "No responses in this range."));
    return;
  }
  const W = 1000, rowH = 26, L = 260, R = 90;
  const qs = [["p50_ms", "p50"], ["p90_ms", "p90"], ["p99_ms", "p99"]];
  const H = c.routes.length * rowH * 3 + 10;
  const max = niceMax(Math.max(...c.routes.map((r) => r.p99_ms)));
  const svg = sv("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot",
                          role: "img" });
  c.routes.forEach((r, i) => {
    const y0 = 5 + i * rowH * 3;
    sv("text", { x: L - 8, y: y0 + rowH * 1.5 + 5, class: "axis",
                 "text-anchor": "end" }, svg).textContent =
      `${r.route} (${r.group})`;
    qs.forEach(([k, name], q) => {
      const w = (W - L - R) * r[k] / max;
      const yy = y0 + q * rowH;
      sv("rect", { x: L, y: yy + 4, width: Math.max(w, 1), height: rowH - 8,
                   class: `bar q-${name}`, "data-route": r.route,
                   "data-q": name,
                   "data-ms": r[k] }, svg);
      sv("text", { x: L + w + 4, y: yy + rowH / 2 + 4, class: "axis" }, svg)
        .textContent = `${name} ${r[k].toFixed(3)} ms`;
    });
  });
  fig.append(svg);
  fig.append(dataTable("latency", ["route", "group", "responses", "p50 ms",
                                   "p90 ms", "p99 ms", "max ms"],
    c.routes.map((r) => [r.route, r.group, r.count, r.p50_ms.toFixed(3),
                         r.p90_ms.toFixed(3), r.p99_ms.toFixed(3),
                         r.max_ms.toFixed(3)])));
}

function drawTop(fig, list, filter, what) {
  if (!list.length) {
    fig.append(el("p", { class: "muted" }, "No responses in this range."));
    return;
  }
  fig.append(hbars(list.map((e) => ({
    label: e.name, value: e.count, part: e.errors,
    href: pageURL({ view: null, before: null, [filter]: e.name }) })),
    "", (it) => ({ "data-name": it.label, "data-count": it.value })));
  fig.append(dataTable(what, [what, "requests", "errors"],
    list.map((e) => [e.name, e.count, e.errors])));
}

function drawOutcomes(fig, c) {
  const shown = c.outcomes.filter((o) => o.count > 0);
  if (shown.length)
    fig.append(hbars(shown.map((o) => ({ label: o.name, value: o.count,
      href: pageURL({ view: null, before: null,
                      outcome: o.name === "other" ? null : o.name }) })),
      "", (it) => ({ "data-name": it.label, "data-count": it.value })));
  else fig.append(el("p", { class: "muted" }, "No responses in this range."));
  fig.append(dataTable("outcomes", ["outcome", "responses"],
    c.outcomes.map((o) => [o.name, o.count])));
}

async function showCharts() {
  $("view-charts").hidden = false;
  const p = filterParams(false);
  const draw = {
    rate: (f, c) => drawRate(f, c),
    latency: (f, c) => drawLatency(f, c),
    paths: (f, c) => drawTop(f, c.paths, "path", "path"),
    clients: (f, c) => drawTop(f, c.clients, "client", "client"),
    outcomes: (f, c) => drawOutcomes(f, c),
  };
  const times = [];
  await Promise.all(Object.keys(draw).map(async (name) => {
    const fig = $(`chart-${name}`);
    try {
      const c = await getJSON(`/api/chart/${name}?${p}`);
      draw[name](fig, c);
      fig.dataset.total = c.total;
      times.push(`${name} ${c.ms} ms`);
    } catch (e) {
      fig.append(el("p", { class: "error" }, e.message));
    }
  }));
  $("charts-info").textContent = "Counted by their response records. " +
    `Answered in: ${times.join(", ")}.`;
}

// ---- start -----------------------------------------------------------

async function main() {
  const view = query.get("view") || "list";
  setupForm(view);
  try {
    const info = await getJSON("/api/info");
    $("trail").textContent = info.trail;
    $("live").hidden = !info.live;
    if (info.indexed === false)
      $("slow").hidden = false;
    if (view === "tx") await showTx();
    else if (view === "charts") await showCharts();
    else await showList();
  } catch (e) {
    showError(e.message);
  }
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", main);
