#!/bin/bash
# A clean Debian root filesystem as a tar, for tests that need "a fresh Debian 12 machine" in a
# container (tests/integration/install_test.cpp installs joulebench's .deb into it):
# debootstrap --variant=minbase (about 40 MB of packages from this machine's Debian mirror, about
# a minute), no network needed afterwards. The tar is cached under
# ${JOULEBENCH_CACHE_DIR:-/var/cache/joulebench}/debian-base/rootfs-HASH.tar, HASH being a hash of
# the suite and this recipe, and its path is printed; later calls print it at once.
#
# Usage: scripts/build-debian-base.sh [--suite bookworm] [--mirror URL] [--print-path]
#   --print-path   print where the tar is (or would be) and exit, building nothing
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
suite=bookworm
mirror=""
print_path=0
die() {
    echo "error: debian-base: $1" >&2
    [ -n "${2:-}" ] && echo "hint: $2" >&2
    exit 1
}
while [ $# -gt 0 ]; do
    case "$1" in
        --suite) [ $# -ge 2 ] || die "--suite needs a value"; suite="$2"; shift 2 ;;
        --mirror) [ $# -ge 2 ] || die "--mirror needs a value"; mirror="$2"; shift 2 ;;
        --print-path) print_path=1; shift ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1'" "see $0 --help" ;;
    esac
done

cache_dir="${JOULEBENCH_CACHE_DIR:-/var/cache/joulebench}/debian-base"
# >>> recipe (its text is part of the content hash)
make_root() {
    debootstrap --variant=minbase --cache-dir="$cache_dir/debs" "$suite" "$1" "$mirror"
    # apt in the container works offline: no lists to fetch, no recommends.
    rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin
    printf 'APT::Install-Recommends "false";\n' > "$1/etc/apt/apt.conf.d/90joulebench-test"
}
# <<< recipe
hash="$( { echo "$suite"; sed -n '/^# >>> recipe/,/^# <<< recipe/p' "$0"; } | sha256sum | cut -c1-16)"
tar_path="$cache_dir/rootfs-$hash.tar"
if [ "$print_path" = 1 ] || [ -f "$tar_path" ]; then
    echo "$tar_path"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "run debootstrap: needs root" "run as root (sudo $0)"
command -v debootstrap > /dev/null || die "find debootstrap: not installed" "apt-get install debootstrap"
# shellcheck source=apt-mirror.sh
. "$script_dir/apt-mirror.sh"
if [ -z "$mirror" ]; then
    mirror="$(find_mirror || true)"
    [ -n "$mirror" ] || die "find the apt mirror for '$suite' in /etc/apt/sources.list{,.d/}" \
        "pass --mirror http://deb.debian.org/debian"
fi
mkdir -p "$cache_dir/debs"
exec 9> "$cache_dir/.lock"
flock 9
if [ -f "$tar_path" ]; then # built by a concurrent call while this one waited
    echo "$tar_path"
    exit 0
fi
work="$(mktemp -d "$cache_dir/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
if ! make_root "$work/root" > "$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    die "debootstrap $suite from $mirror: failed (log above)" "check the mirror (--mirror) and network access"
fi
tar -C "$work/root" --numeric-owner -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$tar_path"
echo "$tar_path"
