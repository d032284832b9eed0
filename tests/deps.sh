#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs the Debian packages netpold builds and tests with, when missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libnftnl-dev libmnl-dev libcurl4-openssl-dev
	libjansson-dev libyaml-dev check libmicrohttpd-dev libsystemd-dev nftables iproute2
	valgrind clang libclang-rt-14-dev libcap-dev procps curl openssl python3 kmod jq umoci)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
