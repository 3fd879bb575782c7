#!/usr/bin/env bash
# Builds husk, prepares ./demo-bundle (a busybox root filesystem and a
# config.json made by `husk spec`), runs one container in the foreground
# and prints its output. Everything it creates is removed on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: husk needs root to create namespaces and cgroups; run as root" >&2
	exit 1
fi
# What the build and the bundle need (libseccomp-dev, musl-tools,
# busybox-static...); it asks apt only for what is missing.
./scripts/install-deps.sh
make --no-print-directory husk >/dev/null

bundle=$PWD/demo-bundle
id=demo-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
cgparent=husk-demo
state=$(mktemp -d /tmp/husk-demo-state.XXXXXX)

cleanup() {
	./husk --root "$state" delete --force "$id" >/dev/null 2>&1 || true
	rm -rf "$state" "$bundle"
	# Only the cgroups this demo made: its own, then the shared parent if
	# no other demo is using it (rmdir fails on a non-empty cgroup).
	for d in /sys/fs/cgroup/*/"$cgparent"/"$id" /sys/fs/cgroup/*/"$cgparent"; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null || true
	done
}
trap cleanup EXIT

rm -rf "$bundle"
mkdir -p "$bundle"/rootfs/{bin,etc,proc,sys,dev,tmp}
cp /bin/busybox "$bundle"/rootfs/bin/busybox
for applet in sh id hostname cat ls echo ps sleep true false env mount kill; do
	ln -s busybox "$bundle/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$bundle"/rootfs/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' >"$bundle"/rootfs/etc/group

./husk spec --bundle "$bundle"
# Patch the generated spec: no terminal (the demo may run without one), the
# demo command, and an absolute cgroup path so the container's cgroup is
# not created inside the caller's own.
awk -v cg="/$cgparent/$id" '
	/"terminal": true/ { sub(/true/, "false") }
	in_args && /"sh"/ {
		sub(/"sh"/, "\"sh\", \"-c\", \"echo \\\"hostname: $(hostname)\\\"; echo \\\"pid: $$\\\"; id\"")
		in_args = 0
	}
	/"args": \[/ { in_args = 1 }
	{ print }
	/^\t"linux": \{/ { printf "\t\t\"cgroupsPath\": \"%s\",\n", cg }
' "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

echo "+ husk --root $state run --bundle $bundle $id"
./husk --root "$state" run --bundle "$bundle" "$id"
