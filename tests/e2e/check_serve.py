"""check_serve.py - checks `hark serve`'s page and API against the trail.

The trail is `hark query --json` (JSON lines); the page is Chromium's
dump of the DOM after the page's script ran. What the page shows must be
what the trail holds, worked out here independently:

  check_serve.py list DOM TRAIL [NAME=VALUE...]   the rows, newest first,
                                                   under these filters
  check_serve.py tx DOM TRAIL                      a transaction, whole
  check_serve.py charts DOM TRAIL                  every chart's numbers
  check_serve.py api-list JSON TRAIL [NAME=VALUE...]  /api/records pages
                                                   (concatenated JSON
                                                   objects, one a line)
  check_serve.py static HTML                       no inline script/style
  check_serve.py key TRAIL NAME=VALUE...           the key of the newest
                                                   response matching

Prints what is wrong and exits 1 on any mismatch.
"""
import base64
import gzip
import hashlib
import ipaddress
import json
import sys
import zlib
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}
PROBLEMS = []


def problem(msg):
    PROBLEMS.append(msg)


# ---- a small DOM ---------------------------------------------------------

class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children = []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text()
                       for c in self.children)

    def walk(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.walk()

    def find_all(self, tag=None, cls=None, **attrs):
        for n in self.walk():
            if tag and n.tag != tag:
                continue
            if cls and cls not in n.attrs.get("class", "").split():
                continue
            if all(n.attrs.get(k.replace("_", "-")) == v
                   for k, v in attrs.items()):
                yield n

    def find(self, tag=None, cls=None, **attrs):
        return next(self.find_all(tag, cls, **attrs), None)

    def by_id(self, ident):
        return next((n for n in self.walk() if n.attrs.get("id") == ident),
                    None)


class Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def load_dom(path):
    b = Builder()
    with open(path, encoding="utf-8") as f:
        b.feed(f.read())
    return b.root


def page_ok(dom):
    body = dom.find("body")
    if not body or body.attrs.get("data-ready") != "1":
        problem("the page's script did not finish (no data-ready)")
    err = dom.by_id("error")
    if err is not None and "hidden" not in err.attrs:
        problem("the page shows an error: %s" % err.text())


# ---- the trail -----------------------------------------------------------

def load_trail(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def kind(r):
    return r["event"]["action"]


def status(r):
    return r["http"].get("response", {}).get("status_code")


def ts_us(r):
    """@timestamp as integer microseconds."""
    s = r["@timestamp"]
    date, frac = s[:19], s[20:-1] if "." in s else ""
    import calendar
    import time
    sec = calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%S"))
    return sec * 1000000 + int((frac + "000000")[:6])


def order(r):
    """The trail's key order: time, connection number, idx, kind."""
    return (ts_us(r), int(r["hark"]["uid"], 16), r["hark"]["idx"],
            1 if kind(r) == "request" else 2)


def key_fields(key):
    """(ts_us, uid, idx, kind) of a record key in hex."""
    b = bytes.fromhex(key)
    return (int.from_bytes(b[1:9], "big") // 1000, b[9:17].hex(),
            int.from_bytes(b[17:21], "big"),
            "request" if b[21] == 1 else "response")


def same_record(r, key):
    t, uid, idx, k = key_fields(key)
    return (ts_us(r) == t and r["hark"]["uid"] == uid and
            r["hark"]["idx"] == idx and kind(r) == k)


def norm_ip(s):
    return str(ipaddress.ip_address(s))


def matches(r, f):
    """The API's filters (serve_params.c), worked out again."""
    for name, v in f.items():
        if name == "kind":
            if v != "any" and kind(r) != v:
                return False
        elif name == "status":
            st = status(r)
            if kind(r) != "response":
                return False
            if v == "none":
                if st is not None:
                    return False
            elif v.lower().endswith("xx"):
                if st is None or st // 100 != int(v[0]):
                    return False
            elif st != int(v):
                return False
        elif name == "path":
            if not r["url"].get("path", "").startswith(v):
                return False
        elif name == "method":
            if r["http"].get("request", {}).get("method") != v:
                return False
        elif name == "outcome":
            if kind(r) != "response" or r["hark"].get("outcome") != v:
                return False
        elif name == "flag":
            if v not in r["hark"]["flags"]:
                return False
        elif name in ("client", "server"):
            ep = r["source" if name == "client" else "destination"]
            ip, port = v, None
            if v.startswith("["):
                ip, _, port = v[1:].partition("]:")
            elif v.count(":") == 1:
                ip, port = v.split(":")
            if norm_ip(ep["ip"]) != norm_ip(ip.rstrip("]")):
                return False
            if port and ep.get("port") != int(port):
                return False
        elif name == "uid":
            if r["hark"]["uid"].lower() != v.lower():
                return False
        elif name in ("since", "until"):
            t = ts_us(r)
            lim = int(float(v) * 1000000)
            if (name == "since" and t < lim) or (name == "until" and t >= lim):
                return False
        else:
            raise SystemExit("check_serve: unknown filter %s" % name)
    return True


def selected(trail, f, kind_default="response"):
    """The records f selects, newest first; the page asks for responses
    unless told otherwise, the API for both kinds."""
    f = dict(f)
    f.setdefault("kind", kind_default)
    return sorted((r for r in trail if matches(r, f)), key=order,
                  reverse=True)


def fmt_time(r):
    return r["@timestamp"].replace("T", " ").replace("Z", "")


def endpoint(ep):
    ip = ep["ip"]
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, ep["port"])


# ---- list ----------------------------------------------------------------

def check_list(dom, trail, f, limit=50):
    page_ok(dom)
    rows = list(dom.find_all("tr", **{}))
    rows = [r for r in rows if "data-key" in r.attrs]
    want = selected(trail, f)[:limit]
    if len(rows) != len(want):
        problem("list %s: %d rows, want %d" % (f, len(rows), len(want)))
    for i, (row, r) in enumerate(zip(rows, want)):
        cells = [c.text().strip() for c in row.children
                 if isinstance(c, Node) and c.tag == "td"]
        if not same_record(r, row.attrs["data-key"]):
            problem("list %s row %d: key %s is not %s %s:%d" % (
                f, i, row.attrs["data-key"], kind(r), r["hark"]["uid"],
                r["hark"]["idx"]))
            continue
        st = status(r)
        exp = [fmt_time(r), endpoint(r["source"]), endpoint(r["destination"]),
               r["http"].get("request", {}).get("method", ""),
               r["url"]["original"],
               ("request" if kind(r) == "request"
                else str(st) if st else "none"),
               "{:,}".format(r["http"].get("response", r["http"].get(
                   "request", {})).get("body", {}).get("bytes", 0)),
               None,
               r["hark"].get("outcome", "") if kind(r) == "response" else "",
               ", ".join(r["hark"]["flags"]), None]
        for col, (got, w) in enumerate(zip(cells, exp)):
            if w is not None and got != w:
                problem("list %s row %d col %d: %r, want %r" % (
                    f, i, col, got, w))
        dur = r["event"].get("duration")
        if dur is not None and cells[7] != "%d.%03d" % (dur // 1000000,
                                                         dur // 1000 % 1000):
            problem("list row %d: duration %r, want %d ns" % (i, cells[7],
                                                             dur))


# ---- a transaction --------------------------------------------------------

def body_bytes(r):
    b = r["hark"]["body"]
    if "content" in b:
        return b["content"].encode()
    return base64.b64decode(b.get("base64", ""))


def header(r, name):
    for n, v in r["hark"]["headers"]:
        if n.lower() == name.lower():
            return v.strip()
    return None


def check_side(art, r):
    label = "%s %s:%d" % (kind(r), r["hark"]["uid"], r["hark"]["idx"])
    # headers: every one, in order; redacted values shown as such
    table = art.find("table", cls="headers")
    got = [(tr.find("th").text(), tr.find("td"))
           for tr in table.find_all("tr") if tr.find("th")]
    want = r["hark"]["headers"]
    if [g[0] for g in got] != [w[0] for w in want]:
        problem("%s: header names %s, want %s" % (
            label, [g[0] for g in got], [w[0] for w in want]))
    for (name, td), (_, value) in zip(got, want):
        red = "redacted" in td.attrs.get("class", "")
        if value == "[redacted]" and not red:
            problem("%s: %s not shown as redacted" % (label, name))
        if value != "[redacted]" and (red or td.text() != value):
            problem("%s: %s shows %r, want %r" % (label, name, td.text(),
                                                  value))
    # body: digest, wholeness, bytes (decoded when compressed)
    raw = body_bytes(r)
    digest = hashlib.sha256(raw).hexdigest()
    if digest not in art.text():
        problem("%s: sha256 %s not shown" % (label, digest))
    captured, length = len(raw), r["http"].get(
        "response" if kind(r) == "response" else "request",
        {}).get("body", {}).get("bytes", len(raw))
    truncated = "truncated" in art.find("p", cls="bodyfacts").text()
    if truncated != (captured < length):
        problem("%s: truncated shown %s, captured %d of %d" % (
            label, truncated, captured, length))
    enc = header(r, "Content-Encoding")
    if enc in ("gzip", "x-gzip", "deflate") and raw:
        try:
            data = zlib.decompress(raw, 15 + 32)
        except zlib.error:
            data = gzip.decompress(raw)
        pre = art.find("pre", data_body="decoded")
        if pre is None or pre.text() != data.decode():
            problem("%s: the decoded body is not the %s-decoded bytes" % (
                label, enc))
    elif raw:
        pre = art.find("pre", data_body="raw")
        text = "content" in r["hark"]["body"]
        if pre is None:
            problem("%s: no body shown" % label)
        elif text and pre.text() != r["hark"]["body"]["content"]:
            problem("%s: the body text differs" % label)
        elif not text:
            first = " ".join("%02x" % b for b in raw[:8])
            hexed = "hex" in pre.attrs.get("class", "")
            if not hexed or first not in pre.text():
                problem("%s: binary body not shown as hex (%s...)" % (
                    label, first))
    flags = [li.attrs["data-flag"] for li in art.find_all("li")
             if "data-flag" in li.attrs]
    if flags != r["hark"]["flags"]:
        problem("%s: flags %s, want %s" % (label, flags, r["hark"]["flags"]))
    if kind(r) == "response" and r["hark"]["outcome"] not in art.text():
        problem("%s: outcome %s not shown" % (label, r["hark"]["outcome"]))
    v = art.find(None, None, data_verifies="true")
    if v is None:
        problem("%s: the chain does not say it verifies" % label)


def check_tx(dom, trail):
    page_ok(dom)
    arts = [a for a in dom.find_all("article") if "data-key" in a.attrs]
    focus = [a for a in arts if "focus" in a.attrs.get("class", "")]
    if len(focus) != 1:
        problem("tx: %d focused records, want 1" % len(focus))
        return
    t, uid, idx, _ = key_fields(focus[0].attrs["data-key"])
    want = [r for r in trail
            if r["hark"]["uid"] == uid and r["hark"]["idx"] == idx]
    if len(arts) != len(want):
        problem("tx %s:%d: %d records shown, the trail has %d" % (
            uid, idx, len(arts), len(want)))
    for a in arts:
        r = next((r for r in want if same_record(r, a.attrs["data-key"])),
                 None)
        if r is None:
            problem("tx: %s is not in the trail" % a.attrs["data-key"])
        else:
            check_side(a, r)


# ---- charts ---------------------------------------------------------------

def table_rows(dom, cls):
    t = dom.find("table", cls=cls)
    if t is None:
        problem("charts: no %s table" % cls)
        return []
    body = t.find("tbody")
    return [[c.text() for c in tr.children if isinstance(c, Node)]
            for tr in body.find_all("tr")]


def nearest_rank(values, q):
    values = sorted(values)
    rank = (q * len(values) + 99) // 100
    return values[max(rank, 1) - 1]


def ms3(ns):
    return "%d.%03d" % (ns // 1000000, ns // 1000 % 1000)


def top(counter, errors, n=10):
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0].encode()))
    return [[k, str(v), str(errors.get(k, 0))] for k, v in items[:n]]


def check_charts(dom, trail):
    page_ok(dom)
    resp = [r for r in trail if kind(r) == "response"]
    classes = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"]
    counts = {c: 0 for c in classes}
    for r in resp:
        st = status(r)
        counts["%dxx" % (st // 100) if st and 100 <= st < 600 else "none"] += 1
    got = {row[0]: row[1] for row in table_rows(dom, "rate")}
    if got != {c: str(n) for c, n in counts.items()}:
        problem("rate: totals %s, want %s" % (got, counts))
    bars = list(dom.find("figure", id="chart-rate").find_all("rect"))
    for c in classes:
        n = sum(int(b.attrs["data-count"]) for b in bars
                if b.attrs.get("data-class") == c)
        if n != counts[c]:
            problem("rate: the %s bars add up to %d, want %d" % (c, n,
                                                                counts[c]))
    # latency per route: responses that came
    routes = {}
    for r in resp:
        if status(r):
            k = (r["hark"].get("route", ""), r["hark"].get("service_group",
                                                            ""))
            routes.setdefault(k, []).append(r["event"]["duration"])
    want = []
    for (route, group), v in sorted(routes.items(),
                                    key=lambda kv: (-len(kv[1]),
                                                    (kv[0][1] + "\n" +
                                                     kv[0][0]).encode())):
        want.append([route, group, str(len(v))] +
                    [ms3(nearest_rank(v, q)) for q in (50, 90, 99, 100)])
    got = table_rows(dom, "latency")
    if got != want[:10]:
        problem("latency: %s, want %s" % (got, want[:10]))
    for name, field, cls in (("paths", lambda r: r["url"].get("path", ""),
                              "path"),
                             ("clients", lambda r: r["source"]["ip"],
                              "client")):
        c, e = {}, {}
        for r in resp:
            k = field(r)
            c[k] = c.get(k, 0) + 1
            st = status(r)
            if not st or st >= 400:
                e[k] = e.get(k, 0) + 1
        got = table_rows(dom, cls)
        if got != top(c, e):
            problem("%s: %s, want %s" % (name, got, top(c, e)))
    outcomes = ["ok", "timeout", "closed", "eof", "late", "orphan", "lost"]
    oc = {o: 0 for o in outcomes}
    for r in resp:
        oc[r["hark"]["outcome"]] += 1
    got = table_rows(dom, "outcomes")
    if got != [[o, str(oc[o])] for o in outcomes]:
        problem("outcomes: %s, want %s" % (got, oc))


# ---- the API --------------------------------------------------------------

def check_api_list(path, trail, f):
    """Pages of /api/records, one JSON object a line: together, every
    selected record once, newest first."""
    keys = []
    with open(path) as fh:
        pages = [json.loads(line) for line in fh if line.strip()]
    for i, p in enumerate(pages):
        keys += [r["key"] for r in p["records"]]
        if (p["next"] is None) != (i == len(pages) - 1):
            problem("api %s: page %d next %s" % (f, i, p["next"]))
    want = selected(trail, f, "any")
    if len(keys) != len(want) or len(set(keys)) != len(keys):
        problem("api %s: %d keys (%d distinct), want %d" % (
            f, len(keys), len(set(keys)), len(want)))
    for k, r in zip(keys, want):
        if not same_record(r, k):
            problem("api %s: %s is not %s %s:%d" % (
                f, k, kind(r), r["hark"]["uid"], r["hark"]["idx"]))
            break


def check_static(path):
    """The page's markup: scripts only by src, no inline handlers or
    styles (the Content-Security-Policy would block them)."""
    dom = load_dom(path)
    for n in dom.walk():
        if n.tag == "script" and (not n.attrs.get("src") or n.text().strip()):
            problem("an inline script")
        if n.tag == "style":
            problem("an inline style sheet")
        for a in n.attrs:
            if a.startswith("on") or a == "style":
                problem("<%s %s=...> inline" % (n.tag, a))
        for a in ("src", "href"):
            v = n.attrs.get(a) or ""
            if "://" in v or v.startswith("//"):
                problem("<%s %s=%s> loads from elsewhere" % (n.tag, a, v))


def filters(args):
    return dict(a.split("=", 1) for a in args)


def main(argv):
    cmd = argv[1]
    if cmd == "static":
        check_static(argv[2])
    elif cmd == "key":
        trail = load_trail(argv[2])
        r = selected(trail, filters(argv[3:]))
        if not r:
            raise SystemExit("check_serve: no record matches")
        ts = ts_us(r[0]) * 1000
        print("74%016x%s%08x%02x" % (ts, r[0]["hark"]["uid"],
                                     r[0]["hark"]["idx"],
                                     1 if kind(r[0]) == "request" else 2))
        return 0
    elif cmd == "api-list":
        check_api_list(argv[2], load_trail(argv[3]), filters(argv[4:]))
    else:
        dom, trail = load_dom(argv[2]), load_trail(argv[3])
        if cmd == "list":
            check_list(dom, trail, filters(argv[4:]))
        elif cmd == "tx":
            check_tx(dom, trail)
        elif cmd == "charts":
            check_charts(dom, trail)
        else:
            raise SystemExit("check_serve: unknown command %s" % cmd)
    for p in PROBLEMS:
        print(p)
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
