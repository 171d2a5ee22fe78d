# The installed package works for a project outside the tree (tests/install/run_consumer.sh).
add_test(NAME install.consumer
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/run_consumer.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(install.consumer PROPERTIES LABELS "install" TIMEOUT 600
                     PASS_REGULAR_EXPRESSION "install and consumer: OK")

# Every driver answers --version (version, commit, build options) and --help.
foreach(name train grad eval bench sweep)
  add_test(NAME cli.${name}_version COMMAND delayprop-${name} --version)
  set_tests_properties(cli.${name}_version PROPERTIES LABELS "unit;cli"
                       PASS_REGULAR_EXPRESSION "^delayprop-${name} ${PROJECT_VERSION} \\(commit ([0-9a-f]+|unknown)")
  add_test(NAME cli.${name}_help COMMAND delayprop-${name} --help)
  set_tests_properties(cli.${name}_help PROPERTIES LABELS "unit;cli" PASS_REGULAR_EXPRESSION "usage: delayprop-${name}")
endforeach()
