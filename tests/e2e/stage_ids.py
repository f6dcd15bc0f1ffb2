"""stage_ids.py CONFIG: the id of every stage process `hark run -c CONFIG`
starts, in pipeline order: capture, reassemble-0 .. reassemble-<N-1> for
the config's reassemble.shards N, dispatch, correlate, logger.

The test dependencies have no YAML module, so this reads the one key in
the two forms a config writes it (`reassemble:` then an indented
`shards: N`, or `reassemble: {shards: N}`); anything else it cannot read
is an error, never a guess. Without the key, hark's default (2, in
config_default(), common/config.c).
"""
import re
import sys

DEFAULT_SHARDS = 2


def code(line):
    """line without its comment"""
    return re.sub(r"(^|\s)#.*$", "", line).rstrip()


def shards_in(block_lines):
    for line in block_lines:
        if not code(line).strip():
            continue
        if not line[0].isspace():
            break
        m = re.match(r"\s+shards\s*:\s*(.*)$", code(line))
        if m:
            return int(m.group(1))
    return DEFAULT_SHARDS


def shards(text):
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"reassemble\s*:\s*(.*)$", code(line))
        if not m:
            continue
        rest = m.group(1)
        if rest.startswith("{"):
            f = re.search(r"\bshards\s*:\s*([^,}]*)", rest)
            return int(f.group(1)) if f else DEFAULT_SHARDS
        if rest not in ("", "~", "null"):
            raise ValueError("reassemble: %r is not a mapping" % rest)
        return shards_in(lines[i + 1:])
    return DEFAULT_SHARDS


def main():
    with open(sys.argv[1]) as f:
        n = shards(f.read())
    if not 1 <= n <= 64:
        raise ValueError("reassemble.shards %d is not 1..64" % n)
    ids = ["capture"] + ["reassemble-%d" % i for i in range(n)]
    print(" ".join(ids + ["dispatch", "correlate", "logger"]))


if __name__ == "__main__":
    main()
