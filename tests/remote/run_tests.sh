#!/usr/bin/env bash
# Runs every scripts/keel-remote test (tests/remote/test_*.sh) and ends with the line
# `N passed, N failed`. A test that exits 77 is skipped and counted in neither; its reason is
# printed. Exit status: 0 when none failed. Each test also runs on its own: bash tests/remote/test_X.sh
#
# Environment passed through to the tests: KEEL_BIN_DIR, KEEL_DATA_DIR, KEEL_REMOTE_REQUIRE_TRAIN,
# KEEL_REMOTE_TEST_CONFIG, KEEL_REMOTE_TEST_SET.
set -u

here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 skipped=0
failed_names=()

for test in "$here"/test_*.sh; do
  name=$(basename "$test" .sh)
  log=$(mktemp "${TMPDIR:-/tmp}/keel-remote-$name.XXXXXX")
  rc=0
  bash "$test" >"$log" 2>&1 || rc=$?
  case $rc in
  0)
    passed=$((passed + 1))
    tail -n1 "$log" ;;
  77)
    skipped=$((skipped + 1))
    grep '^SKIP' "$log" || echo "SKIP $name" ;;
  *)
    failed=$((failed + 1))
    failed_names+=("$name")
    echo "FAIL $name (exit $rc):"
    sed 's/^/    /' "$log" ;;
  esac
  rm -f "$log"
done

[ "$skipped" = 0 ] || echo "($skipped skipped)"
[ "$failed" = 0 ] || echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
