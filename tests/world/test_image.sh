#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The container image (image/build.sh): builds the OCI tarball, unpacks it with umoci, and runs
# what the DaemonSet runs from the unpacked root through chroot: netpold --version, netpolctl
# --help, then netpold itself in a network namespace of its own, asked by the DaemonSet's probe
# command (the image's curl), and netpold --cleanup. Checks the image configuration (entrypoint,
# user, the tag deploy/ names) and that every library comes from inside the image.
set -uo pipefail

# shellcheck source=tests/world/node_lib.sh
source "$(dirname "$0")/node_lib.sh"

np_preamble test_image "chroot, network namespaces" "$build/netpold" umoci jq ip curl

TMP=$(mktemp -d /tmp/npimage.XXXXXX)
NS=npimg-$$
PID=
cleanup() {
	np_stop_pid "$PID" 250
	ip netns del "$NS" 2>/dev/null
	rm -rf -- "$TMP"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	[[ -s $TMP/netpold.log ]] && cat "$TMP/netpold.log" >&2
	exit 1
}
pass() { echo "ok: $*"; }

version=$("$build/netpold" --version | awk '{print $2}')

# 1. build.sh packs the programs ctest built (--no-build: the tree may be changing under us).
tarball=$TMP/out/netpold-oci.tar
NETPOLD_BUILD_DIR=$build "$src/image/build.sh" --no-build --output "$tarball" >"$TMP/build.log" 2>&1 ||
	fail "image/build.sh failed: $(cat "$TMP/build.log")"
[[ -s $tarball ]] || fail "no $tarball"
pass "image/build.sh: $(tail -n1 "$TMP/build.log")"

# 2. The OCI layout and the image configuration.
mkdir -p "$TMP/oci"
tar -C "$TMP/oci" -xf "$tarball" || fail "cannot untar the image"
jq -e --arg v "$version" '.manifests[0].annotations["org.opencontainers.image.ref.name"] == $v' \
	"$TMP/oci/index.json" >/dev/null || fail "image tag is not $version: $(cat "$TMP/oci/index.json")"
manifest=$(jq -r '.manifests[0].digest' "$TMP/oci/index.json" | sed 's/^sha256://')
config=$(jq -r '.config.digest' "$TMP/oci/blobs/sha256/$manifest" | sed 's/^sha256://')
cfg=$TMP/oci/blobs/sha256/$config
jq -e '.config.Entrypoint == ["/usr/sbin/netpold"]' "$cfg" >/dev/null || fail "entrypoint: $(jq -c .config "$cfg")"
jq -e '.config.User == "65532:65532"' "$cfg" >/dev/null || fail "user: $(jq -c .config "$cfg")"
jq -e '.os == "linux"' "$cfg" >/dev/null || fail "os: $(jq -c . "$cfg")"
ds_image=$(grep -E '^\s+image: netpold' "$src/deploy/daemonset.yaml" | awk '{print $2}')
[[ $ds_image == "netpold:$version" ]] || fail "deploy/daemonset.yaml names $ds_image, the image is netpold:$version"
pass "OCI layout: netpold:$version, entrypoint /usr/sbin/netpold, user 65532, as deploy/ names it"

# 3. Unpacked, the programs run from the image's own root.
umoci unpack --image "$TMP/oci:$version" "$TMP/bundle" >"$TMP/unpack.log" 2>&1 ||
	fail "umoci unpack: $(cat "$TMP/unpack.log")"
rootfs=$TMP/bundle/rootfs
out=$(chroot "$rootfs" /usr/sbin/netpold --version 2>&1) || fail "netpold --version in the image: $out"
[[ $out == "netpold $version" ]] || fail "netpold --version says '$out'"
chroot "$rootfs" /usr/sbin/netpolctl --help >"$TMP/o.txt" 2>&1 || fail "netpolctl --help in the image: $(cat "$TMP/o.txt")"
grep -q explain "$TMP/o.txt" || fail "netpolctl --help: $(cat "$TMP/o.txt")"
chroot "$rootfs" /usr/bin/curl --version >"$TMP/o.txt" 2>&1 || fail "curl --version in the image: $(cat "$TMP/o.txt")"
pass "chroot: netpold --version, netpolctl --help, curl --version"

# 4. Minimal and self-contained: no shell, every ELF's libraries resolved inside the image.
[[ -e $rootfs/bin/sh || -e $rootfs/usr/bin/sh ]] && fail "the image has a shell"
loader=$(cd "$rootfs" && find . -name 'ld-linux*.so*' | head -n1 | sed 's/^\.//')
[[ -n $loader ]] || fail "no dynamic loader in the image"
for exe in /usr/sbin/netpold /usr/sbin/netpolctl /usr/bin/curl; do
	chroot "$rootfs" "$loader" --list "$exe" >"$TMP/libs" 2>&1 || fail "$exe: $(cat "$TMP/libs")"
	grep -q 'not found' "$TMP/libs" && fail "$exe misses libraries: $(grep 'not found' "$TMP/libs")"
done
n_files=$(find "$rootfs" -type f | wc -l)
size=$(du -sh "$rootfs" | cut -f1)
pass "self-contained: no shell, all libraries inside ($n_files files, $size unpacked)"

# 5. netpold from the image in a network namespace, asked by the DaemonSet's probe command.
np_netns test_image "$NS"
mkdir -p "$rootfs/tmp/m"
np_demo_deny_all >"$rootfs/tmp/m/all.yaml"
ip netns exec "$NS" chroot "$rootfs" /usr/sbin/netpold --manifests /tmp/m --node-name node-1 \
	--table npimage >"$TMP/netpold.log" 2>&1 &
PID=$!
mapfile -t probe < <(awk '/readinessProbe:/ {p = 1} p && /command:/ {c = 1} c {print} c && /\]/ {exit}' \
	"$src/deploy/daemonset.yaml" | sed 's/.*command: *//' | tr -d '[]",' | tr -s ' \n' '\n' | sed '/^$/d')
[[ ${probe[0]:-} == curl ]] || fail "cannot read the readiness probe from deploy/daemonset.yaml: ${probe[*]}"
ok=
for _ in $(seq 200); do
	kill -0 "$PID" 2>/dev/null || fail "netpold from the image exited"
	chroot "$rootfs" "${probe[@]}" >/dev/null 2>&1 && { ok=1; break; }
	sleep 0.05
done
[[ -n $ok ]] || fail "the readiness probe (${probe[*]}) never succeeded"
ip netns exec "$NS" nft list table inet npimage >"$TMP/table.txt" 2>&1 ||
	fail "no table inet npimage: $(cat "$TMP/table.txt")"
grep -q 10.244.1.10 "$TMP/table.txt" || fail "netpold from the image did not program its table"
kill -TERM "$PID"
wait "$PID" || fail "netpold from the image did not stop cleanly"
PID=
ip netns exec "$NS" chroot "$rootfs" /usr/sbin/netpold --cleanup --table npimage >>"$TMP/netpold.log" 2>&1 ||
	fail "--cleanup from the image failed"
ip netns exec "$NS" nft list table inet npimage >/dev/null 2>&1 && fail "--cleanup left the table"
pass "netpold from the image: ready per the DaemonSet's probe (${probe[*]}), table programmed, --cleanup"
exit 0
