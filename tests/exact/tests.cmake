# Exact gradient sums: the fixed-point sum equals the correctly rounded sum (Python's
# fractions) whatever the order and split of the terms, where a float64 sum does not.
add_executable(exact_sum_tool ${CMAKE_CURRENT_LIST_DIR}/exact_sum_tool.cpp)
target_link_libraries(exact_sum_tool PRIVATE delayprop_core)
add_test(NAME exact.sum_vs_fractions
         COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/check_exact_sum.py $<TARGET_FILE:exact_sum_tool>)
set_tests_properties(exact.sum_vs_fractions PROPERTIES LABELS "unit;exact")
