# Driver-level tests run the built drivers from the unit test binary
# (DELAYPROP_BINARY_DIR/delayprop-X), so that binary must be built after them.
target_sources(delayprop_unit PRIVATE ${CMAKE_CURRENT_LIST_DIR}/test_grad_driver.cpp)
add_dependencies(delayprop_unit delayprop-grad delayprop-train)
