#!/bin/sh
# deps.sh - the Debian packages hark needs, checked or installed.
#   --check            fail with the apt-get line when a build package is missing
#   --install          install build and test packages (root)
#   --install-if-root  install what is missing when root, else only check
set -eu

BUILD_PKGS="gcc make pkg-config libpcap-dev libzmq3-dev libmsgpack-dev \
libleveldb-dev libyaml-dev libsodium-dev zlib1g-dev"
TEST_PKGS="libcmocka-dev clang tshark tcpdump curl nginx-light python3 \
python3-zmq python3-msgpack iproute2 procps"

missing() {
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
            grep -q '^install ok installed$' || printf '%s ' "$p"
    done
}

install() {
    todo=$(missing $BUILD_PKGS $TEST_PKGS)
    [ -z "$todo" ] && return 0
    echo "deps: installing $todo"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    if ! apt-get install -y -q --no-install-recommends $todo >/dev/null; then
        apt-get update -q >/dev/null
        # shellcheck disable=SC2086
        apt-get install -y -q --no-install-recommends $todo >/dev/null
    fi
}

check() {
    todo=$(missing $BUILD_PKGS)
    if [ -n "$todo" ]; then
        echo "hark needs these Debian packages: $todo" >&2
        echo "install them with:  sudo apt-get install $todo" >&2
        echo "(or run 'make deps' as root)" >&2
        exit 1
    fi
}

case "${1:---check}" in
--check) check ;;
--install) install ;;
--install-if-root)
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        install
    else
        todo=$(missing $BUILD_PKGS $TEST_PKGS)
        [ -n "$todo" ] && echo "deps: not root, so not installing: $todo" >&2
        check
    fi ;;
*) echo "usage: $0 --check | --install | --install-if-root" >&2; exit 2 ;;
esac
