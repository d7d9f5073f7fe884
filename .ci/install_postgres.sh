#!/usr/bin/env bash
# PostgreSQL server binaries for the multi-worker search tests (tests/pg_server.py starts a
# throwaway cluster with them). Debian's package; installed only where we may (root + apt-get).
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then
  exit 0
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1 ||
    (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends postgresql >/dev/null)
  # the package starts a system cluster we do not use; the tests start their own
  (command -v service >/dev/null && service postgresql stop >/dev/null 2>&1) || true
else
  echo "note: PostgreSQL not installed (needs root and apt-get); its tests will be skipped"
fi
