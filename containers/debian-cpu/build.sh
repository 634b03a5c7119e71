#!/bin/bash
# Builds joulebench/debian-cpu, a CPU image with Debian's own python3-torch and
# python3-torchvision and joulebench's workloads/, without any container registry:
#
#   1. debootstrap --variant=minbase --include=python3-torch,python3-torchvision SUITE ROOT MIRROR
#      (MIRROR: this machine's apt mirror, read from /etc/apt/sources.list{,.d/})
#   2. workloads/ copied to /opt/joulebench/workloads
#   3. the root filesystem packed once into a tar (cached by a content hash) and imported with
#      `docker import` / `podman import`, CMD/ENV/WORKDIR/LABEL set through --change.
#
# The image is tagged joulebench/debian-cpu:latest (or --tag) and also
# joulebench/debian-cpu:src-HASH, HASH being a content hash of this script, the suite, the
# package list and workloads/: `--if-missing` skips the build when that tag is already there.
# The tar is cached under a hash of the root-filesystem recipe alone, so it is reused (imported
# again in seconds) until debootstrap's inputs or a workload change.
#
# Needs root (debootstrap), debootstrap, tar, and network access to the Debian mirror (or its
# packages already in the cache or /var/cache/apt/archives). Docker needs a reachable daemon
# (DOCKER_HOST is honoured); Podman is used as configured (CONTAINERS_STORAGE_CONF, or pass
# storage options with --podman-arg).
#
# usage: containers/debian-cpu/build.sh [options]
#   --engine docker|podman   import into this engine (repeatable); default: every engine that
#                            answers (docker needs its daemon)
#   --tag NAME:TAG           default joulebench/debian-cpu:latest
#   --mirror URL             default: the first Debian mirror of this machine's apt sources
#   --suite NAME             default bookworm
#   --cache-dir DIR          .deb files and root-filesystem tars; default
#                            ${JOULEBENCH_CACHE_DIR:-/var/cache/joulebench}/debian-cpu
#   --no-seed                do not hard-link this machine's /var/cache/apt/archives/*.deb into the
#                            cache first (they are verified against the mirror's checksums either way)
#   --podman-arg ARG         global argument for podman (repeatable), e.g. --root DIR
#   --docker-arg ARG         global argument for docker (repeatable), e.g. --host unix:///x.sock
#   --if-missing             do nothing when every engine already has the src-HASH tag
#   --print-hash             print the image's content hash (the src-HASH tag) and exit
#   --print-tar              print the path of the cached root-filesystem tar (may not exist yet)
#   --tar-only               build the root-filesystem tar (printed on stdout) and import nothing
#   -h, --help
#
# Exit status: 0 done, 1 failure, 2 bad usage.

set -euo pipefail
export LC_ALL=C

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$script_dir/../.." && pwd)"

suite=bookworm
packages=python3-torch,python3-torchvision
tag=joulebench/debian-cpu:latest
mirror=""
cache_dir="${JOULEBENCH_CACHE_DIR:-/var/cache/joulebench}/debian-cpu"
seed=1
if_missing=0
print_hash=0
print_tar=0
tar_only=0
engines=()
podman_args=()
docker_args=()

die() {
    echo "error: debian-cpu: $1" >&2
    [ $# -gt 1 ] && echo "hint: $2" >&2
    exit 1
}
usage_error() {
    echo "error: debian-cpu: $1" >&2
    echo "hint: containers/debian-cpu/build.sh --help" >&2
    exit 2
}
log() { echo "debian-cpu: $*" >&2; }

need_value() { [ $# -ge 2 ] && [ -n "$2" ] || usage_error "$1 needs a value"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --engine)
            need_value "$@"
            case "$2" in docker | podman) engines+=("$2") ;; *) usage_error "unknown engine '$2' (docker or podman)" ;; esac
            shift 2 ;;
        --tag) need_value "$@"; tag="$2"; shift 2 ;;
        --mirror) need_value "$@"; mirror="$2"; shift 2 ;;
        --suite) need_value "$@"; suite="$2"; shift 2 ;;
        --cache-dir) need_value "$@"; cache_dir="$2"; shift 2 ;;
        --no-seed) seed=0; shift ;;
        --podman-arg) need_value "$@"; podman_args+=("$2"); shift 2 ;;
        --docker-arg) need_value "$@"; docker_args+=("$2"); shift 2 ;;
        --if-missing) if_missing=1; shift ;;
        --print-hash) print_hash=1; shift ;;
        --print-tar) print_tar=1; shift ;;
        --tar-only) tar_only=1; shift ;;
        -h | --help) sed -n '2,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) usage_error "unknown argument '$1'" ;;
    esac
done

case "$tag" in
    *:*) repo_name="${tag%:*}" ;;
    *) repo_name="$tag"; tag="$tag:latest" ;;
esac

# Two content hashes. ROOTFS_HASH names the cached tar: the recipe that makes the root filesystem
# (the text of make_rootfs below, between its markers), the suite, the package list and the
# workloads copied in. IMAGE_HASH names the image tag: ROOTFS_HASH and this whole script (the
# import's --change settings included). The mirror is left out: it serves the same suite.
workload_files() {
    (cd "$repo_dir" && find workloads -maxdepth 1 -type f \( -name '*.py' -o -name '*.md' \) | sort)
}
rootfs_hash() {
    {
        echo "joulebench-debian-cpu-rootfs-v1"
        echo "suite=$suite"
        echo "packages=$packages"
        sed -n '/^# >>> rootfs recipe/,/^# <<< rootfs recipe/p' "$script_dir/build.sh"
        workload_files | while read -r f; do echo "$f"; sha256sum < "$repo_dir/$f"; done
    } | sha256sum | cut -c1-16
}
rootfs_hash="$(rootfs_hash)"
hash="$({ echo "$rootfs_hash"; sha256sum < "$script_dir/build.sh"; } | sha256sum | cut -c1-16)"
hash_tag="$repo_name:src-$hash"
tarball="$cache_dir/rootfs-$rootfs_hash.tar"
if [ "$print_hash" = 1 ]; then
    echo "$hash"
    exit 0
fi
if [ "$print_tar" = 1 ]; then
    echo "$tarball"
    exit 0
fi

engine_cmd() {
    case "$1" in
        docker) echo docker "${docker_args[@]+"${docker_args[@]}"}" ;;
        podman) echo podman "${podman_args[@]+"${podman_args[@]}"}" ;;
    esac
}
run_engine() {
    local engine="$1"
    shift
    if [ "$engine" = docker ]; then
        docker "${docker_args[@]+"${docker_args[@]}"}" "$@"
    else
        podman "${podman_args[@]+"${podman_args[@]}"}" "$@"
    fi
}

if [ "$tar_only" = 0 ] && [ ${#engines[@]} -eq 0 ]; then
    if command -v docker > /dev/null && run_engine docker version --format '{{.Server.Version}}' > /dev/null 2>&1; then
        engines+=(docker)
    fi
    if command -v podman > /dev/null && run_engine podman version > /dev/null 2>&1; then
        engines+=(podman)
    fi
    [ ${#engines[@]} -gt 0 ] || die "find a container engine: neither a docker daemon nor podman answers" \
        "start dockerd or install podman, or use --tar-only"
fi
for engine in "${engines[@]+"${engines[@]}"}"; do
    command -v "$engine" > /dev/null || die "find $engine: not on PATH"
    if [ "$engine" = docker ]; then
        run_engine docker version --format '{{.Server.Version}}' > /dev/null 2>&1 ||
            die "reach the docker daemon: 'docker version' fails" "start dockerd, or set DOCKER_HOST / --docker-arg --host"
    fi
done

if [ "$if_missing" = 1 ] && [ "$tar_only" = 0 ]; then
    missing=0
    for engine in "${engines[@]}"; do
        run_engine "$engine" image inspect "$hash_tag" > /dev/null 2>&1 || missing=1
    done
    if [ "$missing" = 0 ]; then
        for engine in "${engines[@]}"; do run_engine "$engine" tag "$hash_tag" "$tag"; done
        log "$hash_tag is already in ${engines[*]}: nothing to build"
        echo "$tag"
        exit 0
    fi
fi

# The mirror lookup is shared with the other debootstrap scripts.
# shellcheck source=../../scripts/apt-mirror.sh
. "$repo_dir/scripts/apt-mirror.sh"
if [ -z "$mirror" ]; then
    mirror="$(find_mirror || true)"
    [ -n "$mirror" ] || die "find the apt mirror for '$suite' in /etc/apt/sources.list{,.d/}: no 'deb' entry for that suite" \
        "pass --mirror http://deb.debian.org/debian"
fi

[ "$(id -u)" = 0 ] || die "run debootstrap: needs root" "run as root (sudo $0)"
command -v debootstrap > /dev/null || die "find debootstrap: not installed" "apt-get install debootstrap"

# >>> rootfs recipe (its text is part of the tar's content hash)
make_rootfs() {
    local root="$1"
    log "debootstrap $suite from $mirror into $root (minbase + $packages)"
    if ! debootstrap --variant=minbase --include="$packages" --cache-dir="$cache_dir/debs" \
        "$suite" "$root" "$mirror" > "$work/debootstrap.log" 2>&1; then
        tail -n 20 "$work/debootstrap.log" >&2
        die "debootstrap $suite from $mirror: failed (log above; full log $work/debootstrap.log)" \
            "check the mirror (--mirror) and network access"
    fi
    log "debootstrap done in $(($(date +%s) - start_s)) s"
    mkdir -p "$root/opt/joulebench/workloads"
    workload_files | while read -r f; do cp "$repo_dir/$f" "$root/opt/joulebench/$f"; done
    # What a container does not need: downloaded packages, package lists, logs, device nodes
    # (engines make /dev, /proc and /sys themselves).
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/* \
        "$root"/debootstrap "$root"/tmp/*
    find "$root/dev" -mindepth 1 -delete
}
# <<< rootfs recipe

mkdir -p "$cache_dir/debs"
start_s=$(date +%s)

if [ -f "$tarball" ]; then
    log "reusing $tarball"
else
    if [ "$seed" = 1 ] && [ -d /var/cache/apt/archives ]; then
        # Hard links cost nothing; debootstrap still checks each file's checksum against the
        # mirror's Packages index and downloads any that do not match.
        seeded=0
        for deb in /var/cache/apt/archives/*.deb; do
            [ -f "$deb" ] || continue
            [ -e "$cache_dir/debs/${deb##*/}" ] && continue
            ln "$deb" "$cache_dir/debs/" 2> /dev/null && seeded=$((seeded + 1))
        done
        [ "$seeded" -gt 0 ] && log "seeded the .deb cache with $seeded files from /var/cache/apt/archives"
    fi
    work="$(mktemp -d "$cache_dir/build.XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    make_rootfs "$work/root"
    tar --numeric-owner --xattrs -C "$work/root" -cf "$work/rootfs.tar" .
    mv "$work/rootfs.tar" "$tarball"
    rm -rf "$work"
    trap - EXIT
    # Older tars of other content hashes are stale.
    find "$cache_dir" -maxdepth 1 -name 'rootfs-*.tar' -not -name "rootfs-$rootfs_hash.tar" -delete
fi

if [ "$tar_only" = 1 ]; then
    log "root filesystem tar ready in $(($(date +%s) - start_s)) s"
    echo "$tarball"
    exit 0
fi

torch_version="$(tar -xOf "$tarball" ./var/lib/dpkg/status 2> /dev/null |
    awk '/^Package: python3-torch$/ { p = 1 } p && /^Version:/ { print $2; exit }')"
changes=(
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    --change 'ENV LANG=C.UTF-8'
    --change 'ENV PYTHONDONTWRITEBYTECODE=1'
    --change 'WORKDIR /opt/joulebench'
    --change "LABEL org.opencontainers.image.base.name=debian:$suite"
    --change "LABEL org.opencontainers.image.title=joulebench/debian-cpu"
    --change "LABEL org.joulebench.source-hash=$hash"
    --change "LABEL org.joulebench.rootfs-hash=$rootfs_hash"
    --change "LABEL org.joulebench.torch=${torch_version:-unknown}"
    --change 'CMD ["python3", "workloads/resnet50_infer.py"]'
)
message="debootstrap --variant=minbase --include=$packages $suite (joulebench containers/debian-cpu/build.sh, source $hash)"
for engine in "${engines[@]}"; do
    log "$engine import $tarball as $hash_tag"
    run_engine "$engine" import $([ "$engine" = podman ] && echo --quiet) "${changes[@]}" --message "$message" "$tarball" "$hash_tag" > /dev/null ||
        die "$(engine_cmd "$engine") import $tarball: failed"
    run_engine "$engine" tag "$hash_tag" "$tag" || die "$(engine_cmd "$engine") tag $hash_tag $tag: failed"
done
log "built $tag ($hash_tag) for ${engines[*]} in $(($(date +%s) - start_s)) s"
echo "$tag"
