#!/usr/bin/env bash
# Times husk against runc and crun (bench/cmd/huskbench: run, create/start/
# delete, exec, state, a batch of detached containers, peak RSS, syscalls),
# then runs the Go benchmarks of husk's hot paths. Arguments are passed to
# the bench program, e.g. `scripts/bench.sh -n 10 -o /tmp/results.json`.
# Installs what husk's build needs (scripts/install-deps.sh) and runc, crun
# and strace from Debian when they are missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: the runtimes need root to create namespaces and cgroups; run as root" >&2
	exit 1
fi

./scripts/install-deps.sh
packages=(runc crun strace busybox-static util-linux)
missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -ne 0 ]; then
	echo "installing: ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

GO=${GO:-go}
make --no-print-directory husk >/dev/null
tmp=$(mktemp -d /tmp/huskbench-build.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
$GO build -o "$tmp/huskbench" ./bench/cmd/huskbench
# husk runs from a copy made as `make install` makes it, as runc and crun
# run from files dpkg wrote. How a binary got into the page cache changes
# how it maps: the file the linker just wrote maps in larger pieces, with
# ~40 fewer page faults per process (~0.6 ms here) and ~0.8 MiB more RSS
# than an installed copy. The installed copy is what users run.
install -m 0755 husk "$tmp/husk"

"$tmp/huskbench" -husk "$tmp/husk" -runc /usr/sbin/runc -crun /usr/bin/crun "$@"

echo
echo "+ go test -run '^\$' -bench . -benchmem -benchtime 200ms ./specconv ./cgroups/fs ./libcontainer ./seccomp"
$GO test -run '^$' -bench . -benchmem -benchtime 200ms ./specconv ./cgroups/fs ./libcontainer ./seccomp
