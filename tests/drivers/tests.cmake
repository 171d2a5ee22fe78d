# Driver-level tests run the built drivers from the unit test binary
# (DELAYPROP_BINARY_DIR/delayprop-X), so that binary must be built after them.
target_sources(delayprop_unit PRIVATE ${CMAKE_CURRENT_LIST_DIR}/test_grad_driver.cpp)
add_dependencies(delayprop_unit delayprop-grad delayprop-train)
# Using a trained network end to end: train, delayprop-eval (1 and 2 ranks), delayprop-grad
# on the model file and the checkpoint, figures, bad input (tests/drivers/eval_run.sh).
set(_dp_eval_mpi)
set(_dp_eval_env)
if(DELAYPROP_HAVE_MPI)
  execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _dp_eval_mpiv ERROR_QUIET)
  set(_dp_eval_mpi ${MPIEXEC_EXECUTABLE} ${MPIEXEC_PREFLAGS})
  if(_dp_eval_mpiv MATCHES "Open MPI|OpenRTE")
    list(APPEND _dp_eval_mpi --oversubscribe)
  endif()
  list(APPEND _dp_eval_mpi ${MPIEXEC_NUMPROC_FLAG})
  set(_dp_eval_env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1)
endif()
add_test(NAME drivers_eval_end_to_end
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/eval_run.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} ${_dp_eval_mpi})
set_tests_properties(drivers_eval_end_to_end PROPERTIES TIMEOUT 300 LABELS "drivers;dist"
                     ENVIRONMENT "${_dp_eval_env}" PROCESSORS 2)
# Runs that survive faults: seeded kills (batches, checkpoint writes, resumed runs), ENOSPC,
# flipped bits, NaN, the format-1 checkpoint, refused resumes and directories, SIGTERM, and
# one of 2 ranks signalled (tests/drivers/run_records.sh).
add_test(NAME drivers_run_records
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/run_records.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} ${_dp_eval_mpi})
set_tests_properties(drivers_run_records PROPERTIES TIMEOUT 300 LABELS "drivers;dist"
                     ENVIRONMENT "${_dp_eval_env}" PROCESSORS 2)
