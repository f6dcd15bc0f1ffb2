#!/bin/sh
# deps.sh - the Debian packages hark needs, checked or installed.
#   --check [SET]            fail with one line naming what is missing
#   --install [SET]          install what is missing (root)
#   --install-if-root [SET]  install when root, else only check
# SET is `build` (the libraries and tools that build hark), `test`
# (build, plus what the tests and fuzzers run: the default for the
# install modes) or `bench` (build, plus python3 for the workload and the
# report, and the tools `make bench` compares hark with: installed when
# root, optional otherwise). Plain `make` checks `build` only.
# The install modes also create the `hark` system user the stages run as
# when hark runs as root (supervisor.run_as); without it they run as
# `nobody`, so nothing fails when it cannot be made.
set -eu

BUILD_PKGS="gcc make pkg-config libpcap-dev libzmq3-dev libmsgpack-dev \
libleveldb-dev libyaml-dev libsodium-dev zlib1g-dev libssl-dev libmicrohttpd-dev"
# libclang-rt-14-dev holds libFuzzer and clang's sanitizer runtimes; clang
# only recommends it, so a --no-install-recommends machine lacks it.
# systemd brings systemd-analyze (the units are verified; nothing is
# started), python3-prometheus-client the text format's parser.
TEST_PKGS="libcmocka-dev clang libclang-rt-14-dev tshark tcpdump curl \
nginx-light python3 python3-zmq python3-msgpack iproute2 procps systemd \
util-linux python3-prometheus-client chromium"

# make bench: python3 makes the workload and the report; the others are
# measured beside hark when present (tcpreplay and ip for the live mode).
BENCH_NEEDS="python3"
BENCH_TOOLS="tcpdump httpry tcpreplay iproute2 procps"

missing() {
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
            grep -q '^install ok installed$' || printf '%s ' "$p"
    done
}

packages() { # SET -> package list
    case "$1" in
    build) echo "$BUILD_PKGS" ;;
    test) echo "$BUILD_PKGS $TEST_PKGS" ;;
    bench) echo "$BUILD_PKGS $BENCH_NEEDS $BENCH_TOOLS" ;;
    bench-needs) echo "$BUILD_PKGS $BENCH_NEEDS" ;;
    *) echo "deps: unknown set '$1' (build, test or bench)" >&2; exit 2 ;;
    esac
}

# The stages' user: a system account with no home and no shell.
ensure_user() {
    id hark >/dev/null 2>&1 && return 0
    command -v useradd >/dev/null || return 0
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin hark >/dev/null 2>&1 ||
        echo "deps: could not create the system user 'hark'; the stages will run as 'nobody'" >&2
}

install() {
    ensure_user
    # shellcheck disable=SC2046
    todo=$(missing $(packages "$1"))
    [ -z "$todo" ] && return 0
    echo "deps: installing $todo"
    export DEBIAN_FRONTEND=noninteractive
    # A new machine may have no package lists yet, or stale ones.
    # shellcheck disable=SC2086
    if ! apt-get install -y -q --no-install-recommends $todo >/dev/null 2>&1; then
        if ! apt-get update -q >/dev/null; then
            echo "deps: apt-get update failed: is the Debian package registry reachable?" >&2
            exit 1
        fi
        # shellcheck disable=SC2086
        apt-get install -y -q --no-install-recommends $todo >/dev/null
    fi
}

check() {
    # shellcheck disable=SC2046
    todo=$(missing $(packages "$1"))
    todo=${todo% }
    if [ -n "$todo" ]; then
        echo "hark needs: $todo (as root: make deps, or apt-get install $todo)" >&2
        exit 1
    fi
}

set_=${2:-}
case "${1:---check}" in
--check) check "${set_:-build}" ;;
--install) install "${set_:-test}" ;;
--install-if-root)
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        install "${set_:-test}"
    elif [ "${set_:-}" = bench ]; then
        check bench-needs # the tools compared with are optional
    else
        check "${set_:-test}"
    fi ;;
*) echo "usage: $0 --check|--install|--install-if-root [build|test|bench]" >&2; exit 2 ;;
esac
