# Start PostgreSQL and Redis on 127.0.0.1 if they are not running (sourced by .ci/run).
# On this project's machines both are installed; on a bare Debian machine they are
# installed from Debian's packages first.
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! command -v pg_ctlcluster >/dev/null || ! command -v redis-server >/dev/null; then
  echo "installing PostgreSQL and Redis from Debian's packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null
fi
if ! pg_up; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
fi
if ! redis_up; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
for _ in $(seq 1 60); do pg_up && redis_up && break; sleep 0.5; done
pg_up || { echo "PostgreSQL did not come up" >&2; exit 1; }
redis_up || { echo "Redis did not come up" >&2; exit 1; }

# The machines trust local TCP connections as postgres; a fresh Debian install does not,
# so fall back to the Unix socket as a superuser role named after this OS user.
if psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1" >/dev/null 2>&1; then
  export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
else
  runuser -u postgres -- psql -tAc "select 1 from pg_roles where rolname='$(id -un)'" | grep -q 1 ||
    runuser -u postgres -- createuser --superuser "$(id -un)"
  export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgresql://$(id -un)@/postgres?host=/var/run/postgresql}
fi
export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
