#!/bin/sh
# build.sh [VERSION]: build tilld, tillctl and tillhq for linux/amd64 and
# linux/arm64 (cgo, cross-compiled for arm64) with VERSION stamped in, and
# package them with nfpm as dist/tilld_*.deb and dist/tillhq_*.deb.
#
# VERSION defaults to `git describe`; the Debian version is derived from it
# (v1.2.3 -> 1.2.3, an untagged commit -> 0.0~gitDATE.HASH). ARCHES="amd64"
# builds one architecture only. Missing Debian packages (the arm64 cross
# compiler and libraries) are installed, so run it as root or with sudo.
set -eu

cd "$(dirname "$0")/.."
root=$(pwd)
src=$root/packaging
dist=$root/dist
work=$dist/.build

VERSION=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
ARCHES=${ARCHES:-amd64 arm64}
MAINTAINER=${MAINTAINER:-tilld developers <dev@tilld.example.org>}
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2 # v2.46+ does not download here
GO=${GO:-go}
host=$(dpkg --print-architecture)

say() { printf 'build.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# debversion VERSION: a Debian upstream version for a git describe string.
debversion() {
	v=${1#v}
	case "$v" in
	[0-9]*.[0-9]*) ;;
	*) v="0.0~git$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date -u +%Y%m%d).$v" ;;
	esac
	# A hyphen would start a Debian revision; keep to the allowed characters.
	printf '%s\n' "$v" | sed 's/-/+/g; s/[^A-Za-z0-9.+~]/./g'
}

# libc_dep BINARY...: "libc6 (>= X)" for the newest glibc symbol version the
# binaries need, after checking that they need no library the package does
# not depend on. ALLOWED_LIBS lists the extra sonames allowed.
libc_dep() {
	for b in "$@"; do
		for lib in $(readelf -d -W "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			case " libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 libresolv.so.2 ld-linux-x86-64.so.2 ld-linux-aarch64.so.1 $ALLOWED_LIBS " in
			*" $lib "*) ;;
			*) die "$b needs $lib: add the package that has it to the nfpm.yaml depends and to ALLOWED_LIBS in build.sh" ;;
			esac
		done
	done
	v=$(for b in "$@"; do readelf -V -W "$b"; done | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
	[ -n "$v" ] || die "$*: no glibc version needed: not a cgo build?"
	printf 'libc6 (>= %s)\n' "$v"
}

start=$(date +%s)
debs="gcc libc6-dev pkg-config binutils libpcsclite-dev"
for arch in $ARCHES; do
	case "$arch" in
	"$host") ;;
	arm64) debs="$debs gcc-aarch64-linux-gnu libc6-dev-arm64-cross libpcsclite-dev:arm64" ;;
	amd64) debs="$debs gcc-x86-64-linux-gnu libc6-dev-amd64-cross libpcsclite-dev:amd64" ;;
	*) die "architecture $arch: only amd64 and arm64 are built" ;;
	esac
done
# shellcheck disable=SC2086
"$root/scripts/ensure-debs.sh" $debs

mkdir -p "$work/tools"
if [ ! -x "$work/tools/nfpm" ]; then
	say "building nfpm ($NFPM)"
	(cd "$work" && GOBIN="$work/tools" "$GO" install "$NFPM")
fi

DEB_VERSION=$(debversion "$VERSION")
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH
say "version $VERSION (Debian $DEB_VERSION), architectures: $ARCHES"

# Changelogs: Debian wants one; it says which commit the package was built from.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
for pkg in tilld tillhq; do
	mkdir -p "$work/$pkg"
	printf '%s (%s) unstable; urgency=medium\n\n  * Build %s, from commit %s.\n\n -- %s  %s\n' \
		"$pkg" "$DEB_VERSION" "$VERSION" "$commit" "$MAINTAINER" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")" |
		gzip -9n >"$work/$pkg/changelog.gz"
done

rm -f "$dist"/tilld_*.deb "$dist"/tillhq_*.deb
for arch in $ARCHES; do
	bin=$work/$arch
	rm -rf "$bin"
	mkdir -p "$bin"
	cc=gcc
	pkgconfig=""
	if [ "$arch" != "$host" ]; then
		case "$arch" in
		arm64) cc=aarch64-linux-gnu-gcc triplet=aarch64-linux-gnu ;;
		amd64) cc=x86_64-linux-gnu-gcc triplet=x86_64-linux-gnu ;;
		esac
		pkgconfig=/usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig
	fi
	say "building linux/$arch binaries (CC=$cc)"
	t=$(date +%s)
	env CGO_ENABLED=1 GOOS=linux GOARCH="$arch" CC="$cc" \
		${pkgconfig:+PKG_CONFIG_LIBDIR=$pkgconfig} \
		CGO_CFLAGS="-O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2" \
		CGO_LDFLAGS="-Wl,-z,relro -Wl,-z,now" \
		"$GO" build -trimpath -buildmode=pie \
		-ldflags "-s -w -X github.com/tilld/tilld/version.Version=$VERSION -linkmode=external -extldflags '-Wl,-z,relro -Wl,-z,now'" \
		-o "$bin/" ./cmd/tilld ./cmd/tillctl ./cmd/tillhq
	say "built linux/$arch in $(($(date +%s) - t))s"

	for pkg in tilld tillhq; do
		case "$pkg" in
		tilld) ALLOWED_LIBS=libpcsclite.so.1 bins="$bin/tilld $bin/tillctl" ;;
		tillhq) ALLOWED_LIBS="" bins="$bin/tillhq" ;;
		esac
		# shellcheck disable=SC2086
		LIBC_DEP=$(libc_dep $bins)
		DEB_ARCH=$arch BIN=$bin WORK=$work \
			DEB_VERSION=$DEB_VERSION LIBC_DEP=$LIBC_DEP MAINTAINER=$MAINTAINER \
			"$work/tools/nfpm" pkg --packager deb --config "$src/$pkg/nfpm.yaml" --target "$dist/"
	done
done

ls -l "$dist"/*.deb
say "done in $(($(date +%s) - start))s"
