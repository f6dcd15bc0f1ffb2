r"""curl_expect.py < CURL_REPORT: curl's own report of each transfer, a
line each from curl -w '%{method}\t%{url_effective}\t%{response_code}\t
%{size_upload}\t%{size_download}\n' (one format, wrapped here), as the
expected transactions in demo.expect.tsv's columns, conn and idx "-".
"""
import sys

for line in sys.stdin:
    if not line.strip():
        continue
    m, url, code, up, down = line.rstrip("\n").split("\t")
    rest = url.split("://", 1)[1]
    path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    print("-\t-\t%s\t%s\t%s\t%d\t%d" % (m, path, code, int(up), int(down)))
