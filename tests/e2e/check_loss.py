"""check_loss.py TRAIL LOAD STAGE lossless|reported: what a kill -9 of
STAGE under the bounded load of load.py cost, against what hark said.

TRAIL is `hark query --json`; LOAD is load.py's output (i, sent ns, done
ns, status). A load request is lost when the trail lacks its request or
its response record (any outcome). The trail's outage records (a stage
that died: hark.outage.stage, from @timestamp to event.end) are what hark
reported.
 - lossless: nothing lost, no record twice, no outage record (a killed
   logger loses nothing);
 - reported: an outage record names STAGE, and every lost request was in
   flight ([sent, done]) during one of its outages: the loss reported
   covers the loss found; where the outages count connections (a capture
   that was down), they count at least one per lost request (load.py
   opens a connection for each).
Prints one line of numbers; exits 1 with the reasons when the check fails.
"""
import datetime
import json
import sys

SLACK_NS = 1_000_000  # the trail's times have microseconds


def ns(rfc3339):
    d = datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%S.%fZ")
    d = d.replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) * 1_000_000_000 + d.microsecond * 1000


def main():
    trail, load, stage, mode = sys.argv[1:5]
    kinds = {"request": {}, "response": {}}
    outages, twice = [], 0
    for line in open(trail):
        r = json.loads(line)
        act = r["event"]["action"]
        if act == "outage":
            o = r["hark"]["outage"]
            outages.append((o["stage"], ns(r["@timestamp"]),
                            ns(r["event"]["end"]), o.get("lost", {})))
            continue
        path = r.get("url", {}).get("path", "")
        if not path.startswith("/load/"):
            continue
        i = int(path.split("/")[2])
        twice += i in kinds[act]
        kinds[act][i] = r
    sent = [tuple(map(int, l.split("\t"))) for l in open(load) if l.strip()]
    lost = [s for s in sent
            if s[0] not in kinds["request"] or s[0] not in kinds["response"]]
    mine = [o for o in outages if o[0] == stage]
    problems = []
    if twice:
        problems.append("%d records twice" % twice)
    if mode == "lossless":
        if lost:
            problems.append("%d of %d requests lost, first /load/%d"
                            % (len(lost), len(sent), lost[0][0]))
        if outages:
            problems.append("outage records: %r" % outages)
    else:
        if not mine:
            problems.append("no outage record for %s (outages: %r)"
                            % (stage, outages))
        uncovered = [s for s in lost
                     if not any(o[1] - SLACK_NS <= s[2] and
                                s[1] <= o[2] + SLACK_NS for o in mine)]
        counted = [o[3]["connections"] for o in mine if "connections" in o[3]]
        if counted and sum(counted) < len(lost):
            problems.append("%d connections reported lost, %d requests "
                            "lost" % (sum(counted), len(lost)))
        if uncovered:
            problems.append("%d lost requests outside every outage of %s, "
                            "first /load/%d in flight %d..%d"
                            % (len(uncovered), stage, uncovered[0][0],
                               uncovered[0][1], uncovered[0][2]))
    print("%s: sent %d, lost %d (requests %d, responses %d in the trail); "
          "outages %s" % (stage, len(sent), len(lost), len(kinds["request"]),
                          len(kinds["response"]),
                          ["%s %.2fs %s" % (o[0], (o[2] - o[1]) / 1e9, o[3])
                           for o in outages]))
    for p in problems:
        print("  " + p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
