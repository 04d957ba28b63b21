# Project-wide compile settings and the test helper.

# Applies warnings (as errors unless SWIFTKV_WERROR=OFF) and sanitizers to a target.
function(swiftkv_target_settings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wimplicit-fallthrough>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${SWIFTKV_WERROR}>>:-Werror>
    $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${SWIFTKV_WERROR}>>:-Werror=all-warnings>)
  if(SWIFTKV_SANITIZE)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all>)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# Adds a library of the project: swiftkv_add_library(NAME SOURCES ... DEPS ...).
function(swiftkv_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  swiftkv_target_settings(${name})
endfunction()

# Adds a GoogleTest executable registered with ctest under one label (unit, ops, model, gpu):
# swiftkv_add_test(NAME LABEL unit SOURCES a_test.cc DEPS swiftkv_core).
function(swiftkv_add_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE
    SWIFTKV_SHARED_DIR="${SWIFTKV_SHARED_DIR}"
    SWIFTKV_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    SWIFTKV_BINARY_DIR="${CMAKE_BINARY_DIR}")
  swiftkv_target_settings(${name})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT})
  # One target per label builds that tier's tests and what they run (add_dependencies on the
  # test, e.g. the swiftkv binary): `cmake --build build --target swiftkv_tests_unit`.
  if(NOT TARGET swiftkv_tests_${ARG_LABEL})
    add_custom_target(swiftkv_tests_${ARG_LABEL})
  endif()
  add_dependencies(swiftkv_tests_${ARG_LABEL} ${name})
endfunction()
