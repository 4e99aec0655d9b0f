# The warnings keel's own targets compile with, and -Werror when KEEL_WARNINGS_AS_ERRORS is on (the
# test command and CI turn it on; a user's build with another compiler version stays lenient, since
# a new compiler's new warning must not stop someone from building a release).
set(KEEL_WARNING_FLAGS -Wall -Wextra -Wno-unused-parameter)
if(KEEL_WARNINGS_AS_ERRORS)
  list(APPEND KEEL_WARNING_FLAGS -Werror)
endif()

# keel_compile_warnings(TARGET...): C++ sources only; nvcc has its own warning set.
function(keel_compile_warnings)
  foreach(target IN LISTS ARGN)
    target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:${KEEL_WARNING_FLAGS}>")
  endforeach()
endfunction()

# keel_test_warnings(TARGET): the tests and benchmarks' helpers compile with the engine's warnings
# (and -Werror where it is on), less these: options written as designated initializers leave the
# other members at their defaults on purpose, and GCC 12 reports -Wrestrict (char_traits.h,
# "accessing 9223372036854775810 or more bytes") and -Wfree-nonheap-object (new_allocator.h) inside
# libstdc++'s own std::string and std::vector code once it inlines them into a long test body,
# and, under the sanitizers' instrumentation, -Wmaybe-uninitialized inside std::regex's automaton
# (regex_automaton.h).
function(keel_test_warnings target)
  keel_compile_warnings(${target})
  set(gcc_cxx "$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>")
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wno-missing-field-initializers>
    $<${gcc_cxx}:-Wno-restrict -Wno-free-nonheap-object>)
  if(KEEL_SANITIZE)
    target_compile_options(${target} PRIVATE $<${gcc_cxx}:-Wno-maybe-uninitialized>)
  endif()
endfunction()
