#!/bin/sh
# check-msi.sh BINDIR: build tilld's .msi twice (versions 0.0.1 and 0.0.2)
# from BINDIR's tilld.exe and tillctl.exe, check its tables with msiinfo,
# then, under wine (WINEPREFIX must name a prefix; scripts/windows-test.sh
# makes one), install 0.0.1, upgrade to 0.0.2, uninstall, and install and
# uninstall again with PURGE=1, checking the files, the service, the PATH,
# and that the configuration and the data outlive an upgrade and an uninstall.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$1
: "${WINEPREFIX:?}"
wine() { "$root/scripts/windows-wine.sh" "$@"; }
fail() { echo "check-msi.sh: FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/build-msi.sh" v0.0.1 "$bin" "$work/tilld-1.msi" >/dev/null
"$here/build-msi.sh" v0.0.2 "$bin" "$work/tilld-2.msi" >/dev/null

# The tables.
table() { msiinfo export "$work/tilld-1.msi" "$1"; }
table Property | grep -q '^UpgradeCode	{6A1D2F3E-8C4B-4E7A-9B1D-7C3E5F2A1B90}' || fail "UpgradeCode is not the stable one"
table Property | grep -q '^ProductVersion	0.0.1' || fail "ProductVersion"
table Upgrade | grep -q '{6A1D2F3E-8C4B-4E7A-9B1D-7C3E5F2A1B90}' || fail "no Upgrade row for the UpgradeCode (MajorUpgrade)"
table InstallExecuteSequence | grep -q '^RemoveExistingProducts' || fail "no RemoveExistingProducts"
for f in tilld.exe tillctl.exe tilld.toml.example; do
	table File | grep -q "	$f	" || fail "the File table has no $f"
done
table CustomAction | grep -q 'service install --config-template' || fail "no service install custom action"
table InstallExecuteSequence | grep -q '^ServiceRemove	REMOVE="ALL" AND PURGE<>"1"' || fail "service remove is not run on uninstall"
table InstallExecuteSequence | grep -q '^ServiceInstall	NOT REMOVE' || fail "service install is not run on install"
echo "check-msi.sh: tables ok"

drive=$WINEPREFIX/drive_c
pf="$drive/Program Files/tilld"
pd="$drive/ProgramData/tilld"
msiexec() { wine msiexec "$@" /qn >"$work/msiexec.out" 2>&1 || { cat "$work/msiexec.out" >&2; fail "msiexec $*"; }; }
winpath() { printf 'Z:%s\n' "$1" | tr / '\\'; }
installed() { wine sc query tilld 2>/dev/null | grep -q 'STATE'; }
syspath() { wine reg query 'HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment' /v Path 2>/dev/null | tr -d '\r'; }

msiexec /i "$(winpath "$work/tilld-1.msi")"
[ -f "$pf/tilld.exe" ] && [ -f "$pf/tillctl.exe" ] || fail "install: the binaries are not in Program Files\\tilld"
[ -f "$pd/tilld.toml" ] && grep -q 'Restart-Service tilld' "$pd/tilld.toml" || fail "install: no commented configuration in ProgramData\\tilld"
[ -d "$pd/data" ] && [ -d "$pd/log" ] || fail "install: no data and log directories"
installed || fail "install: no service tilld"
syspath | grep -q 'C:\\Program Files\\tilld' || fail "install: Program Files\\tilld is not on the system PATH"
echo "check-msi.sh: install ok"

# Store IT's edits and a ledger: an upgrade keeps both.
printf '\r\nterminal = "S1-T1"\r\n' >>"$pd/tilld.toml"
echo ledger >"$pd/data/ledger.db"
msiexec /i "$(winpath "$work/tilld-2.msi")"
grep -q 'terminal = "S1-T1"' "$pd/tilld.toml" || fail "upgrade: the configuration was replaced"
[ "$(cat "$pd/data/ledger.db")" = ledger ] || fail "upgrade: the ledger is gone"
installed || fail "upgrade: the service is gone"
[ -f "$pf/tilld.exe" ] || fail "upgrade: tilld.exe is gone"
[ "$(wine reg query 'HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall' /s 2>/dev/null | tr -d '\r' | grep -c 'DisplayName.*tilld$')" -le 1 ] ||
	fail "upgrade: two tilld products are installed"
echo "check-msi.sh: upgrade ok"

msiexec /x "$(winpath "$work/tilld-2.msi")"
[ ! -e "$pf/tilld.exe" ] || fail "uninstall: tilld.exe is still there"
installed && fail "uninstall: the service is still there"
syspath | grep -q 'C:\\Program Files\\tilld' && fail "uninstall: Program Files\\tilld is still on the PATH"
grep -q 'terminal = "S1-T1"' "$pd/tilld.toml" || fail "uninstall: the configuration is gone"
[ "$(cat "$pd/data/ledger.db")" = ledger ] || fail "uninstall: the ledger is gone"
echo "check-msi.sh: uninstall ok (configuration and data kept)"

msiexec /i "$(winpath "$work/tilld-2.msi")"
msiexec /x "$(winpath "$work/tilld-2.msi")" PURGE=1
[ ! -e "$pd" ] || fail "uninstall PURGE=1: ProgramData\\tilld is still there"
echo "check-msi.sh: uninstall with PURGE=1 ok (all removed)"
