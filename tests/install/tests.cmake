# The installed package works for a project outside the tree (tests/install/run_consumer.sh).
add_test(NAME install.consumer
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/run_consumer.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(install.consumer PROPERTIES LABELS "install" TIMEOUT 600
                     PASS_REGULAR_EXPRESSION "install and consumer: OK")
