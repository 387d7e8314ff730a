#!/usr/bin/env bash
# Runs the whole test suite (make test). Uses PostgreSQL and Redis when
# DATABASE_URL / REDIS_URL are set, or when they answer on 127.0.0.1;
# otherwise SQLite, and the tests that need a service skip with a reason
# (with CI=true those skips fail instead).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

if [ -z "${DATABASE_URL:-}" ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
  createdb -h 127.0.0.1 -U postgres portal 2>/dev/null || true
  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal
fi
if [ -z "${REDIS_URL:-}" ] && command -v redis-cli >/dev/null && [ "$(redis-cli -h 127.0.0.1 ping 2>/dev/null)" = "PONG" ]; then
  export REDIS_URL=redis://127.0.0.1:6379/1
fi
echo "tests: database=${DATABASE_URL:-sqlite file} redis=${REDIS_URL:-none (database cache, inline tasks)}"

# axe-core for the accessibility check in the browser tests (npm package).
if [ ! -f tests/e2e/node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null; then
  npm ci --prefix tests/e2e --silent --no-audit --no-fund || echo "tests: npm could not install axe-core"
fi

export DJANGO_SETTINGS_MODULE=portal.settings.test
$PY manage.py check --fail-level WARNING
$PY manage.py makemigrations --check --dry-run >/dev/null || { echo "tests: model changes without migrations"; exit 1; }
exec $PY -m pytest "$@"
