# Driver-level tests run the built drivers from the unit test binary
# (DELAYPROP_BINARY_DIR/delayprop-X), so that binary must be built after them.
target_sources(delayprop_unit PRIVATE ${CMAKE_CURRENT_LIST_DIR}/test_grad_driver.cpp)
add_dependencies(delayprop_unit delayprop-grad delayprop-train)
# Using a trained network end to end: train, delayprop-eval (1 and 2 ranks), delayprop-grad
# on the model file and the checkpoint, figures, bad input (tests/drivers/eval_run.sh).
set(_dp_eval_mpi)
if(DELAYPROP_HAVE_MPI)
  set(_dp_eval_mpi ${MPIEXEC_EXECUTABLE} ${DP_MPIEXEC_FLAGS} ${MPIEXEC_NUMPROC_FLAG})
endif()
add_test(NAME drivers_eval_end_to_end
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/eval_run.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} ${_dp_eval_mpi})
set_tests_properties(drivers_eval_end_to_end PROPERTIES TIMEOUT 300 LABELS "drivers;dist" PROCESSORS 2)
if(DELAYPROP_HAVE_MPI)
  dp_mpi_test(drivers_eval_end_to_end)
endif()
# Runs that survive faults: seeded kills (batches, checkpoint writes, resumed runs), ENOSPC,
# flipped bits, NaN, the format-1 checkpoint, refused resumes and directories, SIGTERM, and
# one of 2 ranks signalled (tests/drivers/run_records.sh).
add_test(NAME drivers_run_records
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/run_records.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} ${_dp_eval_mpi})
set_tests_properties(drivers_run_records PROPERTIES TIMEOUT 300 LABELS "drivers;dist" PROCESSORS 2)
if(DELAYPROP_HAVE_MPI)
  dp_mpi_test(drivers_run_records)
endif()
