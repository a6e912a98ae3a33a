#!/bin/sh
# check.sh [DIST]: check the packages build.sh put in DIST (default dist/):
# inspect them with dpkg-deb, run lintian (no errors allowed), install the
# tilld and tillhq packages of this machine's architecture with dpkg -i, run
# the installed tilld --version, tilld config check and tillctl doctor, run
# tilld as its user and check its API token's file mode and who can use it, verify
# the systemd units with systemd-analyze (any output fails), then remove and
# purge them and check that nothing is left behind.
#
# It installs lintian and the packages' dependencies when missing, and
# installs and purges tilld and tillhq on this machine: run it as root on a
# build or CI machine, not on a till.
set -eu

cd "$(dirname "$0")/.."
dist=${1:-dist}
arch=$(dpkg --print-architecture)
start=$(date +%s)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'check.sh: FAIL: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root: it installs and removes packages"

# ensure_debs PKG...: install the Debian packages that are missing.
ensure_debs() { scripts/ensure-debs.sh "$@"; }

# deb PACKAGE ARCH: the one .deb of PACKAGE for ARCH in dist.
deb() {
	want="$dist/$1_*_$2.deb"
	set -- "$dist/$1"_*_"$2".deb
	if [ $# != 1 ] || [ ! -f "$1" ]; then
		fail "want exactly one $want, found: $*"
	fi
	echo "$1"
}

# absent PATH...: fail when any exists.
absent() {
	for p in "$@"; do
		if [ -e "$p" ] || [ -L "$p" ]; then fail "$p is still there"; fi
	done
}

purge_installed() {
	for p in tilld tillhq; do
		if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv "not-installed"; then
			dpkg -P "$p" >/dev/null
		fi
	done
}

ensure_debs lintian systemd binutils

step "inspect the packages"
debs=$(ls "$dist"/tilld_*.deb "$dist"/tillhq_*.deb 2>/dev/null) || fail "no packages in $dist: run packaging/build.sh first"
for d in $debs; do
	name=$(dpkg-deb -f "$d" Package)
	darch=$(dpkg-deb -f "$d" Architecture)
	echo "-- $d: $name $(dpkg-deb -f "$d" Version) $darch, depends: $(dpkg-deb -f "$d" Depends)"
	dpkg-deb --contents "$d" | tee "$tmp/contents" | awk '{print "   " $1, $6, $7, $8}'
	case "$name" in
	tilld)
		want="./usr/bin/tilld ./usr/bin/tillctl ./etc/tilld/tilld.toml ./lib/systemd/system/tilld.service
			./lib/udev/rules.d/60-tilld.rules ./usr/share/polkit-1/rules.d/60-tilld.rules
			./usr/lib/modules-load.d/tilld.conf ./usr/share/doc/tilld/copyright ./usr/share/doc/tilld/changelog.gz"
		bins="usr/bin/tilld usr/bin/tillctl"
		dpkg-deb --info "$d" conffiles | grep -qx /etc/tilld/tilld.toml || fail "$d: /etc/tilld/tilld.toml is not a conffile"
		;;
	tillhq)
		want="./usr/bin/tillhq ./lib/systemd/system/tillhq.service ./usr/share/tillhq/example.toml ./usr/share/doc/tillhq/copyright ./usr/share/doc/tillhq/changelog.gz"
		bins="usr/bin/tillhq"
		;;
	*) fail "$d: unexpected package $name" ;;
	esac
	for p in $want; do
		grep -q " $p\$" "$tmp/contents" || grep -q " $p -> " "$tmp/contents" || fail "$d lacks $p"
	done
	for s in postinst prerm postrm; do
		dpkg-deb --info "$d" "$s" >/dev/null 2>&1 || fail "$d has no $s script"
	done
	rm -rf "$tmp/x" && mkdir "$tmp/x" && dpkg-deb -x "$d" "$tmp/x"
	case "$darch" in
	amd64) machine="X86-64" ;;
	arm64) machine="AArch64" ;;
	*) fail "$d: architecture $darch" ;;
	esac
	for b in $bins; do
		readelf -h "$tmp/x/$b" | grep -q "Machine:.*$machine" || fail "$d: $b is not a $darch binary"
		readelf -d "$tmp/x/$b" | grep -q "(NEEDED)" || fail "$d: $b is not dynamically linked (built without cgo?)"
	done
done

step "lintian"
# shellcheck disable=SC2086
lintian --fail-on error --display-info $debs || fail "lintian found errors"

step "install tilld and tillhq ($arch) with dpkg -i"
tilld_deb=$(deb tilld "$arch")
tillhq_deb=$(deb tillhq "$arch")
purge_installed
deps=$( (dpkg-deb -f "$tilld_deb" Depends; dpkg-deb -f "$tillhq_deb" Depends) | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g' | sort -u)
# shellcheck disable=SC2086
ensure_debs $deps
dpkg -i "$tilld_deb" "$tillhq_deb"

step "check the installed files"
for u in tilld tillhq; do
	getent passwd "$u" >/dev/null || fail "no user $u"
	[ "$(stat -c %U:%G /var/lib/$u)" = "$u:$u" ] || fail "/var/lib/$u is not owned by $u"
	[ -L "/etc/systemd/system/multi-user.target.wants/$u.service" ] || fail "$u.service is not enabled"
done
for g in dialout plugdev; do
	id -nG tilld | tr ' ' '\n' | grep -qx "$g" || fail "user tilld is not in group $g"
done
built=$(zcat /usr/share/doc/tilld/changelog.gz | sed -n 's/^  \* Build \(.*\), from commit .*/\1/p')
for b in tilld tillhq; do
	out=$($b --version)
	echo "$out"
	[ "$out" = "$b version $built" ] || fail "$b --version says \"$out\", want \"$b version $built\""
done

# The shipped configuration parses; with a serial reader on a port that does
# not exist, doctor names it (and the other problems of a till that never ran).
# Fresh from the package the till is not enrolled yet: config check parses the
# file and says what is missing, and how to get it.
if out=$(tilld config check /etc/tilld/tilld.toml 2>&1); then
	fail "tilld config check passed a never-enrolled till: $out"
fi
echo "$out" | grep -q "terminal: missing (enroll this till" || fail "tilld config check of the shipped file: $out"
sed 's/^#terminal = .*/terminal = "CHECK-T1"/' /etc/tilld/tilld.toml >"$tmp/tilld.toml"
cat >>"$tmp/tilld.toml" <<'TOML'
[[reader]]
name = "front"
type = "serial"
port = "/dev/ttyUSB-tilld-check-missing"
TOML
tilld config check "$tmp/tilld.toml" | grep -q "terminal CHECK-T1, 1 readers" || fail "tilld config check of a filled-in file"
# A till that never ran fails several checks: that is expected, so doctor's
# table is shown only when this check fails, not to be taken for a failure.
for conf in /etc/tilld/tilld.toml "$tmp/tilld.toml"; do
	rc=0
	tillctl doctor --config "$conf" >"$tmp/doctor" 2>&1 || rc=$?
	grep -Eq '^CHECK +STATUS +DETAIL$' "$tmp/doctor" || fail "tillctl doctor printed no table: $(cat "$tmp/doctor")"
	summary=$(grep -E '^[0-9]+ checks: [0-9]+ ok, ' "$tmp/doctor") || fail "tillctl doctor printed no summary: $(cat "$tmp/doctor")"
	if grep -Eq ' FAIL ' "$tmp/doctor"; then
		[ "$rc" != 0 ] || fail "tillctl doctor reported failures but exited 0: $(cat "$tmp/doctor")"
	fi
	echo "-- tillctl doctor --config $conf, on a till that never ran (failures expected): $summary exit status $rc"
done
grep -q "serial port /dev/ttyUSB-tilld-check-missing missing: is the adapter plugged in?" "$tmp/doctor" ||
	fail "tillctl doctor did not name the missing serial port: $(cat "$tmp/doctor")"

step "the local API's token"
# tilld, run as its service user, makes the API token readable by user and
# group tilld only: root's tillctl reads it and sells; another user's tillctl
# is refused and told why; doctor checks it.
chmod 0755 "$tmp"
printf 'terminal = "CHECK-T1"\nlisten = "127.0.0.1:0"\n' >"$tmp/run.toml"
chmod 0644 "$tmp/run.toml"
setpriv --reuid=tilld --regid=tilld --init-groups tilld run --config "$tmp/run.toml" >"$tmp/tilld.log" 2>&1 &
tilld_pid=$!
for _ in $(seq 100); do
	grep -q "tilld running" "$tmp/tilld.log" && break
	sleep 0.1
done
addr=$(sed -n 's/.*api=http:\/\/\([0-9.:]*\).*/\1/p' "$tmp/tilld.log" | head -n 1)
[ -n "$addr" ] || { cat "$tmp/tilld.log"; fail "tilld did not start as user tilld"; }
mode=$(stat -c '%a %U:%G' /var/lib/tilld/api.token) || fail "tilld made no /var/lib/tilld/api.token"
[ "$mode" = "640 tilld:tilld" ] || fail "/var/lib/tilld/api.token is $mode, want 640 tilld:tilld"
tillctl --addr "$addr" account 2000000000015 | grep -q "^sales  *0" || fail "root's tillctl could not read an account with the token"
if out=$(runuser -u nobody -- tillctl --addr "$addr" account 2000000000015 2>&1); then
	fail "tillctl as nobody read an account: $out"
fi
echo "$out" | grep -q "readable by root and group tilld only" || fail "tillctl as nobody did not say why: $out"
tillctl doctor --addr "$addr" --config "$tmp/run.toml" >"$tmp/doctor" 2>&1 || true
grep -Eq '^api token +ok ' "$tmp/doctor" || { cat "$tmp/doctor"; fail "tillctl doctor's api token check did not pass"; }
kill "$tilld_pid"
wait "$tilld_pid" || fail "tilld did not stop cleanly on SIGTERM: $(cat "$tmp/tilld.log")"
echo "api token: 640 tilld:tilld; root's tillctl uses it, nobody's is refused and told why"

step "systemd-analyze verify"
out=$(systemd-analyze verify /lib/systemd/system/tilld.service /lib/systemd/system/tillhq.service 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify said something (any output is a failure): $out"
echo "units verified"

step "dpkg -r"
dpkg -r tilld tillhq
absent /usr/bin/tilld /usr/bin/tillctl /usr/bin/tillhq /lib/systemd/system/tilld.service /lib/systemd/system/tillhq.service \
	/lib/udev/rules.d/60-tilld.rules /usr/share/polkit-1/rules.d/60-tilld.rules /usr/lib/modules-load.d/tilld.conf
[ -f /etc/tilld/tilld.toml ] || fail "dpkg -r removed the conffile (only purge may)"
[ -d /var/lib/tilld ] || fail "dpkg -r removed /var/lib/tilld (only purge may)"

step "dpkg -P"
dpkg -P tilld tillhq
absent /etc/tilld /var/lib/tilld /var/lib/tillhq /run/tilld \
	/etc/systemd/system/multi-user.target.wants/tilld.service /etc/systemd/system/multi-user.target.wants/tillhq.service \
	/etc/systemd/system/tilld.service /etc/systemd/system/tillhq.service \
	/var/lib/systemd/deb-systemd-helper-enabled/tilld.service.dsh-also /var/lib/systemd/deb-systemd-helper-masked/tilld.service
for p in tilld tillhq; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv "not-installed"; then
		fail "$p is still known to dpkg: $(dpkg-query -W -f='${Status}' "$p")"
	fi
done

printf '\ncheck.sh: all checks passed in %ss\n' "$(($(date +%s) - start))"
