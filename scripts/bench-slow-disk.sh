#!/bin/sh
# bench-slow-disk.sh: run the ledger's commit benchmarks on till-class storage.
#
# A till's eMMC or SD card takes milliseconds to sync; a development VM's
# virtual disk a fraction of one. This script makes the kernel throttle the
# writes of the benchmark process to the disk that holds TMPDIR, to WIOPS
# write operations per second, through the block I/O controller of cgroups
# (v1 blkio.throttle.write_iops_device or v2 io.max), and runs the benchmarks
# there. Nothing in tilld or in the benchmark is faked: the kernel delays the
# real writes and fsyncs, as a slower device would. Needs root.
#
#   scripts/bench-slow-disk.sh [WIOPS] [go test flags...]
#   scripts/bench-slow-disk.sh 200 -test.bench 'WritersInterleaved' -test.benchtime 5x
#
# BENCH_PKG names another package to run the benchmarks of (default
# ./ledger/ledgerbench); its test binary runs in the package's directory, as
# go test runs it. The processes it starts (tilld, tillhq) are in the same
# cgroup, so they are throttled too:
#
#   BENCH_PKG=./e2e scripts/bench-slow-disk.sh 1000 -test.run '^$' \
#       -test.bench 'SaleLatency/hq=online' -test.benchtime 1000x
#
# WIOPS defaults to 200 (about 10 ms a sync here, an SD card's); the default
# flags run BenchmarkWritersInterleaved and the 4 KiB fsync for reference.
set -eu
cd "$(dirname "$0")/.."

wiops=${1:-200}
pkg=${BENCH_PKG:-./ledger/ledgerbench}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- -test.run '^$' -test.bench 'WritersInterleaved|Commit$/fsync4k' -test.benchtime 5x

[ "$(id -u)" = 0 ] || { echo "bench-slow-disk: needs root, to set up a cgroup" >&2; exit 1; }
tmp=${TMPDIR:-/tmp}

# The whole disk under TMPDIR: throttling applies to disks, not partitions.
dev=$(findmnt -no MAJ:MIN -T "$tmp" | tr -d ' ')
if [ -e "/sys/dev/block/$dev/partition" ]; then
	dev=$(cat "/sys/dev/block/$dev/../dev")
fi
case $dev in
*:*) ;;
*) echo "bench-slow-disk: cannot tell which disk holds $tmp (got '$dev')" >&2; exit 1 ;;
esac

bin=$(mktemp -d)
trap 'rm -rf "$bin"; [ -n "${cg:-}" ] && rmdir "$cg" 2>/dev/null; true' EXIT
go test -c -o "$bin/bench.test" "$pkg"
cd "$pkg"

if [ -e /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device ]; then
	cg=/sys/fs/cgroup/blkio/tilld-slow-disk-$$
	mkdir "$cg"
	echo "$dev $wiops" >"$cg/blkio.throttle.write_iops_device"
elif [ -e /sys/fs/cgroup/cgroup.subtree_control ]; then
	echo +io >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
	cg=/sys/fs/cgroup/tilld-slow-disk-$$
	mkdir "$cg"
	echo "$dev wiops=$wiops" >"$cg/io.max"
else
	echo "bench-slow-disk: no cgroup block I/O controller (blkio or io) on this machine" >&2
	exit 1
fi

echo "disk $dev (holds $tmp) throttled to $wiops writes/s; $(nproc) CPUs; $(uname -r)"
# The shell moves itself into the cgroup and becomes the benchmark.
sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$cg" "$bin/bench.test" "$@"
