#!/bin/sh
# fuzz-long.sh: run every fuzz target of the module for FUZZTIME each, FUZZJOBS
# targets at a time with one fuzzing worker each, then write the summary table
# (execs, execs/s, new interesting inputs, findings) into docs/fuzzing.md.
#
#   scripts/fuzz-long.sh                          # every target, 10 minutes each, two at a time
#   FUZZTIME=20s scripts/fuzz-long.sh             # a short demonstration
#   FUZZTARGETS='^Fuzz(Open|Journal)$' FUZZJOBS=1 scripts/fuzz-long.sh
#
# Variables: FUZZTIME (10m), FUZZJOBS (2: the machine's two cores),
# FUZZMINIMIZE (1s: how long Go may minimize an input it finds interesting or
# failing; the worker fuzzes nothing meanwhile, and Go's default of a minute
# each stalled the fuzzers that find many inputs early), FUZZTARGETS (a
# regular expression the target names must match; all by default), FUZZLOGS
# (where the fuzzers' output goes; a new directory under /tmp by default),
# FUZZDOC (docs/fuzzing.md; "-" prints the table only).
#
# A failing input is written by Go into the package's testdata/fuzz/FuzzX/:
# commit it with the fix, it is then a seed `go test` runs every time. The
# exit status is 1 when any target failed. A run that ends with "context
# deadline exceeded" and no failing input is Go 1.26's own race at the end of
# -fuzztime (go.dev/issue/75804), not a finding: the table says so.
set -eu
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10m}
FUZZJOBS=${FUZZJOBS:-2}
FUZZMINIMIZE=${FUZZMINIMIZE:-1s}
FUZZTARGETS=${FUZZTARGETS:-.}
FUZZDOC=${FUZZDOC:-docs/fuzzing.md}
FUZZLOGS=${FUZZLOGS:-$(mktemp -d /tmp/tilld-fuzz-XXXXXX)}
mkdir -p "$FUZZLOGS"
export GO FUZZTIME FUZZMINIMIZE FUZZLOGS

# The targets: each package that declares a Fuzz function in a test file,
# listed by the test binary itself (so build constraints count).
list="$FUZZLOGS/targets"
: >"$list"
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
	pkg=$($GO list "$dir")
	# A package whose tests do not build would drop its targets silently.
	names=$($GO test -list '^Fuzz' "$dir") || { echo "fuzz-long: cannot list the fuzz targets of $pkg (above)" >&2; exit 1; }
	for f in $(echo "$names" | grep '^Fuzz' | grep -E "$FUZZTARGETS" || true); do
		echo "$pkg $f" >>"$list"
	done
done
n=$(wc -l <"$list")
[ "$n" -gt 0 ] || { echo "fuzz-long: no fuzz target matches $FUZZTARGETS" >&2; exit 1; }
echo "fuzz-long: $n targets, $FUZZTIME each, $FUZZJOBS at a time; output in $FUZZLOGS"

# One target: its output and exit status go to FUZZLOGS/<package>.<target>.
# -timeout 0: the run lasts FUZZTIME; a hung input is still caught by the
# fuzzing engine's own per-input deadline.
xargs -P "$FUZZJOBS" -L 1 sh -c '
	pkg=$1 f=$2
	log="$FUZZLOGS/$(echo "$pkg" | tr / _).$f"
	echo "== $pkg $f"
	rc=0
	$GO test -run "^\$" -fuzz "^$f\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZE" \
		-parallel 1 -timeout 0 "$pkg" >"$log.log" 2>&1 || rc=$?
	echo "$rc" >"$log.rc"
	[ "$rc" = 0 ] && echo "   $f: ok" || echo "   $f: FAILED (exit $rc), see $log.log"
' _ <"$list"

# The summary; its exit status is 1 when a target found a failing input or
# did not run.
exec $GO run ./scripts/fuzzsummary -logs "$FUZZLOGS" -fuzztime "$FUZZTIME" -jobs "$FUZZJOBS" -doc "$FUZZDOC"
