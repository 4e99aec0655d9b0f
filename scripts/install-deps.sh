#!/usr/bin/env bash
# Installs keel's build and test dependencies from Debian's packages, only those that are missing,
# so it is safe to run every time. --peers also installs PyTorch for the side-by-side benchmarks.
set -euo pipefail

packages=(build-essential cmake pkg-config git libeigen3-dev libfmt-dev libyaml-cpp-dev libfccp-dev
          libstb-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
          clang-14 libclang-rt-14-dev libomp-14-dev  # clang: the fuzz targets (libFuzzer)
          clang-format-14  # scripts/check-format.sh, a CTest check
          libopenmpi-dev openmpi-bin)  # keel::dist's MPI backend and the mpirun tests
for arg in "$@"; do
    case "$arg" in
        --peers) packages+=(python3-torch python3-torchvision python3-pandas) ;;
        --remote-tests) packages+=(openssh-server openssh-client rsync shellcheck) ;;
        -h|--help) echo "usage: $0 [--peers] [--remote-tests]"; exit 0 ;;
        *) echo "install-deps.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
