# The CPU kernels (engine/src/cpu/*.cpp but the workspace and the path selection) are compiled once
# per instruction-set variant, each into its own namespace keel::cpu::<isa> with its own flags; the
# op dispatch in ops.cpp picks one at run time (src/cpu/isa.cpp). So one libkeel runs on any
# x86-64 and still uses AVX-512 or AVX2+FMA where the CPU has them. On other architectures the
# "portable" variant is compiled for the target's baseline (NEON on aarch64).
#
# The variants' objects are linked after libkeel's own, portable first and AVX-512 last: an inline
# function that several objects define (a header's helper, a standard-library template) keeps the
# first definition the linker meets, so a copy compiled for a wider instruction set can only win
# where no narrower object defines it, i.e. where only code of that width calls it.
# tests/cpu_isa/no_leaks.py checks the finished library for that.

# Must agree with KEEL_CPU_X86 in src/cpu/cpu_ops.h (from the compiler's own macros).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(KEEL_CPU_X86 ON)
  set(KEEL_CPU_VARIANTS portable avx2 avx512)
else()
  set(KEEL_CPU_X86 OFF)
  set(KEEL_CPU_VARIANTS portable)
endif()

set(KEEL_CPU_FLAGS_portable "")
set(KEEL_CPU_FLAGS_avx2 -mavx2 -mfma -mf16c)
set(KEEL_CPU_FLAGS_avx512 -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mf16c)

# keel_add_cpu_variants(TARGET SOURCES...): one object library per variant, linked into TARGET.
function(keel_add_cpu_variants target)
  foreach(isa IN LISTS KEEL_CPU_VARIANTS)
    set(lib ${target}_cpu_${isa})
    add_library(${lib} OBJECT ${ARGN})
    target_compile_definitions(${lib} PRIVATE KEEL_CPU_ISA=${isa})
    target_compile_options(${lib} PRIVATE ${KEEL_CPU_FLAGS_${isa}}
      $<TARGET_PROPERTY:${target},COMPILE_OPTIONS>)
    target_include_directories(${lib} PRIVATE $<TARGET_PROPERTY:${target},INCLUDE_DIRECTORIES>)
    target_compile_features(${lib} PRIVATE cxx_std_20)
    # Usage requirements only (include paths, OpenMP flags): the objects are linked into target.
    target_link_libraries(${lib} PRIVATE Eigen3::Eigen fmt::fmt OpenMP::OpenMP_CXX)
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:${lib}>)
  endforeach()
endfunction()
