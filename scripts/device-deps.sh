#!/usr/bin/env bash
# Fetches the Debian packages keel's build needs (headers, CMake configs and the few shared
# libraries) with `apt-get download` and unpacks them into .deps/ (ignored by git), so that an offline
# GPU machine with nvcc, CMake and cuDNN but no Debian packages can build keel from a copy of the
# repository. cmake/KeelDependencies.cmake searches .deps/usr first when it exists.
# Idempotent: packages already unpacked (recorded in .deps/.unpacked) are skipped.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="$root/.deps"
packages=(libeigen3-dev libfmt-dev libfmt9 libyaml-cpp-dev libyaml-cpp0.7 libfccp-dev libstb-dev libstb0
          libgtest-dev libgmock-dev libbenchmark-dev libbenchmark1debian libcli11-dev nlohmann-json3-dev)

case "${1:-}" in
    -h|--help) echo "usage: $0 [--force]   (unpacks ${#packages[@]} Debian packages into $deps)"; exit 0 ;;
    --force) rm -rf "$deps" ;;
    "") ;;
    *) echo "device-deps.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

command -v apt-get >/dev/null || { echo "device-deps.sh: needs apt-get (run it on a Debian machine, then copy .deps/)" >&2; exit 1; }
mkdir -p "$deps"
touch "$deps/.unpacked"

wanted=()
for p in "${packages[@]}"; do
    grep -qx "$p" "$deps/.unpacked" || wanted+=("$p")
done
if [[ ${#wanted[@]} -eq 0 ]]; then
    echo "device-deps: all ${#packages[@]} packages already in $deps ($(du -sh "$deps" | cut -f1))"
    exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# apt-get download writes into the current directory; _apt needs to be able to write there.
chmod 777 "$tmp"
(cd "$tmp" && apt-get download "${wanted[@]}")

for deb in "$tmp"/*.deb; do
    dpkg -x "$deb" "$deps"
    name="$(dpkg-deb -f "$deb" Package)"
    echo "device-deps: unpacked $name $(dpkg-deb -f "$deb" Version)"
    echo "$name" >> "$deps/.unpacked"
done

# Documentation is not needed to build.
rm -rf "$deps/usr/share/doc" "$deps/usr/share/doc-base" "$deps/usr/share/man"

# Debian's CMake package files already locate themselves relative to their own folder (the absolute
# /usr paths in them only apply when they really live in /usr). pkg-config files name prefix=/usr:
# make them relative to where they lie, so .deps/ works wherever the repository is copied to.
while IFS= read -r -d '' pc; do
    case "$pc" in
        */usr/lib/*/pkgconfig/*) rel='${pcfiledir}/../../..' ;;
        */usr/share/pkgconfig/*|*/usr/lib/pkgconfig/*) rel='${pcfiledir}/../..' ;;
        *) continue ;;
    esac
    grep -q "^prefix=" "$pc" || sed -i "1i prefix=/usr" "$pc"
    sed -i -e "s|^prefix=/usr\$|prefix=$rel|" -e "/^prefix=/!s|/usr\\b|\${prefix}|g" "$pc"
done < <(find "$deps/usr" -name '*.pc' -print0)

# Any CMake file that still hard-codes an include or library folder under /usr is pointed at the
# copy next to it (a relative path computed from the file itself).
while IFS= read -r -d '' f; do
    if grep -Eq '"/usr/(include|lib/x86_64-linux-gnu/lib)' "$f"; then
        sed -i -E 's#"/usr/(include|lib/x86_64-linux-gnu/lib)#"${CMAKE_CURRENT_LIST_DIR}/__KEEL_UP__/\1#g' "$f"
        up="$(realpath --relative-to="$(dirname "$f")" "$deps/usr")"
        sed -i "s#__KEEL_UP__#$up#g" "$f"
        echo "device-deps: rewrote /usr paths in ${f#$deps/}"
    fi
done < <(find "$deps/usr" -name '*.cmake' -print0)

size_mib=$(du -sm "$deps" | cut -f1)
echo "device-deps: $deps holds ${#packages[@]} packages, ${size_mib} MiB"
if (( size_mib > 48 )); then
    echo "device-deps: warning: .deps is over 48 MiB; the copy to a GPU machine may be limited to 64 MiB" >&2
fi
