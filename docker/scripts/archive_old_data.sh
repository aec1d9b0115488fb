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
#   ARCHIVE_DIR    the cold storage (required): a folder, or s3://bucket/prefix for S3 and
#                  S3-compatible stores (credentials from the AWS SDK's standard chain:
#                  AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance role, ...;
#                  AWS_ENDPOINT_URL_S3 for R2/MinIO/GCS)
#   ARCHIVE_S3_PATH_STYLE  1: path-style addressing (--path-style), for MinIO and most self-hosted stores
#   ARCHIVE_S3_STORAGE_CLASS  storage class of the data files (--storage-class), e.g. STANDARD_IA
#   ARCHIVE_S3_SSE server-side encryption (--sse), e.g. AES256 or aws:kms
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

# The usage: on stdout for --help, on stderr (usage >&2) after a bad argument.
usage() {
    echo "usage: $(basename "$0")"
    echo "  Runs partkit maintain, then partkit archive export --to \"\$ARCHIVE_DIR\"."
    echo "  ARCHIVE_DIR (required) is the cold-storage folder or s3://bucket/prefix; ARCHIVE_DROP=1 adds --drop-after-export."
    echo "  For s3://: ARCHIVE_S3_PATH_STYLE=1, ARCHIVE_S3_STORAGE_CLASS, ARCHIVE_S3_SSE; AWS_* as for the AWS CLI."
    echo "  DATABASE_URL says where; PARTKIT_BIN overrides the partkit command (default: npx --no-install partkit)."
}

case "${1:-}" in
    -h|--help) usage; exit 0 ;;
esac
if [ "$#" -gt 0 ]; then
    echo "$(basename "$0"): unexpected argument \"$1\"" >&2
    usage >&2
    exit 2
fi
if [ -z "${ARCHIVE_DIR:-}" ]; then
    echo "$(basename "$0"): ARCHIVE_DIR is not set" >&2
    usage >&2
    exit 2
fi
case "${ARCHIVE_DROP:-0}" in
    1) drop=--drop-after-export ;;
    0|'') drop= ;;
    *)
        echo "$(basename "$0"): ARCHIVE_DROP must be 1 or 0, not \"$ARCHIVE_DROP\"" >&2
        usage >&2
        exit 2
        ;;
esac

s3=
case "$ARCHIVE_DIR" in
    s3://*)
        case "${ARCHIVE_S3_PATH_STYLE:-0}" in
            1) s3=--path-style ;;
            0|'') ;;
            *)
                echo "$(basename "$0"): ARCHIVE_S3_PATH_STYLE must be 1 or 0, not \"$ARCHIVE_S3_PATH_STYLE\"" >&2
                usage >&2
                exit 2
                ;;
        esac
        ;;
esac

# Runs partkit with the given arguments; PARTKIT_BIN may be a command with arguments
# ("node /app/dist/cli.js"), so it is split on spaces. Not named `partkit`: with PARTKIT_BIN=partkit
# (the image) the function would call itself instead of the program.
run_partkit() {
    # shellcheck disable=SC2086
    set -- ${PARTKIT_BIN:-npx --no-install partkit} "$@"
    if [ "${PARTKIT_VERBOSE:-}" = 1 ]; then
        echo "+ $*" >&2
    fi
    "$@"
}

maintained=0
run_partkit maintain || maintained=$?
if [ "$maintained" -ne 0 ] && [ "$maintained" -ne 1 ]; then
    exit "$maintained"
fi

exported=0
set -- --to "$ARCHIVE_DIR"
if [ -n "${ARCHIVE_S3_STORAGE_CLASS:-}" ]; then set -- "$@" --storage-class "$ARCHIVE_S3_STORAGE_CLASS"; fi
if [ -n "${ARCHIVE_S3_SSE:-}" ]; then set -- "$@" --sse "$ARCHIVE_S3_SSE"; fi
# shellcheck disable=SC2086
run_partkit archive export "$@" $drop $s3 || exported=$?
if [ "$exported" -ne 0 ]; then
    exit "$exported"
fi
exit "$maintained"
