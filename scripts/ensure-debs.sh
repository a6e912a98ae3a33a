#!/bin/sh
# ensure-debs.sh PKG... — install the Debian packages that are missing, once.
# The Makefile, packaging/build.sh and packaging/check.sh all call it.
#
# A package of a foreign architecture (libpcsclite-dev:arm64) adds that
# architecture to dpkg first. Other jobs may hold the dpkg lock for a while:
# apt-get waits up to 10 minutes for it. Not root: it runs apt-get with sudo.
set -eu
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "ensure-debs.sh: installing Debian packages:$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
host=$(dpkg --print-architecture)
for p in $missing; do
	case "$p" in
	*:*)
		arch=${p##*:}
		if [ "$arch" != "$host" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
			$SUDO dpkg --add-architecture "$arch"
		fi
		;;
	esac
done
apt_get() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }
apt_get update -qq || echo "ensure-debs.sh: apt-get update failed; installing from the package lists there are" >&2
# shellcheck disable=SC2086 # word splitting wanted
apt_get install -y -qq --no-install-recommends $missing
