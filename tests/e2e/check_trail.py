"""check_trail.py JSONL EXPECT [--exact] [--server-port P] [--quiet]
[--requests-only]: checks audit records (one JSON object a line, `hark
query --json`) against the expected transactions (demo.expect.tsv's
columns):
 - each record is a JSON object with @timestamp, event.action request or
   response, hark.uid and hark.idx; one request and at most one response
   per (uid, idx); outage records (a stage that died: event.action
   "outage", hark.outage) are not transactions and are left aside, except
   with --exact, where there must be none;
 - each expected transaction has a request record (method, url.original
   = the path column, url.path without the query, request body bytes) and
   a response record (status, response body bytes, outcome "ok");
 - --exact: no other transactions, and the records group into connections
   (uid) exactly as the conn/idx columns say;
 - --server-port: requests go to that destination.port.
--requests-only: only a request record with url.original = path is looked
for (readiness: the transaction got through).
Prints what is wrong (unless --quiet) and exits 1 on any mismatch.
"""
import argparse, collections, json, sys

ap = argparse.ArgumentParser()
ap.add_argument("jsonl")
ap.add_argument("expect")
ap.add_argument("--exact", action="store_true")
ap.add_argument("--server-port", type=int)
ap.add_argument("--quiet", action="store_true")
ap.add_argument("--requests-only", action="store_true")
a = ap.parse_args()
errors = []
class _Missing:
    def __repr__(self):
        return "(missing)"


MISSING = _Missing()


def err(msg):
    errors.append(msg)


def get(rec, dotted):
    """ECS field: nested objects ({"url":{"path":..}}) or a flat key."""
    node = rec
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return rec.get(dotted, MISSING)
    return node


def show(v):
    return "(missing)" if v is MISSING else repr(v)


# --- the trail -------------------------------------------------------------
tx = collections.OrderedDict()
with open(a.jsonl, encoding="utf-8", errors="replace") as f:
    for n, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            err("line %d: not JSON (%s): %.120s" % (n, e, line))
            continue
        if not isinstance(rec, dict):
            err("line %d: not a JSON object" % n)
            continue
        if get(rec, "event.action") == "outage":
            if a.exact or get(rec, "hark.outage.stage") is MISSING:
                err("line %d: an outage: %.200s" % (n, line))
            continue
        for k in ("@timestamp", "event.action", "hark.uid", "hark.idx"):
            if get(rec, k) is MISSING:
                err("line %d: no %s: %.200s" % (n, k, line))
        act = get(rec, "event.action")
        if act not in ("request", "response"):
            err("line %d: event.action is %s" % (n, show(act)))
            continue
        key = (str(get(rec, "hark.uid")), get(rec, "hark.idx"))
        t = tx.setdefault(key, {})
        if act in t:
            err("line %d: a second %s record for uid %s idx %s"
                % (n, act, key[0], key[1]))
        t[act] = rec
        t.setdefault("line", n)


def summary(key, t):
    """(method, uri, status, req bytes, resp bytes, outcome) of one
    transaction; None for what is absent."""
    req, resp = t.get("request"), t.get("response")
    src = req if req is not None else resp
    method = get(src, "http.request.method")
    uri = get(src, "url.original")
    status = resp_b = outcome = None
    req_b = get(req, "http.request.body.bytes") if req else None
    if resp is not None:
        status = get(resp, "http.response.status_code")
        resp_b = get(resp, "http.response.body.bytes")
        outcome = get(resp, "hark.outcome")
    return (method, uri, status, req_b, resp_b, outcome)


for key, t in tx.items():
    req, resp = t.get("request"), t.get("response")
    if req is None:
        err("uid %s idx %s: a response record without its request"
            % key)
        continue
    uri = get(req, "url.original")
    path = get(req, "url.path")
    if isinstance(uri, str) and path != uri.split("?", 1)[0]:
        err("uid %s idx %s: url.path %s does not match url.original %s"
            % (key[0], key[1], show(path), show(uri)))
    if a.server_port is not None:
        dp = get(req, "destination.port")
        if dp != a.server_port:
            err("uid %s idx %s: request destination.port %s, expected %d"
                % (key[0], key[1], show(dp), a.server_port))
    if resp is not None:
        for k in ("http.request.method", "url.original"):
            v = get(resp, k)
            if v is not MISSING and v != get(req, k):
                err("uid %s idx %s: response record has %s %s, its "
                    "request %s" % (key[0], key[1], k, show(v),
                                    show(get(req, k))))

# --- the expectation -------------------------------------------------------
exp = []
with open(a.expect) as f:
    header = f.readline().rstrip("\n").split("\t")
    for line in f:
        if not line.strip():
            continue
        r = dict(zip(header, line.rstrip("\n").split("\t")))
        exp.append((r["conn"], r["idx"], r["method"], r["path"],
                    int(r["status"]), int(r["req_body_len"]),
                    int(r["resp_body_len"])))


def fmt(e):
    return "%s %s -> %d, request body %d, response body %d" % e[2:]


def tx_row(key, t):
    m, uri, st, rq, rs, oc = summary(key, t)
    if a.requests_only:
        return (uri,)
    return (m, uri, st, rq, rs)


got = {}  # (method, uri, status, req, resp) -> [keys]
for key, t in tx.items():
    if "request" in t:
        got.setdefault(tx_row(key, t), []).append(key)

matched = set()
for e in exp:
    want = (e[2], e[3], e[4], e[5], e[6])
    if a.requests_only:
        want = (e[3],)
    keys = [k for k in got.get(want, []) if k not in matched]
    if not keys:
        near = [summary(k, t) for k, t in tx.items()
                if summary(k, t)[1] == e[3]]
        err("missing: %s%s" % (fmt(e), "; the trail has %s" % near
                               if near else "; no record of it"))
        continue
    k = keys[0]
    matched.add(k)
    oc = summary(k, tx[k])[5]
    if oc != "ok" and not a.requests_only:
        err("%s: hark.outcome %s, expected 'ok'" % (fmt(e), show(oc)))

if a.exact:
    for key, t in tx.items():
        if key not in matched:
            err("unexpected transaction uid %s idx %s: %r"
                % (key[0], key[1], summary(key, t)))
    # connections: the same transactions in the same order, per uid/conn
    by_uid = collections.defaultdict(list)
    for key, t in tx.items():
        if "request" in t:
            by_uid[key[0]].append((key[1], tx_row(key, t)))
    trail_conns = []
    for uid, rows in by_uid.items():
        rows.sort(key=lambda r: r[0])
        idxs = [r[0] for r in rows]
        if idxs != list(range(idxs[0], idxs[0] + len(idxs))):
            err("uid %s: request indexes %r are not consecutive"
                % (uid, idxs))
        if idxs[0] not in (0, 1):
            err("uid %s: first request index %r" % (uid, idxs[0]))
        trail_conns.append(tuple(r[1] for r in rows))
    by_conn = collections.defaultdict(list)
    for e in exp:
        by_conn[e[0]].append((int(e[1]), (e[2], e[3], e[4], e[5], e[6])))
    exp_conns = [tuple(r[1] for r in sorted(v)) for v in by_conn.values()]
    if sorted(trail_conns, key=repr) != sorted(exp_conns, key=repr):
        missing = [c for c in exp_conns if c not in trail_conns]
        extra = [c for c in trail_conns if c not in exp_conns]
        err("connections differ: %d in the trail, %d expected; expected "
            "but not found as one connection: %r; found instead: %r"
            % (len(trail_conns), len(exp_conns), missing, extra))

if errors:
    if not a.quiet:
        for e in errors[:30]:
            print("  " + e, file=sys.stderr)
        if len(errors) > 30:
            print("  ... and %d more" % (len(errors) - 30), file=sys.stderr)
    sys.exit(1)
if not a.quiet:
    print("trail ok: %d expected transactions found among %d (%d records)"
          % (len(exp), len(tx), sum(len([k for k in t if k != "line"])
                                     for t in tx.values())))
