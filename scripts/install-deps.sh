#!/usr/bin/env bash
# Installs the Debian packages husk's build, demo and tests need. Idempotent:
# it asks apt only when a package is missing.
set -euo pipefail

# libc6-dev and libseccomp-dev also provide the static libraries the static
# husk binary is linked with.
packages=(busybox-static bats jq libseccomp-dev libc6-dev musl-tools pkg-config gcc make strace procps util-linux)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	sudo=(sudo)
fi
echo "installing: ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
