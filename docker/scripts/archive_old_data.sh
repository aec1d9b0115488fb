#!/bin/sh
# archive_old_data.sh
#
# The archival job of the design: runs `partkit maintain` (months past the retention are detached
# into the archive schema; opt-in purge drops exported months past `purge.after`), then
# `partkit archive export --to "$ARCHIVE_DIR"` (every archived month written to cold storage as
# <schema>.<table>/<YYYY-MM>.csv.gz plus a manifest). For crontab and the Docker image. See
# docs/archival.md.
#
#   DATABASE_URL   where to connect (passed through to partkit unchanged)
#   ARCHIVE_DIR    the cold-storage folder (required)
#   ARCHIVE_DROP   1: also drop each archived table once its file is written and verified
#                  (partkit archive export --drop-after-export); anything else keeps them
#   PARTKIT_BIN    the partkit command to run (default: "npx --no-install partkit")
#   PARTKIT_CONFIG the config file, read by partkit itself
#
# Exit codes are partkit's. When maintenance fails for a table (1), the export still runs and the
# script exits 1 unless the export failed with its own code; any other maintenance failure (2 usage,
# 3 connection, 4 missing capability, 5 conflict) stops before the export. Bad arguments or a
# missing ARCHIVE_DIR print the usage and exit 2.
set -eu

usage() {
    echo "usage: $(basename "$0")" >&2
    echo "  Runs partkit maintain, then partkit archive export --to \"\$ARCHIVE_DIR\"." >&2
    echo "  ARCHIVE_DIR (required) is the cold-storage folder; ARCHIVE_DROP=1 adds --drop-after-export." >&2
    echo "  DATABASE_URL says where; PARTKIT_BIN overrides the partkit command (default: npx --no-install partkit)." >&2
}

case "${1:-}" in
    -h|--help) usage; exit 0 ;;
esac
if [ "$#" -gt 0 ]; then
    echo "$(basename "$0"): unexpected argument \"$1\"" >&2
    usage
    exit 2
fi
if [ -z "${ARCHIVE_DIR:-}" ]; then
    echo "$(basename "$0"): ARCHIVE_DIR is not set" >&2
    usage
    exit 2
fi
case "${ARCHIVE_DROP:-0}" in
    1) drop=--drop-after-export ;;
    0|'') drop= ;;
    *)
        echo "$(basename "$0"): ARCHIVE_DROP must be 1 or 0, not \"$ARCHIVE_DROP\"" >&2
        usage
        exit 2
        ;;
esac

# Runs partkit with the given arguments; PARTKIT_BIN may be a command with arguments
# ("node /app/dist/cli.js"), so it is split on spaces.
partkit() {
    # shellcheck disable=SC2086
    set -- ${PARTKIT_BIN:-npx --no-install partkit} "$@"
    if [ "${PARTKIT_VERBOSE:-}" = 1 ]; then
        echo "+ $*" >&2
    fi
    "$@"
}

maintained=0
partkit maintain || maintained=$?
if [ "$maintained" -ne 0 ] && [ "$maintained" -ne 1 ]; then
    exit "$maintained"
fi

exported=0
# shellcheck disable=SC2086
partkit archive export --to "$ARCHIVE_DIR" $drop || exported=$?
if [ "$exported" -ne 0 ]; then
    exit "$exported"
fi
exit "$maintained"
