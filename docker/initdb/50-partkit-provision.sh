#!/bin/sh
# First start only (the image's entrypoint runs /docker-entrypoint-initdb.d/ when the data directory
# is empty, with the server on its unix socket): `partkit provision` in POSTGRES_DB. pg_partman and
# pg_cron are installed, the four tables (or those of PARTKIT_CONFIG) are created and registered,
# and the maintenance job is scheduled in `postgres`, targeting POSTGRES_DB.
#
#   PARTKIT_CONFIG          a partkit config file mounted into the container (optional)
#   PARTKIT_PROVISION_ARGS  extra options for provision, e.g. "--verbose" (optional)
#
# A failure stops the container's first start, so a half-provisioned database is never served.
set -eu

if [ -n "${PARTKIT_CONFIG:-}" ] && [ ! -r "$PARTKIT_CONFIG" ]; then
    echo "partkit: PARTKIT_CONFIG=$PARTKIT_CONFIG is not a readable file in the container (mount it)" >&2
    exit 2
fi

db=${POSTGRES_DB:-${POSTGRES_USER:-postgres}}
echo "partkit: provisioning database \"$db\"${PARTKIT_CONFIG:+ with $PARTKIT_CONFIG}" >&2
# shellcheck disable=SC2086 # PARTKIT_PROVISION_ARGS is a list of options
env -u DATABASE_URL PGHOST=/var/run/postgresql PGUSER="${POSTGRES_USER:-postgres}" PGDATABASE="$db" \
    partkit provision ${PARTKIT_PROVISION_ARGS:-}
