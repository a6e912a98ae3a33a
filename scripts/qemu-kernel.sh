#!/bin/sh
# qemu-kernel.sh — print the directory of an unpacked Debian 6.1 kernel package
# (boot/vmlinuz-*, lib/modules/VERSION/kernel/…) for the QEMU test tiers,
# downloading the newest linux-image-6.1.0-*-amd64 of the apt lists once into
# TILLD_QEMU_CACHE (default /var/tmp/tilld-hidqemu). Everything else it says
# goes to stderr, so `kernel=$(scripts/qemu-kernel.sh)` works.
#
# It also leaves boot/vmlinux-VERSION beside vmlinuz: the kernel decompressed,
# an ELF that QEMU boots through its PVH entry. Under software emulation
# decompressing the kernel's xz in the guest costs more than the rest of the
# boot (seconds; docs/benchmarks.md).
set -eu

cache=${TILLD_QEMU_CACHE:-/var/tmp/tilld-hidqemu}
fail() { echo "qemu-kernel: $*" >&2; exit 1; }

mkdir -p "$cache"
# Two tiers (or two checkouts) may ask at once: one downloads, the other waits.
exec 9>"$cache/.lock"
flock 9
if ! ls "$cache"/kernel/boot/vmlinuz-* >/dev/null 2>&1; then
	pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)
	if [ -z "$pkg" ]; then
		apt-get update -qq >&2 || true
		pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)
	fi
	[ -n "$pkg" ] || fail "no linux-image-6.1.0-*-amd64 in the apt lists"
	echo "downloading $pkg" >&2
	(cd "$cache" && rm -f linux-image-*.deb && apt-get download "$pkg" >/dev/null 2>&1) || fail "apt-get download $pkg failed"
	rm -rf "$cache/kernel.new"
	dpkg-deb -x "$cache"/linux-image-*.deb "$cache/kernel.new" || fail "unpack $pkg"
	rm -rf "$cache/kernel"
	mv "$cache/kernel.new" "$cache/kernel"
fi
for z in "$cache"/kernel/boot/vmlinuz-*; do
	x=$(echo "$z" | sed 's,/vmlinuz-,/vmlinux-,')
	[ -s "$x" ] && continue
	# The payload of a bzImage starts at the first xz magic (as the kernel's
	# scripts/extract-vmlinux finds it); xz stops at its end.
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$z" | head -1 | cut -d: -f1)
	[ -n "$off" ] || fail "$z: no xz payload (the kernel is not xz-compressed?)"
	tail -c +$((off + 1)) "$z" | xz -dc >"$x.new" 2>/dev/null || true
	[ "$(head -c 4 "$x.new" | od -An -c | tr -d ' ')" = '177ELF' ] || fail "$z: the xz payload is not an ELF kernel"
	mv "$x.new" "$x"
done
echo "$cache/kernel"
