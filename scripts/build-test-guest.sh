#!/bin/bash
# Builds the small test guest for `type = "vm"` offline from Debian packages, without a VM and
# without mounting anything:
#
#   1. debootstrap --variant=minbase SUITE ROOT MIRROR with openssh-server, systemd-sysv, udev,
#      initramfs-tools, sudo and linux-image-amd64 (Debian's kernel, installed INSIDE the root, so
#      its initrd is generated there; nothing is installed on this machine). Not the cloud kernel
#      (linux-image-cloud-amd64): it has no 9p, which `share` needs.
#   2. vmlinuz and initrd.img copied out of the root's /boot
#   3. a user `bench` whose ~/.ssh/authorized_keys holds a key pair made by this script
#      (id_ed25519 beside the image) and who may sudo without a password, DHCP on every Ethernet
#      link (systemd-networkd), and the 9p modules loaded at boot for shared folders
#   4. `mke2fs -t ext4 -d ROOT` makes rootfs.img (raw ext4) from the folder, without mounting.
#
# The result is cached under ${JOULEBENCH_CACHE_DIR:-/var/cache/joulebench}/test-guest/HASH/,
# HASH being a content hash of the recipe below (its text between the markers), the suite and
# the package list; the folder is printed on stdout and holds vmlinuz, initrd.img, rootfs.img,
# id_ed25519, id_ed25519.pub and guest.toml (an [[environment]] that boots it). A second call
# with the same recipe only prints the folder. Concurrent calls wait for each other (flock).
#
# Boot it with joulebench (docs/vm.md), or by hand:
#   qemu-system-x86_64 -accel tcg -m 1G -nographic -kernel DIR/vmlinuz -initrd DIR/initrd.img \
#     -append 'root=/dev/vda rw console=ttyS0' -drive file=DIR/rootfs.img,format=raw,if=virtio,snapshot=on \
#     -netdev user,id=n0,hostfwd=tcp:127.0.0.1:2222-:22 -device virtio-net-pci,netdev=n0
#   ssh -i DIR/id_ed25519 -p 2222 bench@127.0.0.1
#
# Needs root (debootstrap), debootstrap, mke2fs (e2fsprogs), ssh-keygen, and network access to
# the Debian mirror (or its packages already in /var/cache/apt/archives, hard-linked in first).
# About 2 minutes on 2 cores; the image is about 1 GB (sparse), the kernel and initrd about 50 MB.
#
# usage: scripts/build-test-guest.sh [options]
#   --mirror URL      default: the first Debian mirror of this machine's apt sources
#   --suite NAME      default bookworm
#   --cache-dir DIR   default ${JOULEBENCH_CACHE_DIR:-/var/cache/joulebench}/test-guest
#   --print-dir       print the folder the guest is (or would be) cached in and exit
#   -h, --help
#
# Exit status: 0 done, 1 failure, 2 bad usage.

set -euo pipefail
export LC_ALL=C

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
suite=bookworm
packages=openssh-server,systemd-sysv,udev,initramfs-tools,sudo,linux-image-amd64
mirror=""
cache_dir="${JOULEBENCH_CACHE_DIR:-/var/cache/joulebench}/test-guest"
print_dir=0

die() {
    echo "error: test-guest: $1" >&2
    [ $# -gt 1 ] && echo "hint: $2" >&2
    exit 1
}
usage_error() {
    echo "error: test-guest: $1" >&2
    echo "hint: scripts/build-test-guest.sh --help" >&2
    exit 2
}
log() { echo "test-guest: $*" >&2; }
need_value() { [ $# -ge 2 ] && [ -n "$2" ] || usage_error "$1 needs a value"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --mirror) need_value "$@"; mirror="$2"; shift 2 ;;
        --suite) need_value "$@"; suite="$2"; shift 2 ;;
        --cache-dir) need_value "$@"; cache_dir="$2"; shift 2 ;;
        --print-dir) print_dir=1; shift ;;
        -h | --help) sed -n '2,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) usage_error "unknown argument '$1'" ;;
    esac
done

recipe_hash() {
    {
        echo "joulebench-test-guest-v1"
        echo "suite=$suite"
        echo "packages=$packages"
        sed -n '/^# >>> guest recipe/,/^# <<< guest recipe/p' "$script_dir/build-test-guest.sh"
    } | sha256sum | cut -c1-16
}
out="$cache_dir/$(recipe_hash)"
if [ "$print_dir" = 1 ]; then
    echo "$out"
    exit 0
fi
if [ -f "$out/.complete" ]; then
    echo "$out"
    exit 0
fi

# shellcheck source=apt-mirror.sh
. "$script_dir/apt-mirror.sh"

[ "$(id -u)" = 0 ] || die "run debootstrap: needs root" "run as root (sudo $0)"
for tool in debootstrap mke2fs ssh-keygen; do
    command -v "$tool" > /dev/null || die "find $tool: not installed" "apt-get install debootstrap e2fsprogs openssh-client"
done
if [ -z "$mirror" ]; then
    mirror="$(find_mirror || true)"
    [ -n "$mirror" ] || die "find the apt mirror for '$suite' in /etc/apt/sources.list{,.d/}" \
        "pass --mirror http://deb.debian.org/debian"
fi

mkdir -p "$cache_dir/debs"
exec 9> "$cache_dir/.lock"
flock 9
if [ -f "$out/.complete" ]; then # built by a concurrent call while this one waited
    echo "$out"
    exit 0
fi
start_s=$(date +%s)

# >>> guest recipe (its text is part of the content hash)
make_guest() {
    local root="$1" dest="$2"
    log "debootstrap $suite from $mirror into $root (minbase + $packages)"
    if ! debootstrap --variant=minbase --include="$packages" --cache-dir="$cache_dir/debs" \
        "$suite" "$root" "$mirror" > "$work/debootstrap.log" 2>&1; then
        tail -n 20 "$work/debootstrap.log" >&2
        die "debootstrap $suite from $mirror: failed (log above; full log $work/debootstrap.log)" \
            "check the mirror (--mirror) and network access"
    fi
    log "debootstrap done in $(($(date +%s) - start_s)) s"
    # The one kernel installed (update-initramfs may leave .dpkg-bak files beside its initrd).
    local version
    version="$(ls "$root/lib/modules")"
    [ "$(echo "$version" | wc -l)" = 1 ] || die "find the kernel in $root/lib/modules: not exactly one"
    cp "$root/boot/vmlinuz-$version" "$dest/vmlinuz"
    cp "$root/boot/initrd.img-$version" "$dest/initrd.img" ||
        die "find the initrd in $root/boot: the kernel's postinst made none"

    echo test-guest > "$root/etc/hostname"
    printf '/dev/vda / ext4 defaults 0 1\n' > "$root/etc/fstab"
    # DHCP on every Ethernet link, whatever its name (QEMU's user network answers it).
    mkdir -p "$root/etc/systemd/network"
    printf '[Match]\nType=ether\n\n[Network]\nDHCP=ipv4\n' > "$root/etc/systemd/network/10-ether.network"
    chroot "$root" systemctl enable systemd-networkd.service > /dev/null 2>&1
    # The 9p share modules load at boot when the kernel has them (docs/vm.md, `share`).
    printf '9p\n9pnet_virtio\n' > "$root/etc/modules-load.d/joulebench-9p.conf"

    chroot "$root" useradd --create-home --shell /bin/bash bench
    ssh-keygen -q -t ed25519 -N '' -C joulebench-test-guest -f "$dest/id_ed25519"
    install -d -m 700 "$root/home/bench/.ssh"
    install -m 600 "$dest/id_ed25519.pub" "$root/home/bench/.ssh/authorized_keys"
    chroot "$root" chown -R bench:bench /home/bench/.ssh
    # The test user may become root without a password: joulebench mounts shared folders and
    # the guest's measure may set caps (a test guest only; docs/vm.md).
    printf 'bench ALL=(ALL) NOPASSWD: ALL\n' > "$root/etc/sudoers.d/bench"
    chmod 440 "$root/etc/sudoers.d/bench"
    # No DNS here: sshd must not wait for reverse look-ups.
    printf 'UseDNS no\n' > "$root/etc/ssh/sshd_config.d/joulebench.conf"

    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log \
        "$root"/debootstrap "$root"/tmp/* "$root"/boot/initrd.img-*
    find "$root/dev" -mindepth 1 -delete
    # Free room for the workloads' files: the used size plus 256 MiB.
    local used_mib
    used_mib=$(du -sm "$root" | cut -f1)
    mke2fs -q -t ext4 -L test-guest -d "$root" "$dest/rootfs.img" "$((used_mib + 256))M"
}
# <<< guest recipe

work="$(mktemp -d "$cache_dir/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/out"
# Hard links cost nothing; debootstrap still checks each file against the mirror's index.
for deb in /var/cache/apt/archives/*.deb; do
    [ -f "$deb" ] && [ ! -e "$cache_dir/debs/${deb##*/}" ] && ln "$deb" "$cache_dir/debs/" 2> /dev/null || true
done
# Its tools' chatter (ssh-keygen's, debootstrap's) goes to standard error: standard output is
# the guest's folder alone, which callers read.
make_guest "$work/root" "$work/out" >&2
cat > "$work/out/guest.toml" << EOF
# The test guest of scripts/build-test-guest.sh, booted under TCG (no KVM needed).
[[environment]]
name = "test-guest"
type = "vm"
image = "$out/rootfs.img"
kernel = "$out/vmlinuz"
initrd = "$out/initrd.img"
append = "root=/dev/vda rw console=ttyS0"
accel = "tcg"
cpus = 1
memory = "1G"
user = "bench"
identity_file = "$out/id_ed25519"
EOF
touch "$work/out/.complete"
rm -rf "$out"
mv "$work/out" "$out"
# Older guests of other recipes are stale.
find "$cache_dir" -mindepth 1 -maxdepth 1 -type d -not -name debs -not -name "${out##*/}" \
    -not -name 'build.*' -exec rm -rf {} +
log "test guest ready in $out in $(($(date +%s) - start_s)) s"
echo "$out"
