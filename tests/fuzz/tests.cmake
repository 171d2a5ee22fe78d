# The fuzz harness (tests/fuzz/fuzz.cpp): mutated configs, parameter files, batch files and
# checkpoints against the readers. Here a fixed number of cases (the corpus first: every
# file under corpus/ is a case that once crashed, hung or was silently misread); CI runs it
# again under ASan/UBSan for a fixed time (.ci/run).
add_executable(delayprop-fuzz ${CMAKE_CURRENT_LIST_DIR}/fuzz.cpp)
target_link_libraries(delayprop-fuzz PRIVATE delayprop_io)
target_include_directories(delayprop-fuzz PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
add_test(NAME fuzz_readers
         COMMAND delayprop-fuzz --corpus ${CMAKE_CURRENT_LIST_DIR}/corpus --work ${CMAKE_CURRENT_BINARY_DIR}/fuzz-work
                 --cases 400 --seed 1)
set_tests_properties(fuzz_readers PROPERTIES TIMEOUT 300 LABELS fuzz)
