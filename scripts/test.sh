#!/usr/bin/env bash
# Driftline's test command (README, CI): from a bare checkout to the whole suite passing.
#   1. create .venv in the repo root if missing and install the package with its test extra;
#   2. start the real services (Kafka KRaft, ClickHouse 18.16 and a two-shard 18.16
#      cluster) with scripts/services.sh,
#      stopped again on exit whatever happens;
#   3. ruff check . and pytest (the whole suite; extra arguments go to pytest).
# Exits with pytest's status; "no tests collected" (5) and a lint failure count as failures.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

say() { echo "test.sh: $*" >&2; }

# --- 1. virtual environment --------------------------------------------------------------
if [[ ! -x .venv/bin/python ]]; then
  say "creating .venv"
  if ! python3 -m venv .venv; then
    # Debian ships venv support separately.
    rm -rf .venv
    if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >&2
      python3 -m venv .venv
    else
      say "python3 -m venv failed; install python3-venv"
      exit 1
    fi
  fi
fi
say "installing the package and its test extra into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# --- 2. services -------------------------------------------------------------------------
# A private services dir per run, so runs side by side (or a developer's own
# `scripts/services.sh start`) never share or stop each other's instances.
export SERVICES_DIR="${SERVICES_DIR:-$REPO/.services/test-run-$$}"
cleanup() {
  local rc=$?
  bash scripts/services.sh stop || true
  if [[ -d "$SERVICES_DIR/logs" ]]; then
    # Keep the service logs next to the other test artifacts for post-mortems.
    mkdir -p test-output/services-logs
    cp -f "$SERVICES_DIR"/logs/* test-output/services-logs/ 2>/dev/null || true
  fi
  case "$SERVICES_DIR" in
  "$REPO"/.services/test-run-*) rm -rf "$SERVICES_DIR" ;;
  esac
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The two-shard ClickHouse cluster too: tests/integration/cluster runs against it.
DRIFTLINE_CLUSTER=1 bash scripts/services.sh start
set -a
# shellcheck disable=SC1091  # written by services.sh start
. "$SERVICES_DIR/env"
set +a

# --- 3. lint and tests -------------------------------------------------------------------
lint_rc=0
.venv/bin/ruff check . || lint_rc=$?

test_rc=0
.venv/bin/python -m pytest -q --durations=15 "$@" || test_rc=$?

if ((test_rc == 5)); then
  say "pytest collected no tests: failing"
  exit 1
fi
if ((test_rc != 0)); then
  say "pytest failed (exit $test_rc)"
  exit "$test_rc"
fi
if ((lint_rc != 0)); then
  say "ruff check failed (exit $lint_rc)"
  exit 1
fi
say "all good"
