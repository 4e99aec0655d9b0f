#!/usr/bin/env bash
# Checks that scripts/keel-remote, the gcloud stand-in and these tests pass shellcheck with no
# finding at any level (style included).
set -u
# shellcheck source=tests/remote/lib.sh
source "$(dirname "$0")/lib.sh"

if ! command -v shellcheck >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    note "installing shellcheck (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck >"$TMP/apt.log" 2>&1 \
      || { apt-get update -q >>"$TMP/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck >>"$TMP/apt.log" 2>&1; }
  fi
  command -v shellcheck >/dev/null 2>&1 || skip "shellcheck is not installed (apt-get install shellcheck)"
fi

cd "$REPO" || exit 1
check "scripts/keel-remote" shellcheck --severity=style scripts/keel-remote
check "tests/remote/standin/gcloud" shellcheck --severity=style tests/remote/standin/gcloud
for f in tests/remote/*.sh; do
  check "$f" shellcheck --severity=style -x "$f"
done
# A file is checked only if it is bash: make sure shellcheck did not skip the script as unknown.
check "keel-remote is a bash script" eq "$(head -n1 scripts/keel-remote)" "#!/usr/bin/env bash"

finish
