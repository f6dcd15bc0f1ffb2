#!/bin/bash
# fresh-check.sh - prove the README's two commands on a new Debian 12.
#
#   scripts/fresh-check.sh            (make fresh-check; root)
#
# Builds (once) a minimal Debian 12 root with debootstrap: minbase plus
# what this project's machines ship before anyone installs anything
# (build-essential, clang, git, curl, iproute2, procps, python3). The base
# is kept outside the clone, under FRESH_CACHE (default
# /var/cache/hark-fresh), so later runs reuse it. Each run then
#   - mounts a throwaway overlay of that base,
#   - puts a clean clone of HEAD at /build/main with ../shared beside it
#     (read-only at /build/shared),
#   - runs `make run` and then `make test` inside, with chroot.
# Everything runs in its own mount and PID namespace: when the run ends
# (success, failure, Ctrl-C or kill), the kernel unmounts what it mounted
# and kills what it started; the trap removes the overlay's upper layer.
#
# Environment: FRESH_CACHE, FRESH_MIRROR (default http://deb.debian.org/debian),
# FRESH_SUITE (default bookworm), FRESH_KEEP=1 keeps the upper layer for a
# look afterwards, FRESH_CMDS (default "make run && make test").
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$repo/.." && pwd)/shared
cache=${FRESH_CACHE:-/var/cache/hark-fresh}
mirror=${FRESH_MIRROR:-http://deb.debian.org/debian}
suite=${FRESH_SUITE:-bookworm}
cmds=${FRESH_CMDS:-make run && make test}
# What a machine of this project's kind ships before anyone installs anything.
base_pkgs=build-essential,clang,git,curl,iproute2,procps,python3

say() { printf 'fresh-check: %s\n' "$*"; }
die() { printf 'fresh-check: %s\n' "$*" >&2; exit 1; }
elapsed() { echo "$((SECONDS - $1))s"; }

# --inner: runs inside the private namespaces (see the end of this file).
if [ "${1:-}" = --inner ]; then
    root=$2
    lower=$3
    work=$4
    mkdir -p "$work/upper" "$work/work" "$root"
    mount -t overlay overlay \
        -o "lowerdir=$lower,upperdir=$work/upper,workdir=$work/work" "$root"
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs -o mode=755 tmpfs "$root/run"
    mkdir -p "$root/build/shared" "$root/var/cache/apt/archives"
    mount --bind "$shared" "$root/build/shared"
    mount -o remount,bind,ro "$root/build/shared"
    # Downloads are cached between runs; installing is not: the packages are
    # unpacked into the fresh root by the project's own `make run`.
    mkdir -p "$cache/apt-archives/partial"
    mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    printf '127.0.0.1 localhost\n::1 localhost ip6-localhost\n' >"$root/etc/hosts"
    # A chroot has no init: packages must not start daemons (nginx on port
    # 80 of the host's network) from their install scripts.
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    git clone -q --no-hardlinks "$repo" "$root/build/main"
    git -C "$root/build/main" checkout -q "$(git -C "$repo" rev-parse HEAD)"
    say "in the fresh root: cd /build/main && $cmds"
    rc=0
    chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/sh -c "cd /build/main && $cmds" || rc=$?
    # Explicit, although leaving the namespace would do it too.
    umount -R "$root" 2>/dev/null || umount -R -l "$root" || true
    exit "$rc"
fi

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, mounts, chroot)"
[ -d "$shared" ] || die "$shared not found: ../shared must sit beside the clone"
command -v unshare >/dev/null || die "needs unshare (util-linux)"
git -C "$repo" rev-parse HEAD >/dev/null 2>&1 || die "$repo is not a git clone"
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
    say "note: uncommitted changes are not checked (a clean clone of HEAD is)"
fi

registry_check() {
    local err
    if ! err=$(curl -fsS -m 20 -o /dev/null "$mirror/dists/$suite/InRelease" 2>&1); then
        die "cannot reach the Debian package registry at $mirror ($err): a fresh root needs it to install packages"
    fi
}

# The base: built once, reused while the package list stays the same.
stamp_want="$suite $mirror $base_pkgs"
base=$cache/$suite-base
t0=$SECONDS
if [ ! -f "$base/.hark-fresh-stamp" ] ||
    [ "$(cat "$base/.hark-fresh-stamp")" != "$stamp_want" ]; then
    registry_check
    if ! command -v debootstrap >/dev/null; then
        say "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null ||
            { apt-get update -q >/dev/null &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; } ||
            die "cannot install debootstrap from the Debian package registry"
    fi
    say "building a Debian $suite base in $base (once; a few minutes)"
    mkdir -p "$cache"
    rm -rf "$base.new"
    if ! debootstrap --variant=minbase --include="$base_pkgs" "$suite" \
        "$base.new" "$mirror" >"$cache/debootstrap.log" 2>&1; then
        tail -20 "$cache/debootstrap.log" >&2
        grep -qiE 'resolve|connect|fetch|download' "$cache/debootstrap.log" &&
            die "debootstrap could not download from the Debian package registry at $mirror"
        die "debootstrap failed (log: $cache/debootstrap.log)"
    fi
    echo "$stamp_want" >"$base.new/.hark-fresh-stamp"
    rm -rf "$base"
    mv "$base.new" "$base"
    say "base ready in $(elapsed "$t0")"
else
    # Installing inside the root needs the registry too: say so up front.
    registry_check
    say "reusing the base in $base"
fi

work=$(mktemp -d /var/tmp/hark-fresh.XXXXXX)
cleanup() {
    if [ "${FRESH_KEEP:-0}" = 1 ]; then
        say "kept the fresh root's changes in $work/upper"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t1=$SECONDS
rc=0
unshare --mount --pid --fork --propagation private \
    "$0" --inner "$work/root" "$base" "$work" || rc=$?
if [ "$rc" = 0 ]; then
    say "ok: '$cmds' passed in a fresh Debian $suite root ($(elapsed "$t1"))"
else
    say "FAILED (exit $rc): '$cmds' in a fresh Debian $suite root ($(elapsed "$t1"))"
fi
exit "$rc"
