#!/bin/sh
# windows-wine.sh PROGRAM.exe [ARGS...]: run a windows/amd64 program under
# Debian's wine64, in the wine prefix $WINEPREFIX, creating the prefix the
# first time (quietly; about half a minute). `go test -exec
# scripts/windows-wine.sh` runs a package's tests this way; windows-test.sh
# makes one throwaway prefix per run.
#
# Wine 8.0 has no bcryptprimitives.dll, which Go's runtime (1.22 and later)
# loads at start for ProcessPrng: the prefix gets a small one built from
# windows-bcryptprimitives.c (test prefixes only; Windows 10/11 have it).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${WINEPREFIX:?set WINEPREFIX to a directory for the wine prefix}"
export WINEPREFIX WINEDEBUG=${WINEDEBUG:--all} WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=}
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
sys32=$WINEPREFIX/drive_c/windows/system32
if [ ! -f "$sys32/bcryptprimitives.dll" ]; then
	# One creator at a time: go test runs several test binaries at once.
	exec 9>"$WINEPREFIX.lock"
	flock 9
	if [ ! -f "$sys32/bcryptprimitives.dll" ]; then
		"$wine" wineboot -i >/dev/null 2>&1
		x86_64-w64-mingw32-gcc -shared -O2 -o "$WINEPREFIX/bcryptprimitives.dll" \
			"$here/windows-bcryptprimitives.c" -ladvapi32
		cp "$WINEPREFIX/bcryptprimitives.dll" "$sys32/bcryptprimitives.dll"
	fi
	flock -u 9
fi
exec "$wine" "$@"
