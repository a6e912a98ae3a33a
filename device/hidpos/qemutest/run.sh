#!/bin/sh
# QEMU tier of the hidpos tests: boots a Debian kernel in QEMU (software
# emulation) whose dummy_hcd + USB gadget HID function present a HID POS
# scanner, and runs ./guest in it, which reads the scanner through karalabe/hid
# exactly as tilld does. Needs root for apt-get; downloads what it needs.
#
#   sh device/hidpos/qemutest/run.sh        # prints "HIDPOS-QEMU PASS" and exits 0
#
# TILLD_QEMU_CACHE (default /var/tmp/tilld-hidqemu) keeps the kernel between runs
# (see scripts/qemu-kernel.sh).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "HIDPOS-QEMU FAIL: $*"; exit 1; }

# Packages: QEMU, a static busybox for the guest's shell, cpio for the
# initramfs, xz for scripts/qemu-kernel.sh, gcc and libc6-dev for the static
# cgo build.
missing=""
command -v qemu-system-x86_64 >/dev/null || missing="$missing qemu-system-x86"
[ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 && ! ldd /bin/busybox >/dev/null 2>&1 || missing="$missing busybox-static"
command -v cpio >/dev/null || missing="$missing cpio"
command -v xz >/dev/null || missing="$missing xz-utils"
command -v gcc >/dev/null || missing="$missing gcc libc6-dev"
if [ -n "$missing" ]; then
	echo "installing:$missing"
	apt-get install -y --no-install-recommends $missing >/dev/null || fail "apt-get install$missing failed"
fi

# The kernel: the newest Debian 6.1 image the archive has, downloaded once
# (scripts/qemu-kernel.sh, shared with the power-cut tier).
kdir=$(sh "$root/scripts/qemu-kernel.sh") || fail "no kernel (run apt-get update?)"
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)
kver=$(ls "$kdir"/lib/modules | head -1)
mods="$kdir/lib/modules/$kver/kernel"

# The guest program, static, with cgo (hidapi + libusb).
echo "building the guest program"
(cd "$root" && CGO_ENABLED=1 go build -o "$work/guest" \
	-ldflags '-linkmode external -extldflags "-static"' ./device/hidpos/qemutest/guest) || fail "build guest"

# The initramfs: busybox, the modules in load order, the program, an init.
rd="$work/rootfs"
mkdir -p "$rd/bin" "$rd/dev" "$rd/proc" "$rd/sys" "$rd/lib/modules" "$rd/tmp"
cp /bin/busybox "$rd/bin/busybox"
for cmd in sh mount insmod mkdir cat echo sleep poweroff; do ln -s busybox "$rd/bin/$cmd"; done
order="fs/configfs/configfs drivers/usb/common/usb-common drivers/usb/core/usbcore
drivers/usb/gadget/udc/udc-core drivers/usb/gadget/libcomposite drivers/usb/gadget/function/usb_f_hid
drivers/usb/gadget/udc/dummy_hcd drivers/hid/hid drivers/hid/usbhid/usbhid drivers/hid/hid-generic"
n=0
for m in $order; do
	n=$((n + 1))
	cp "$mods/$m.ko" "$rd/lib/modules/$(printf %02d $n)-$(basename "$m").ko" || fail "module $m.ko missing from $kver"
done
cp "$work/guest" "$rd/guest"
cat >"$rd/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in /lib/modules/*.ko; do insmod "$m" || echo "insmod $m failed"; done
mount -t configfs configfs /sys/kernel/config
/guest
echo "guest exit status $?"
poweroff -f
INIT
chmod +x "$rd/init"
(cd "$rd" && find . | cpio -o -H newc --quiet | gzip -1 >"$work/initrd.gz") || fail "make initramfs"

# Boot. KVM hangs on this kind of machine: software emulation, ~10-30 s.
echo "booting $kver in QEMU"
timeout 300 qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 1 -nographic -no-reboot -net none \
	-kernel "$vmlinuz" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 panic=-1 quiet loglevel=3" >"$work/console.log" 2>&1 || true
grep -v '^\s*$' "$work/console.log" | grep -E -v 'SeaBIOS|iPXE|Booting|^Machine UUID' | tail -40
if grep -q '^HIDPOS-QEMU PASS' "$work/console.log"; then
	echo "HIDPOS-QEMU PASS ($kver)"
	exit 0
fi
fail "the guest did not pass; console above"
