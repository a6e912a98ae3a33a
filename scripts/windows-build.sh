#!/bin/sh
# windows-build.sh [VERSION]: tilld.exe, tillctl.exe and tillhq.exe for
# windows/amd64 and the installer tilld.msi (packaging/windows) into
# dist/windows/ (NO_MSI=1: the binaries only), cross-compiled on this Linux machine from
# the same tree. cgo is on for karalabe/hid, whose bundled hidapi has a Windows
# backend (without cgo hid.Enumerate silently finds nothing); the C cross
# compiler is Debian's mingw-w64. ebfe/scard and tarm/serial need no cgo on
# Windows (they call winscard.dll and kernel32 directly). The binaries import
# only KERNEL32.dll and msvcrt.dll: the mingw runtime is linked in statically.
set -eu
cd "$(dirname "$0")/.."
VERSION=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
GO=${GO:-go}
out=${OUT:-dist/windows}
scripts/ensure-debs.sh gcc-mingw-w64-x86-64 wixl msitools
mkdir -p "$out"
GOOS=windows GOARCH=amd64 CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc \
	$GO build -trimpath -ldflags "-X github.com/tilld/tilld/version.Version=$VERSION" \
	-o "$out/" ./cmd/tilld ./cmd/tillctl ./cmd/tillhq
echo "windows-build.sh: $(cd "$out" && ls tilld.exe tillctl.exe tillhq.exe | tr '\n' ' ')in $out"
[ -n "${NO_MSI:-}" ] && exit 0
packaging/windows/build-msi.sh "$VERSION" "$out" "$out/tilld.msi"
