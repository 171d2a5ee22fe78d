# Gradient fingerprints of the bench workloads, float32 and float64, 1 and 2 threads, vector
# and scalar synapse kernels: an engine change that is meant to be bitwise neutral must leave
# them as they are.
add_test(NAME fingerprints.cpu
         COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/check_fingerprints.py $<TARGET_FILE:delayprop-bench>
                 ${CMAKE_CURRENT_LIST_DIR}/expected.txt)
set_tests_properties(fingerprints.cpu PROPERTIES LABELS "unit;fingerprints" TIMEOUT 300)
