#!/bin/sh
# `partkit` inside the image. With no DATABASE_URL and no PGHOST (and no --database-url, which wins
# anyway), it connects as psql does inside this container: through the unix socket, as
# POSTGRES_USER, to POSTGRES_DB. So `docker exec <container> partkit maintain` needs no URL.
if [ -z "${DATABASE_URL:-}" ] && [ -z "${PGHOST:-}" ]; then
    PGHOST=/var/run/postgresql
    PGUSER=${PGUSER:-${POSTGRES_USER:-postgres}}
    PGDATABASE=${PGDATABASE:-${POSTGRES_DB:-$PGUSER}}
    export PGHOST PGUSER PGDATABASE
    if [ -z "${PGPASSWORD:-}" ] && [ -n "${POSTGRES_PASSWORD:-}" ]; then
        PGPASSWORD=$POSTGRES_PASSWORD
        export PGPASSWORD
    fi
fi
exec node /opt/partkit/dist/cli.js "$@"
