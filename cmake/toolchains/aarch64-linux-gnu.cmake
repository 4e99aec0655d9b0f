# Cross-compiles keel for 64-bit ARM Linux with Debian's aarch64-linux-gnu toolchain, against the
# arm64 builds of its dependencies installed side by side with the host's (Debian multiarch).
#
# Debian's cross compiler already searches /usr/include and /usr/lib/aarch64-linux-gnu, where
# `apt-get install libfmt-dev:arm64 ...` puts the arm64 libraries, so no separate sysroot is needed;
# architecture-independent headers (Eigen, nlohmann-json, CLI11, fast-cpp-csv-parser, stb) are the
# host's. A -dev package that cannot be co-installed with its amd64 twin (libyaml-cpp-dev) is
# unpacked into a folder and given through CMAKE_PREFIX_PATH (scripts/aarch64-check.sh does both).
#
# Programs run at build and test time (gtest_discover_tests, ctest) go through qemu-user, which
# finds the arm64 loader and libc of libc6:arm64 under /lib and /usr/lib/aarch64-linux-gnu. Set
# KEEL_AARCH64_EMULATOR (for example to "qemu-aarch64;-cpu;max") to run them some other way.
#
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(KEEL_AARCH64_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${KEEL_AARCH64_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${KEEL_AARCH64_TRIPLE}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${KEEL_AARCH64_TRIPLE})

# Only the arm64 multiarch folders and the target's own toolchain folder hold libraries for this
# target; the host's x86-64 ones (/usr/lib/x86_64-linux-gnu) are never searched because
# CMAKE_LIBRARY_ARCHITECTURE names the target's.
list(APPEND CMAKE_LIBRARY_PATH /usr/lib/${KEEL_AARCH64_TRIPLE} /usr/${KEEL_AARCH64_TRIPLE}/lib)

if(DEFINED ENV{KEEL_AARCH64_EMULATOR})
  set(CMAKE_CROSSCOMPILING_EMULATOR "$ENV{KEEL_AARCH64_EMULATOR}")
else()
  find_program(KEEL_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static REQUIRED)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${KEEL_QEMU_AARCH64}")
endif()
