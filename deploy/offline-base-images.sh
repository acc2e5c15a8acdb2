#!/usr/bin/env bash
# For machines without Docker Hub: builds local stand-ins for the base and service images that
# Dockerfile and docker-compose.yml name, from Debian's packages only, tagged with the official
# names so both files run unchanged. Each stand-in carries the label candor.stand-in (what it
# really is); `docker image inspect -f '{{index .Config.Labels "candor.stand-in"}}' IMAGE`.
#
#   deploy/offline-base-images.sh            # debootstrap (needs root and the debootstrap package)
#   ROOTFS=/path/to/bookworm deploy/offline-base-images.sh   # reuse a debootstrapped folder
#
# Needs: a running docker daemon, the Debian archive (plain HTTP, deb.debian.org or $MIRROR).
# Where Docker Hub is reachable, do not run this: pull the real images instead.
set -euo pipefail
made_rootfs=""
trap 'rm -rf ${made_rootfs:+"$made_rootfs"}' EXIT
HERE="$(cd "$(dirname "$0")" && pwd)"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
DOCKER="${DOCKER:-docker}"

have() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

if ! have candor-offline/debian:bookworm-rootfs; then
    rootfs="${ROOTFS:-}"
    if [ -z "$rootfs" ]; then
        rootfs="$(mktemp -d /var/tmp/candor-rootfs.XXXXXX)"
        made_rootfs="$rootfs"
        echo "debootstrap bookworm (minbase) into $rootfs"
        debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >/dev/null
    fi
    echo "import $rootfs as candor-offline/debian:bookworm-rootfs"
    # as Debian's -slim images: no manuals, documentation (but copyrights), translations
    tarball="$(mktemp /var/tmp/candor-rootfs.XXXXXX.tar)"
    tar -C "$rootfs" --exclude='./var/cache/apt/*' --exclude='./var/lib/apt/lists/*' \
        --exclude='./usr/share/man/*' --exclude='./usr/share/info/*' \
        --exclude='./usr/share/locale/*' --exclude='./proc/*' --exclude='./sys/*' \
        --exclude='./dev/*' -cf "$tarball" . || { rm -f "$tarball"; exit 1; }
    "$DOCKER" import "$tarball" candor-offline/debian:bookworm-rootfs >/dev/null
    rm -f "$tarball"
fi

context="$(mktemp -d)"
trap 'rm -rf "$context" ${made_rootfs:+"$made_rootfs"}' EXIT
cp "$HERE"/offline/*.Dockerfile "$HERE"/offline/*.sh "$context"/
cp /etc/ssl/certs/ca-certificates.crt "$context"/

build() {  # build TAG DOCKERFILE STAND-IN-NOTE
    echo "build $1 (stand-in: $3)"
    "$DOCKER" build -q --label "candor.stand-in=$3" -t "$1" -f "$context/$2" "$context" >/dev/null
}

build candor-offline/debian:bookworm base.Dockerfile "debootstrap minbase bookworm"
build python:3.11.11-slim-bookworm python.Dockerfile "Debian bookworm python3 3.11.2, in /usr"
build postgres:17.2-bookworm postgres.Dockerfile "Debian bookworm postgresql-15"
build redis:7.4.1-bookworm redis.Dockerfile "Debian bookworm redis-server 7.0"
build coturn/coturn:4.6.3 coturn.Dockerfile "Debian bookworm coturn 4.6.1"
build caddy:2.8.4-alpine caddy.Dockerfile "Debian bookworm caddy 2.6.2 (not Alpine)"
"$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' \
    | grep -E '^(candor-offline/debian|python|postgres|redis|coturn/coturn|caddy):' || true
