#!/bin/sh
# partkit's STAND-IN for the official postgres image's entrypoint, written for partkit's tests only
# (no registry is reachable on the test machines, so `postgres:17` is built locally; see
# test/targets/docker-standin/Dockerfile). It supports just what docker/Dockerfile relies on:
#
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER (default
#   postgres), POSTGRES_DB (default POSTGRES_USER), PGDATA, and on the first start, with the server
#   listening on its unix socket only: *.sh files in /docker-entrypoint-initdb.d run (sourced when
#   not executable), *.sql files go through psql. Then `postgres "$@"` runs in the foreground.
set -eu

if [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
    exec "$@"
fi

SOCKET_DIR=/var/run/postgresql

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" "$SOCKET_DIR"
    chown postgres:postgres "$SOCKET_DIR"
    chmod 2775 "$SOCKET_DIR"
    chown -R postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
export POSTGRES_USER POSTGRES_DB POSTGRES_PASSWORD

log() { printf 'stand-in entrypoint: %s\n' "$*" >&2; }

first_start() {
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
        log 'POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)'
        exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
    initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" --encoding=UTF8 ${POSTGRES_INITDB_ARGS:-}
    rm -f "$pwfile"
    printf 'host all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"

    # The set-up server: unix socket only, so nothing outside can connect before it is ready.
    pg_ctl --pgdata="$PGDATA" --wait --silent -o "-c listen_addresses= -p ${PGPORT:-5432}" start
    export PGHOST="$SOCKET_DIR" PGUSER="$POSTGRES_USER"
    if [ "$POSTGRES_DB" != postgres ]; then
        psql -X -v ON_ERROR_STOP=1 --dbname=postgres --set=db="$POSTGRES_DB" <<'SQL'
CREATE DATABASE :"db";
SQL
    fi
    for file in /docker-entrypoint-initdb.d/*; do
        [ -e "$file" ] || continue
        case "$file" in
            *.sh)
                log "running $file"
                if [ -x "$file" ]; then "$file"; else . "$file"; fi
                ;;
            *.sql)
                log "running $file"
                psql -X -v ON_ERROR_STOP=1 --dbname="$POSTGRES_DB" -f "$file"
                ;;
            *) log "ignoring $file" ;;
        esac
    done
    pg_ctl --pgdata="$PGDATA" --wait --silent --mode=fast stop
    unset PGHOST PGUSER
    log 'first start done'
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    first_start
fi
shift # "postgres"
exec postgres "$@"
