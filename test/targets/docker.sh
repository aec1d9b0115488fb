#!/usr/bin/env bash
# The `docker` test target: partkit's own image (docker/Dockerfile), as users run it.
# See /work/shared/TARGETS.md. No container registry is reachable from the test machines, so:
#
#   docker.sh prepare        install Debian's docker.io if missing (root; called at the end of prepare.sh)
#   docker.sh build-standin  with DOCKER_HOST pointing at a running daemon: build the STAND-IN for the
#                            official `postgres:17` image from the cached trixie root (prepare.sh's
#                            pg17-partman5 target) unless an image of the same recipe exists
#
# The daemon itself is started and stopped by test/targets/docker-target.ts (by PID, once per run).
# Outside CI a missing piece is reported loudly (exit 0, the docker tests skip); with CI=true it fails.
set -euo pipefail

TARGETS_DIR="${PARTKIT_TARGETS_DIR:-/var/cache/partkit}"
ROOT="$TARGETS_DIR/trixie-root"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STANDIN_DIR="$HERE/docker-standin"
DOCKER=/usr/bin/docker # Debian's client, matching its daemon (another client may come first on PATH)

say() { printf 'partkit targets: %s\n' "$*" >&2; }
missing() {
  printf '\n!!! partkit targets: docker: %s\n\n' "$*" >&2
  [ "${CI:-}" = true ] && exit 1
  exit 0
}

prepare() {
  if [ -x /usr/sbin/dockerd ] && [ -x "$DOCKER" ]; then
    say "docker: $(/usr/sbin/dockerd --version)"
    return 0
  fi
  [ "$(id -u)" = 0 ] || missing "docker.io is not installed and installing it needs root: the docker tests will be skipped"
  local log made_policy=0 rc=0
  log="$(mktemp "${TMPDIR:-/tmp}/partkit-docker-prepare.XXXXXX.log")"
  # No service may start on install: the tests start their own daemon.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
  fi
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io; } >>"$log" 2>&1 || rc=$?
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  if [ "$rc" != 0 ]; then
    tail -n 40 "$log" >&2
    rm -f "$log"
    missing "apt-get install docker.io failed"
  fi
  rm -f "$log"
  say "docker: installed $(/usr/sbin/dockerd --version)"
}

# The CA bundle the host's own node and npm trust (see docker-standin/Dockerfile).
HOST_CA="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"

# A fingerprint of what the stand-in is made of: its recipe, the host's CAs and the packages of the root.
standin_recipe() {
  cat "$STANDIN_DIR/Dockerfile" "$STANDIN_DIR/docker-entrypoint.sh" "$HOST_CA" "$ROOT/var/lib/dpkg/status" | sha256sum | cut -c1-16
}

build_standin() {
  : "${DOCKER_HOST:?DOCKER_HOST must point at the test daemon}"
  [ -x "$ROOT/usr/lib/postgresql/17/bin/postgres" ] ||
    missing "no trixie root with PostgreSQL 17 at $ROOT (made by test/targets/prepare.sh as root)"
  local recipe current
  recipe="$(standin_recipe)"
  current="$("$DOCKER" image inspect --format '{{ index .Config.Labels "org.partkit.standin.recipe" }}' postgres:17 2>/dev/null || true)"
  if [ "$current" = "$recipe" ]; then
    say "docker: stand-in postgres:17 ($recipe) is built"
    return 0
  fi
  say "docker: building the stand-in postgres:17 from $ROOT"
  # The root as it is on disk, without apt's caches and without the test clusters that the
  # pg17-partman5 target may be running below tmp/ at this moment.
  tar -C "$ROOT" --one-file-system --numeric-owner \
    --exclude=./tmp/* --exclude=./proc/* --exclude=./dev/* --exclude=./sys/* \
    --exclude=./var/cache/apt/* --exclude=./var/lib/apt/lists/* -cf - . |
    "$DOCKER" import --change 'CMD ["bash"]' - partkit-standin-base:trixie >/dev/null
  [ -s "$HOST_CA" ] || missing "no CA bundle at $HOST_CA for the stand-in (install ca-certificates)"
  local context
  context="$(mktemp -d "${TMPDIR:-/tmp}/partkit-standin.XXXXXX")"
  cp "$STANDIN_DIR/Dockerfile" "$STANDIN_DIR/docker-entrypoint.sh" "$context/"
  cp "$HOST_CA" "$context/host-ca.pem"
  local rc=0
  "$DOCKER" build --quiet --network host --label "org.partkit.standin.recipe=$recipe" -t postgres:17 "$context" >/dev/null || rc=$?
  rm -rf "$context"
  [ "$rc" = 0 ] || return "$rc"
  "$DOCKER" image prune --force >/dev/null # the previous stand-in's layers
  say "docker: stand-in postgres:17 ($recipe) built"
}

case "${1:-}" in
  prepare) prepare ;;
  build-standin) build_standin ;;
  *)
    echo "usage: $0 prepare|build-standin" >&2
    exit 2
    ;;
esac
