#!/bin/sh
# create_partition.sh <table> [YYYY-MM]
#
# Creates one monthly partition of <table> (default: next month) with `partkit partition create`,
# for crontab and the Docker image. Idempotent: a month that exists is skipped.
#
#   DATABASE_URL   where to connect (passed through to partkit unchanged)
#   PARTKIT_BIN    the partkit command to run (default: "npx --no-install partkit")
#
# Exit codes are partkit's (0 ok, 2 usage, 3 connection, 4 missing table/capability, 5 conflict);
# bad arguments to this script print the usage and exit 2.
set -eu

# The usage: on stdout for --help, on stderr (usage >&2) after a bad argument.
usage() {
    echo "usage: $(basename "$0") <table> [YYYY-MM]"
    echo "  Creates the month (default: next month by the server's clock, in the table's zone) of <table> with partkit partition create."
    echo "  DATABASE_URL says where; PARTKIT_BIN overrides the partkit command (default: npx --no-install partkit)."
}

case "${1:-}" in
    -h|--help) usage; exit 0 ;;
esac
if [ "$#" -lt 1 ] || [ "$#" -gt 2 ] || [ -z "$1" ]; then
    usage >&2
    exit 2
fi
table=$1

if [ "$#" -eq 2 ]; then
    month=$2
    # YYYY-MM with a month from 01 to 12; partkit checks again.
    if ! printf '%s\n' "$month" | grep -Eq '^[0-9]{4}-(0[1-9]|1[0-2])$'; then
        echo "$(basename "$0"): month \"$month\" is not YYYY-MM" >&2
        usage >&2
        exit 2
    fi
else
    # The month after the current one by the server's clock, in the table's zone: partkit asks the
    # server, so this script never depends on the clock of the machine it runs on.
    month=next
fi

# PARTKIT_BIN may be a command with arguments ("node /app/dist/cli.js"), so it is split on spaces.
# shellcheck disable=SC2086
set -- ${PARTKIT_BIN:-npx --no-install partkit} partition create "$table" --month "$month"
if [ "${PARTKIT_VERBOSE:-}" = 1 ]; then
    echo "+ $*" >&2
fi
status=0
"$@" || status=$?
exit "$status"
