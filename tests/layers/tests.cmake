# The layers include one another in one direction only (tests/layers/check_includes.py).
add_test(NAME layers.include_direction
         COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/check_includes.py ${PROJECT_SOURCE_DIR})
set_tests_properties(layers.include_direction PROPERTIES LABELS "unit;layers")
add_test(NAME layers.include_direction_self_test COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/check_includes.py --self-test)
set_tests_properties(layers.include_direction_self_test PROPERTIES LABELS "unit;layers")
