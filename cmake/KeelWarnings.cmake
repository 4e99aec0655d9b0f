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
