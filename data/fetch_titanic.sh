#!/usr/bin/env bash
# Fetches the three Kaggle Titanic CSVs (train.csv, test.csv, gender_submission.csv) into
# data/titanic/ and checks them against pinned sha256 sums, so every run trains on the same bytes.
#
# Usage:
#   data/fetch_titanic.sh                    download with the kaggle CLI (needs ~/.kaggle/kaggle.json
#                                            and the competition rules accepted on kaggle.com)
#   data/fetch_titanic.sh --zip FILE         unpack a titanic.zip downloaded by hand
#   data/fetch_titanic.sh --url URL          download a zip (or a folder URL holding the three CSVs)
#   data/fetch_titanic.sh --from DIR         copy the CSVs from a local folder
#   data/fetch_titanic.sh --check            only verify the files already in the destination
# Options:
#   --dest DIR                               where the files go (default: data/titanic next to this script)
#
# Nothing in the destination is replaced unless all three files pass their checksums.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="${script_dir}/titanic"
mode="kaggle"
source_arg=""

# Pinned sums of the files Kaggle serves for the "titanic" competition.
declare -A sha256=(
  [train.csv]="7d118fef8b6ccf7f81111877bc388536f7b1e498a655e3d649d19aaa010e9f6f"
  [test.csv]="56023b9948236f3c7a1c9448fcf418b283e109ef177fa8c7e069158dd7dd52b2"
  [gender_submission.csv]="7a262a7f4cb807f53911dccc84257ed3976b21b7b50ffc468b58446bff8bb6a4"
)
files=(train.csv test.csv gender_submission.csv)

die() {
  echo "fetch_titanic: $*" >&2
  exit 1
}

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --from) [[ $# -ge 2 ]] || die "--from needs a folder"; mode="from"; source_arg="$2"; shift 2 ;;
    --zip) [[ $# -ge 2 ]] || die "--zip needs a file"; mode="zip"; source_arg="$2"; shift 2 ;;
    --url) [[ $# -ge 2 ]] || die "--url needs an address"; mode="url"; source_arg="$2"; shift 2 ;;
    --dest) [[ $# -ge 2 ]] || die "--dest needs a folder"; dest="$2"; shift 2 ;;
    --check) mode="check"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done

command -v sha256sum >/dev/null || die "sha256sum not found; install coreutils"

# Returns 0 when every file in $1 has its pinned sum; otherwise says which differ, naming them as
# coming from $2 (the user's source rather than the staging folder).
verify_dir() {
  local dir="$1" label="${2:-$1}" ok=0 f actual
  for f in "${files[@]}"; do
    if [[ ! -f "${dir}/${f}" ]]; then
      echo "fetch_titanic: ${f} is missing from ${label}" >&2
      ok=1
      continue
    fi
    actual="$(sha256sum "${dir}/${f}" | cut -d' ' -f1)"
    if [[ "${actual}" != "${sha256[$f]}" ]]; then
      echo "fetch_titanic: ${f} from ${label} has sha256 ${actual}, expected ${sha256[$f]}" >&2
      echo "  (a different or modified file: Kaggle's originals have CRLF line ends; an editor or" >&2
      echo "   git's autocrlf may have rewritten them)" >&2
      ok=1
    fi
  done
  return "${ok}"
}

if [[ "${mode}" == "check" ]]; then
  verify_dir "${dest}" || die "verification failed for ${dest}"
  echo "fetch_titanic: ${dest} holds the expected Kaggle files"
  exit 0
fi

mkdir -p "${dest}"
# The staging folder lives inside the destination so the final moves are renames on one filesystem.
stage="$(mktemp -d "${dest}/.fetch.XXXXXX")"
trap 'rm -rf "${stage}"' EXIT

unpack_zip() {
  local zip="$1"
  [[ -f "${zip}" ]] || die "${zip} not found"
  if command -v unzip >/dev/null; then
    unzip -q -o "${zip}" -d "${stage}/unpacked" || die "cannot unpack ${zip}"
  elif command -v python3 >/dev/null; then
    python3 -m zipfile -e "${zip}" "${stage}/unpacked" || die "cannot unpack ${zip}"
  else
    die "neither unzip nor python3 is available to unpack ${zip}"
  fi
  # The competition zip holds the CSVs at its top level; accept one folder level too.
  local f found
  for f in "${files[@]}"; do
    found="$(find "${stage}/unpacked" -maxdepth 2 -name "${f}" -type f | head -n 1)"
    [[ -n "${found}" ]] || die "${zip} does not contain ${f}"
    mv "${found}" "${stage}/${f}"
  done
}

download() {
  local url="$1" out="$2"
  if command -v curl >/dev/null; then
    curl -fsSL --retry 3 -o "${out}" "${url}" || die "download of ${url} failed"
  elif command -v wget >/dev/null; then
    wget -q -O "${out}" "${url}" || die "download of ${url} failed"
  else
    die "neither curl nor wget is available to download ${url}"
  fi
}

case "${mode}" in
  from)
    [[ -d "${source_arg}" ]] || die "--from ${source_arg}: not a folder"
    for f in "${files[@]}"; do
      [[ -f "${source_arg}/${f}" ]] || die "${source_arg}/${f} not found"
      cp "${source_arg}/${f}" "${stage}/${f}"
    done
    ;;
  zip)
    unpack_zip "${source_arg}"
    ;;
  url)
    if [[ "${source_arg}" == *.zip ]]; then
      download "${source_arg}" "${stage}/titanic.zip"
      unpack_zip "${stage}/titanic.zip"
    else
      for f in "${files[@]}"; do download "${source_arg%/}/${f}" "${stage}/${f}"; done
    fi
    ;;
  kaggle)
    command -v kaggle >/dev/null || die "the kaggle CLI is not installed (pip install kaggle). \
Alternatives: download titanic.zip from https://www.kaggle.com/c/titanic/data and run \
'data/fetch_titanic.sh --zip titanic.zip', or copy the CSVs with --from DIR"
    kaggle competitions download -c titanic -p "${stage}" ||
      die "kaggle download failed: check ~/.kaggle/kaggle.json and accept the competition rules on kaggle.com"
    unpack_zip "${stage}/titanic.zip"
    ;;
esac

case "${mode}" in
  from|zip|url) origin="${source_arg}" ;;
  *) origin="the kaggle download" ;;
esac
verify_dir "${stage}" "${origin}" || die "the fetched files do not match the pinned sums; nothing was replaced in ${dest}"
for f in "${files[@]}"; do
  chmod 644 "${stage}/${f}"  # a copy from a read-only folder keeps its mode otherwise
  mv -f "${stage}/${f}" "${dest}/${f}"
done
echo "fetch_titanic: wrote ${files[*]} to ${dest} (sha256 verified)"
