#!/usr/bin/env bash
# `make e2e`: the whole stack as a restaurant meets it, on ports and a FLUX_HOME of its own, so that
# a developer's own servers and data are left alone: PostgreSQL, the demo restaurants through the
# real pipeline, the API, the dashboard's production build, and the Dagster daemon (whose sensor
# turns the tests' uploads into runs). Playwright drives Debian's Chromium against it; everything
# is stopped afterwards, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
flux=$root/.venv/bin/flux

export FLUX_HOME=$root/.flux/e2e
export FLUX_ENVIRONMENT=test
export FLUX_API_URL=http://127.0.0.1:8011
export FLUX_WEB_PORT=3011
export FLUX_WEB_URL=http://127.0.0.1:3011
export DAGSTER_HOME=$FLUX_HOME/dagster
# A fresh secret for each run: outside development the dashboard refuses its default.
FLUX_WEB_SESSION_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
export FLUX_WEB_SESSION_SECRET

trap '"$flux" stop >/dev/null 2>&1 || true' EXIT
"$flux" stop >/dev/null 2>&1 || true   # what an interrupted earlier run left
mkdir -p "$FLUX_HOME/logs"
"$flux" db up >/dev/null
"$flux" db migrate >/dev/null
echo "e2e: the demo restaurants through the pipeline, then the API and the dashboard ..."
"$flux" demo > "$FLUX_HOME/logs/demo.log" 2>&1 || { tail -n 40 "$FLUX_HOME/logs/demo.log"; exit 1; }
tail -n 4 "$FLUX_HOME/logs/demo.log"
"$flux" daemon --background >/dev/null
cd "$root/flux_web"
npx playwright test "$@"
