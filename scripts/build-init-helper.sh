#!/usr/bin/env bash
# Builds husk-init (nsenter/cmd/husk-init) into $1 with musl, statically:
# the container-side C code of husk as a 75 KB program that husk embeds
# (package nsenter/inithelper) and runs instead of re-executing itself. Without
# musl-gcc (Debian: musl-tools) it removes $1 and husk is built without the
# helper, which works the same, only slower.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=$1
if ! command -v musl-gcc >/dev/null; then
	rm -f "$out"
	echo "note: musl-gcc not found (apt-get install musl-tools): husk is built without its init helper" >&2
	exit 0
fi
# musl's headers first; the kernel's (linux/, asm/) from the system.
musl-gcc -static -Os -Wall -Werror -fno-asynchronous-unwind-tables \
	-idirafter /usr/include -idirafter "/usr/include/$(gcc -print-multiarch)" \
	-o "$out.tmp" nsenter/cmd/husk-init/main.c nsenter/nsexec.c nsenter/execplan.c nsenter/initplan.c
strip "$out.tmp"
mv "$out.tmp" "$out"
