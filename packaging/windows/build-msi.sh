#!/bin/sh
# build-msi.sh VERSION BINDIR OUT.msi: tilld's .msi from tilld.exe and
# tillctl.exe in BINDIR (scripts/windows-build.sh makes them), with msitools'
# wixl. VERSION is the git version; an .msi wants a.b.c with numbers only, so
# v1.2.3(-n-gHASH) gives 1.2.3(.n) and an untagged tree 0.0.COMMITS.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
version=$1 bin=$2 out=$3
case $version in
v[0-9]*.[0-9]*.[0-9]*)
	v=${version#v}
	base=${v%%-*}
	n=$(echo "$v" | sed -n 's/^[^-]*-\([0-9][0-9]*\)-g.*/\1/p')
	msiver=$base${n:+.$n} ;;
*)
	msiver=0.0.$(git -C "$here" rev-list --count HEAD 2>/dev/null || echo 0) ;;
esac
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$bin/tilld.exe" "$bin/tillctl.exe" "$stage/"
"$here/config.sh" "$here/../tilld/tilld.toml" >"$stage/tilld.toml.example"
cp "$here/tilld.wxs" "$stage/"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
(cd "$stage" && wixl -a x64 -D Version="$msiver" -o "$out" tilld.wxs)
echo "build-msi.sh: $out (version $msiver)"
