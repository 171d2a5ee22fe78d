# Distributed tests: the MPI communicator under a real launcher with 1-4 ranks, sample
# coverage of the sharding, and fast failure when one rank throws or dies.
if(NOT DELAYPROP_HAVE_MPI)
  return()
endif()

add_executable(delayprop_mpi_check ${CMAKE_CURRENT_LIST_DIR}/mpi_check.cpp)
target_link_libraries(delayprop_mpi_check PRIVATE delayprop_dist)

# Open MPI refuses more ranks than cores without --oversubscribe, and refuses root (CI
# runs as root) without the two variables below; MPICH needs neither.
execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _dp_mpiexec_version
                ERROR_QUIET)
set(DP_MPIEXEC_FLAGS ${MPIEXEC_PREFLAGS})
if(_dp_mpiexec_version MATCHES "Open MPI|OpenRTE")
  list(APPEND DP_MPIEXEC_FLAGS --oversubscribe)
endif()
set(DP_MPI_ENV OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    OMPI_MCA_rmaps_base_oversubscribe=1)

foreach(np 1 2 3 4)
  foreach(mode collectives coverage)
    add_test(NAME dist_${mode}_np${np}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} ${DP_MPIEXEC_FLAGS}
                     $<TARGET_FILE:delayprop_mpi_check> ${mode} --expect-size ${np})
    set_tests_properties(dist_${mode}_np${np} PROPERTIES TIMEOUT 60 LABELS dist
                         ENVIRONMENT "${DP_MPI_ENV}" PROCESSORS ${np})
  endforeach()
endforeach()

# One rank fails while the others wait in a collective: the job must end within 20 s, with
# a non-zero exit and a message saying why.
set(_dp_fail_cases
    "fail-throw|rank 2 of 3: an exception is leaving the MPI session"
    "fail-throw-main|error \\(rank 2 of 3\\): deliberate failure on rank 2"
    "fail-kill|signal 9|Killed|KILLED")
foreach(case ${_dp_fail_cases})
  string(REPLACE "|" ";" parts "${case}")
  list(POP_FRONT parts mode)
  list(JOIN parts "|" pattern)
  add_test(NAME dist_${mode}_np3
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/expect_abort.sh 20 "${pattern}" --
                   ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 3 ${DP_MPIEXEC_FLAGS}
                   $<TARGET_FILE:delayprop_mpi_check> ${mode})
  set_tests_properties(dist_${mode}_np3 PROPERTIES TIMEOUT 60 LABELS dist
                       ENVIRONMENT "${DP_MPI_ENV}" PROCESSORS 3)
endforeach()

# The same global batches trained with 1, 2, 3 and 4 ranks, with 2 threads, and killed under
# 2 ranks then resumed under 3, end with bitwise the same parameters (exact gradient sums,
# MODEL.md §3.3), in float32 and float64, on three set-ups: Yin-Yang-shaped 4 -> 20 -> 3 LI
# with 100 samples in batches of 33 (the last batch of 1 leaves ranks with empty shards),
# the same in batches of 50 over 10 epochs, and a recurrent hidden layer.
if(TARGET delayprop-train)
  set(_dp_rank_setups
      "batch33|yinyang_small.toml"
      "batch50_10epochs|yinyang_small.toml|--set|train.batch_size=50|--set|train.epochs=10"
      "recurrent|recurrent_small.toml")
  foreach(setup ${_dp_rank_setups})
    string(REPLACE "|" ";" parts "${setup}")
    list(POP_FRONT parts name config)
    foreach(prec float32 float64)
      add_test(NAME dist_train_ranks_bitwise_${name}_${prec}
               COMMAND ${CMAKE_CURRENT_LIST_DIR}/train_ranks.sh $<TARGET_FILE:delayprop-train>
                       ${CMAKE_CURRENT_LIST_DIR}/${config}
                       ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${DP_MPIEXEC_FLAGS} --
                       --set engine.precision=${prec} ${parts})
      set_tests_properties(dist_train_ranks_bitwise_${name}_${prec} PROPERTIES TIMEOUT 300 LABELS dist
                           ENVIRONMENT "${DP_MPI_ENV}" PROCESSORS 4)
    endforeach()
  endforeach()

  # The real driver, one of 3 ranks failing (MPMD launch; `-x` is Open MPI's): killed in
  # its 2nd batch (test hook), or refusing its config while the others start training.
  if(_dp_mpiexec_version MATCHES "Open MPI|OpenRTE")
    set(_dp_train ${MPIEXEC_EXECUTABLE} ${DP_MPIEXEC_FLAGS} ${MPIEXEC_NUMPROC_FLAG} 2
        $<TARGET_FILE:delayprop-train> --config ${CMAKE_CURRENT_LIST_DIR}/yinyang_small.toml --quiet --overwrite)
    add_test(NAME dist_train_rank_killed
             COMMAND ${CMAKE_CURRENT_LIST_DIR}/expect_abort.sh 20 "rank 2 .*signal 9" --
                     ${_dp_train} --out ${CMAKE_CURRENT_BINARY_DIR}/dist_train_rank_killed
                     : ${MPIEXEC_NUMPROC_FLAG} 1 -x DELAYPROP_TEST_KILL=batch:2
                     $<TARGET_FILE:delayprop-train> --config ${CMAKE_CURRENT_LIST_DIR}/yinyang_small.toml
                     --quiet --overwrite --out ${CMAKE_CURRENT_BINARY_DIR}/dist_train_rank_killed)
    add_test(NAME dist_train_rank_error
             COMMAND ${CMAKE_CURRENT_LIST_DIR}/expect_abort.sh 20
                     "delayprop-train: error \\(rank 2 of 3\\): .*engine.threads must be >= 1" --
                     ${_dp_train} --out ${CMAKE_CURRENT_BINARY_DIR}/dist_train_rank_error
                     : ${MPIEXEC_NUMPROC_FLAG} 1
                     $<TARGET_FILE:delayprop-train> --config ${CMAKE_CURRENT_LIST_DIR}/yinyang_small.toml
                     --quiet --overwrite --out ${CMAKE_CURRENT_BINARY_DIR}/dist_train_rank_error --set engine.threads=0)
    set_tests_properties(dist_train_rank_killed dist_train_rank_error PROPERTIES TIMEOUT 60
                         LABELS dist ENVIRONMENT "${DP_MPI_ENV}" PROCESSORS 3)
  endif()
endif()
