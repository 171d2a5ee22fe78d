# Every driver answers --version (version, commit, build options) and --help.
foreach(name ${DELAYPROP_DRIVERS})
  add_test(NAME cli.${name}_version COMMAND delayprop-${name} --version)
  set_tests_properties(cli.${name}_version PROPERTIES LABELS "unit;cli"
                       PASS_REGULAR_EXPRESSION "^delayprop-${name} ${PROJECT_VERSION} \\(commit ([0-9a-f]+|unknown)")
  add_test(NAME cli.${name}_help COMMAND delayprop-${name} --help)
  set_tests_properties(cli.${name}_help PROPERTIES LABELS "unit;cli" PASS_REGULAR_EXPRESSION "usage: delayprop-${name}")
endforeach()

# Every option of every driver has a description and a default in --help
# (tests/cli/check_help.py); the self-test shows the check rejects bad help texts.
set(_driver_files)
foreach(name ${DELAYPROP_DRIVERS})
  list(APPEND _driver_files $<TARGET_FILE:delayprop-${name}>)
endforeach()
add_test(NAME cli.help_complete COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/check_help.py ${_driver_files})
add_test(NAME cli.help_check_self_test COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/check_help.py --self-test)
set_tests_properties(cli.help_complete cli.help_check_self_test PROPERTIES LABELS "unit;cli" TIMEOUT 120)
# Bad input: one error line naming the option and the value, exit 2.
add_test(NAME cli.unknown_option
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/expect_error.sh 2
                 "delayprop-train: usage error: unknown option --no-such-option (see --help)"
                 $<TARGET_FILE:delayprop-train> --no-such-option)
add_test(NAME cli.bad_number
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/expect_error.sh 2
                 "delayprop-bench: usage error: option --dt expects a number, got 'abc'"
                 $<TARGET_FILE:delayprop-bench> --dt abc)
set_tests_properties(cli.unknown_option cli.bad_number PROPERTIES LABELS "unit;cli")
