# Installs libkeel, its public headers and a CMake package, so that another project can write
# find_package(Keel CONFIG REQUIRED) and target_link_libraries(app keel::keel).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(KEEL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Keel)
install(TARGETS keel EXPORT KeelTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/engine/include/keel DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${KEEL_GENERATED_INCLUDE_DIR}/keel/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/keel)
install(EXPORT KeelTargets NAMESPACE keel:: DESTINATION ${KEEL_CMAKE_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/KeelConfig.cmake.in
  ${CMAKE_BINARY_DIR}/KeelConfig.cmake INSTALL_DESTINATION ${KEEL_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/KeelConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/KeelConfig.cmake ${CMAKE_BINARY_DIR}/KeelConfigVersion.cmake
  DESTINATION ${KEEL_CMAKE_DIR})

function(keel_print_summary)
  message(STATUS "keel ${PROJECT_VERSION} dependencies:\n${KEEL_STATUS_LINES}")
endfunction()
