#!/usr/bin/env bash
# Build the image with podman and run it as the chart runs it (read-only root filesystem,
# user 65532): `version`, `wait tcp` against a closed port (exit 124), and `demo` with only a
# tmpfs at /tmp.
#
# No registry is needed: the base image is bootstrapped from Debian's packages with mmdebstrap
# (bookworm minbase with Python) and imported into podman; the Dockerfile is built on it via its
# BASE argument. Needs root (or a podman set up for rootless use), podman, runc and mmdebstrap.
set -euo pipefail
cd "$(dirname "$0")/../.."

image=${IMAGE:-localhost/gitops-lifecycle-management:dev}
base=${BASE_IMAGE:-localhost/gitops-lifecycle-build-base:bookworm}
runtime=${RUNTIME_BASE_IMAGE:-localhost/gitops-lifecycle-runtime-base:bookworm}
work=${IMAGE_WORK:-/var/tmp/gitops-lifecycle-image}
mkdir -p "$work"

# This machine's limits: podman's default open-files limit is above the hard limit here, and
# crun refuses a hybrid cgroup setup where runc works.
nofile=$(ulimit -Hn)
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 20000 ]; then nofile=20000; fi
export CONTAINERS_CONF="$work/containers.conf"
cat >"$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF

# The Debian mirror this machine already uses, read from its own apt sources.
mirror() {
  local uri
  uri=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
  [ -n "$uri" ] || uri=$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' /etc/apt/sources.list | head -n1)
  echo "$uri"
}

bootstrap() {  # IMAGE PACKAGES
  podman image exists "$1" && return
  echo "bootstrapping $1 from $(mirror)"
  # Manuals, documentation and translations are never read in a container.
  mmdebstrap --quiet --variant=minbase --include="$2" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    bookworm "$work/base.tar" "$(mirror)"
  podman import --quiet "$work/base.tar" "$1" >/dev/null
  rm -f "$work/base.tar"
}

bootstrap "$base" python3,python3-venv,python3-pip,python-is-python3,ca-certificates
bootstrap "$runtime" python3,python-is-python3,ca-certificates

# Downloads may pass a proxy whose CA only the host trusts: lend the build the host's bundle
# (a bind mount, so nothing of it lands in the image).
ca=/etc/ssl/certs/ca-certificates.crt
podman build --quiet --network host --build-arg BASE="$base" \
  --build-arg RUNTIME_BASE="$runtime" --build-arg PIP_CERT="$ca" \
  --volume "$ca:$ca:ro" --tag "$image" . >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$image")
echo "image $image: $((size / 1000000)) MB"

run=(podman run --rm --read-only --user 65532 --network host)
"${run[@]}" "$image" version
status=0
"${run[@]}" "$image" wait tcp 127.0.0.1:1 --timeout 3s --log-format json >/dev/null 2>&1 || status=$?
if [ "$status" -ne 124 ]; then
  echo "wait tcp against a closed port exited $status, expected 124" >&2
  exit 1
fi
echo "wait tcp 127.0.0.1:1 --timeout 3s: exit 124"
"${run[@]}" --tmpfs /tmp "$image" demo --duration 5s | tail -n 12
