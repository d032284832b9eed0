#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Builds netpold's container image without a container engine: a minimal root (netpold,
# netpolctl, curl for the probes, exactly the shared libraries ldd finds for them, /etc/passwd
# and /etc/group with a netpold user, CA certificates, the copyright files of the packages the
# libraries come from) packed with umoci into an OCI image layout, shipped as one tarball.
#
#   image/build.sh [--build-dir DIR] [--output FILE] [--no-build]
#
# DIR defaults to $NETPOLD_BUILD_DIR or ./build (configured and built when needed, unless
# --no-build: then the programs already built there are used as they are); FILE to
# DIR/image/netpold-oci.tar. The image is netpold:VERSION (VERSION from "netpold --version").
# Load it with, for example:
#   ctr -n k8s.io images import DIR/image/netpold-oci.tar               (containerd)
#   skopeo copy oci-archive:DIR/image/netpold-oci.tar:VERSION docker://REGISTRY/netpold:VERSION
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${NETPOLD_BUILD_DIR:-$src/build}
out=
no_build=0

while [[ $# -gt 0 ]]; do
	case $1 in
	--build-dir) build=$2; shift 2 ;;
	--output) out=$2; shift 2 ;;
	--no-build) no_build=1; shift ;;
	-h | --help) sed -n '3,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "image/build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
out=${out:-$build/image/netpold-oci.tar}

for tool in umoci ldd tar jq; do
	command -v "$tool" >/dev/null || {
		echo "image/build.sh: $tool missing (apt-get install umoci jq)" >&2
		exit 1
	}
done

# The binaries: build (or bring up to date) netpold and netpolctl.
mkdir -p "$build"
if [[ $no_build == 1 ]]; then
	for p in netpold netpolctl; do
		[[ -x $build/$p ]] || { echo "image/build.sh: no $build/$p (--no-build)" >&2; exit 1; }
	done
elif ! { [[ -f $build/CMakeCache.txt ]] || cmake -S "$src" -B "$build"; } >"$build/image-build.log" 2>&1 ||
	! cmake --build "$build" --target netpold netpolctl -j"$(nproc)" >>"$build/image-build.log" 2>&1; then
	cat "$build/image-build.log" >&2
	echo "image/build.sh: building netpold failed" >&2
	exit 1
fi
version=$("$build/netpold" --version | awk '{print $2}')
[[ -n $version ]] || { echo "image/build.sh: cannot read netpold's version" >&2; exit 1; }
curl_bin=$(command -v curl) || { echo "image/build.sh: curl missing (the probes use it)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/netpold-image.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
root=$work/stage

# copy_file SRC DEST_IN_ROOT: a regular file (symlinks resolved), its folder made.
copy_file() {
	install -D -m "$(stat -L -c %a "$1")" "$1" "$root$2"
}

mkdir -p "$root"/{etc/ssl/certs,run/netpold,tmp,usr/sbin,usr/bin,usr/share/doc}
chmod 1777 "$root/tmp"
install -m 0755 "$build/netpold" "$root/usr/sbin/netpold"
install -m 0755 "$build/netpolctl" "$root/usr/sbin/netpolctl"
install -m 0755 "$curl_bin" "$root/usr/bin/curl"
strip --strip-debug "$root/usr/sbin/netpold" "$root/usr/sbin/netpolctl" 2>/dev/null || true

# Exactly the libraries the three programs load, at the paths the loader looks for them.
declare -A libs=()
for b in "$build/netpold" "$build/netpolctl" "$curl_bin"; do
	while read -r path; do
		[[ -n $path ]] && libs[$path]=1
	done < <(ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
done
[[ ${#libs[@]} -gt 0 ]] || { echo "image/build.sh: ldd found no libraries" >&2; exit 1; }
declare -A pkgs=()
for lib in "${!libs[@]}"; do
	copy_file "$lib" "$lib"
	if command -v dpkg-query >/dev/null; then
		for p in "$lib" "$(readlink -f "$lib")" "/usr$lib" "/usr$(readlink -f "$lib")"; do
			pkg=$(dpkg-query -S "$p" 2>/dev/null | head -n1 | cut -d: -f1) || true
			[[ -n $pkg ]] && { pkgs[$pkg]=1; break; }
		done
	fi
done
# licences of what we ship from the distribution
for pkg in "${!pkgs[@]}"; do
	[[ -f /usr/share/doc/$pkg/copyright ]] && copy_file "/usr/share/doc/$pkg/copyright" "/usr/share/doc/$pkg/copyright"
done
for pkg in curl ca-certificates; do
	[[ -f /usr/share/doc/$pkg/copyright ]] && copy_file "/usr/share/doc/$pkg/copyright" "/usr/share/doc/$pkg/copyright"
done
[[ -f $src/README.md ]] && install -D -m 0644 "$src/README.md" "$root/usr/share/doc/netpold/README.md"

if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
	install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
cat >"$root/etc/passwd" <<-'EOF'
	root:x:0:0:root:/root:/usr/sbin/nologin
	netpold:x:65532:65532:netpold:/nonexistent:/usr/sbin/nologin
	nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$root/etc/group" <<-'EOF'
	root:x:0:
	netpold:x:65532:
	nogroup:x:65534:
EOF
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
chmod 0644 "$root"/etc/{passwd,group,nsswitch.conf,hosts}

# The OCI layout: one layer, the configuration, then one tarball.
oci=$work/oci
bundle=$work/bundle
umoci_flags=()
[[ $(id -u) -eq 0 ]] || umoci_flags=(--rootless)
umoci init --layout "$oci"
umoci new --image "$oci:$version"
umoci unpack "${umoci_flags[@]}" --image "$oci:$version" "$bundle" >/dev/null
cp -a "$root/." "$bundle/rootfs/"
if [[ $(id -u) -eq 0 ]]; then
	chown -R 0:0 "$bundle/rootfs"
fi
umoci repack --image "$oci:$version" --history.created_by "image/build.sh: netpold $version" \
	--history.comment "netpold, netpolctl, curl and their libraries" "$bundle"
umoci config --no-history --image "$oci:$version" \
	--os linux --architecture "$(dpkg --print-architecture 2>/dev/null || echo amd64)" \
	--config.entrypoint /usr/sbin/netpold \
	--config.user 65532:65532 \
	--config.env PATH=/usr/sbin:/usr/bin \
	--config.label org.opencontainers.image.title=netpold \
	--config.label org.opencontainers.image.version="$version" \
	--config.label org.opencontainers.image.licenses=GPL-2.0-or-later \
	--config.label org.opencontainers.image.description="Kubernetes NetworkPolicy enforcement with nftables"
umoci gc --layout "$oci"
# containerd's "ctr images import" names the image after this annotation.
jq --arg v "$version" '.manifests |= map(.annotations["io.containerd.image.name"] = "docker.io/library/netpold:" + $v)' \
	"$oci/index.json" >"$work/index.json"
mv "$work/index.json" "$oci/index.json"

mkdir -p "$(dirname "$out")"
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$oci" -cf "$out.tmp" .
mv -f "$out.tmp" "$out"
echo "image/build.sh: netpold:$version -> $out ($(du -h "$out" | cut -f1), ${#libs[@]} libraries)"
