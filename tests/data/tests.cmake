# Data tools: the Braille converter's self-test, and a conversion of the real recordings
# (shared/data/braille, skipped when absent) whose output the C++ loader then reads.
set(DELAYPROP_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with numpy and h5py, for tools/")
set(BRAILLE_TEST_OUT ${PROJECT_BINARY_DIR}/test_data_tmp/braille_th5)
add_test(NAME data_braille_selftest COMMAND ${DELAYPROP_PYTHON} ${PROJECT_SOURCE_DIR}/tools/braille_convert.py --self-test)
add_test(NAME data_braille_convert
         COMMAND ${DELAYPROP_PYTHON} ${PROJECT_SOURCE_DIR}/tools/braille_convert.py --threshold 5 --seed 0
                 --out ${BRAILLE_TEST_OUT} --skip-if-missing)
add_test(NAME data_braille_load
         COMMAND delayprop_unit --gtest_filter=DataBraille.ConvertedRealRecordings --gtest_fail_if_no_test_ran)
set_tests_properties(data_braille_selftest data_braille_convert data_braille_load PROPERTIES LABELS data)
set_tests_properties(data_braille_convert PROPERTIES SKIP_RETURN_CODE 77 FIXTURES_SETUP braille_th5)
set_tests_properties(data_braille_load PROPERTIES FIXTURES_REQUIRED braille_th5 SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]"
                     ENVIRONMENT "DELAYPROP_BRAILLE_DIR=${BRAILLE_TEST_OUT}")
