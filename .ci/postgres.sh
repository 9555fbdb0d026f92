#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on loopback for the database tests and print the URL
# to use as PLACEMENT_TEST_DATABASE_URL. Installs Debian's postgresql when it is missing.
# Prints nothing (and the tests run on SQLite only) if a server cannot be had.
set -u
port=${PG_TEST_PORT:-54329}
dir=${PG_TEST_DIR:-/tmp/placement-pg-$port}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
      >/dev/null 2>&1 || exit 0
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  fi
fi
[ -n "$bin" ] && [ -x "$bin/initdb" ] || exit 0
run_as=""
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || exit 0
  run_as="postgres"
fi
as() { if [ -n "$run_as" ]; then su "$run_as" -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
if ! as "$bin/pg_ctl -D $dir status" >/dev/null 2>&1; then
  rm -rf "$dir" && mkdir -p "$dir" && [ -z "$run_as" ] || chown "$run_as" "$dir"
  as "$bin/initdb -D $dir -A trust -U postgres" >/dev/null 2>&1 || exit 0
  as "$bin/pg_ctl -D $dir -l $dir.log -o '-p $port -k /tmp -c listen_addresses=127.0.0.1' -w start" \
    >/dev/null 2>&1 || exit 0
fi
as "$bin/psql -h 127.0.0.1 -p $port -U postgres -tAc \"select 1 from pg_database where datname='placement_test'\"" \
  2>/dev/null | grep -q 1 || as "$bin/createdb -h 127.0.0.1 -p $port -U postgres placement_test" \
  >/dev/null 2>&1 || exit 0
echo "postgresql://postgres@127.0.0.1:$port/placement_test"
