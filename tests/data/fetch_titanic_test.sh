#!/usr/bin/env bash
# data/fetch_titanic.sh end to end, on the real Kaggle CSVs of $KEEL_DATA_DIR: every way in (--from,
# --zip, --url for a folder and for a zip over a local HTTP server, the kaggle CLI through a
# stand-in on PATH), --check, and the refusals: a modified file, a failed download and an unknown
# argument each exit non-zero, name the problem and leave the destination as it was.
# Exit 0: all passed; 77: skipped (no data); else failed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fetch="${root}/data/fetch_titanic.sh"
data="${KEEL_DATA_DIR:-}"
files=(train.csv test.csv gender_submission.csv)
if [[ -z "${data}" || ! -f "${data}/train.csv" ]]; then
  echo "SKIP fetch_titanic: KEEL_DATA_DIR does not hold the Kaggle CSVs"
  exit 77
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/keel-fetch-test.XXXXXX")"
server_pid=""
cleanup() {
  [[ -n "${server_pid}" ]] && kill "${server_pid}" 2>/dev/null
  rm -rf "${work}"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# expect_ok NAME ARGS...: the fetch succeeds.
expect_ok() {
  local name="$1"
  shift
  local rc=0
  "${fetch}" "$@" >"${work}/${name}.log" 2>&1 || rc=$?
  if ((rc != 0)); then
    cat "${work}/${name}.log" >&2
    fail "${name}: exit ${rc}"
  fi
}

# expect_refusal NAME TEXT ARGS...: the fetch exits non-zero and its output contains TEXT.
expect_refusal() {
  local name="$1" text="$2"
  shift 2
  if "${fetch}" "$@" >"${work}/${name}.log" 2>&1; then fail "${name}: succeeded"; fi
  grep -qF -- "${text}" "${work}/${name}.log" || { cat "${work}/${name}.log" >&2; fail "${name}: no '${text}'"; }
}

# same_as_data DIR: DIR holds exactly the reference CSVs and no staging leftovers.
same_as_data() {
  local f
  for f in "${files[@]}"; do cmp -s "${data}/${f}" "$1/${f}" || fail "$1/${f} differs from ${data}/${f}"; done
  if compgen -G "$1/.fetch.*" >/dev/null; then fail "$1 holds a staging folder"; fi
}

zip_of() {  # zip_of ZIP DIR PREFIX: the CSVs of DIR, stored under PREFIX inside the zip
  python3 - "$@" <<'PY'
import sys, zipfile
out, src, prefix = sys.argv[1:4]
with zipfile.ZipFile(out, "w") as z:
    for name in ("train.csv", "test.csv", "gender_submission.csv"):
        z.write(f"{src}/{name}", prefix + name)
PY
}

# --from, then --check on the result.
expect_ok from --from "${data}" --dest "${work}/from"
same_as_data "${work}/from"
expect_ok check --check --dest "${work}/from"

# A modified source file is refused and nothing in the destination changes.
mkdir "${work}/modified"
cp "${data}"/*.csv "${work}/modified/"
printf '1,0,3,"Someone, Mr. X",male,22,1,0,A/5 21171,7.25,,S\r\n' >>"${work}/modified/train.csv"
expect_refusal modified "train.csv from ${work}/modified has sha256" --from "${work}/modified" --dest "${work}/from"
grep -qF "nothing was replaced" "${work}/modified.log" || fail "modified: does not say nothing was replaced"
same_as_data "${work}/from"
cp "${work}/modified/train.csv" "${work}/from/train.csv"
expect_refusal check_modified "train.csv from ${work}/from has sha256" --check --dest "${work}/from"

# --zip, with the CSVs at the top level and one folder down.
zip_of "${work}/flat.zip" "${data}" ""
zip_of "${work}/nested.zip" "${data}" "titanic/"
expect_ok zip --zip "${work}/flat.zip" --dest "${work}/zip"
same_as_data "${work}/zip"
expect_ok zip_nested --zip "${work}/nested.zip" --dest "${work}/zip_nested"
same_as_data "${work}/zip_nested"

# --url over HTTP: a folder of CSVs, a zip, and a download that fails.
mkdir "${work}/site"
cp "${data}"/*.csv "${work}/site/"
cp "${work}/flat.zip" "${work}/site/titanic.zip"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server "${port}" --bind 127.0.0.1 --directory "${work}/site" >"${work}/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
  curl -fs -o /dev/null "http://127.0.0.1:${port}/train.csv" 2>/dev/null && break
  sleep 0.1
done
expect_ok url_folder --url "http://127.0.0.1:${port}/" --dest "${work}/url_folder"
same_as_data "${work}/url_folder"
expect_ok url_zip --url "http://127.0.0.1:${port}/titanic.zip" --dest "${work}/url_zip"
same_as_data "${work}/url_zip"
expect_refusal url_missing "download of http://127.0.0.1:${port}/nowhere/train.csv failed" \
  --url "http://127.0.0.1:${port}/nowhere" --dest "${work}/url_zip"
same_as_data "${work}/url_zip"

# The default path, the kaggle CLI: a stand-in on PATH that checks its arguments and "downloads"
# the competition zip; without any kaggle CLI the error names the alternatives.
mkdir "${work}/bin"
cat >"${work}/bin/kaggle" <<STANDIN
#!/usr/bin/env bash
[[ "\$1 \$2 \$3 \$4 \$5" == "competitions download -c titanic -p" && -d "\$6" ]] || { echo "bad args: \$*" >&2; exit 2; }
cp "${work}/flat.zip" "\$6/titanic.zip"
STANDIN
chmod +x "${work}/bin/kaggle"
PATH="${work}/bin:${PATH}" expect_ok kaggle --dest "${work}/kaggle"
same_as_data "${work}/kaggle"
if ! command -v kaggle >/dev/null; then
  expect_refusal no_kaggle "--zip titanic.zip" --dest "${work}/no_kaggle"
fi

expect_refusal unknown_argument "unknown argument '--frm'" --frm "${data}"

echo "fetch_titanic: all cases passed"
