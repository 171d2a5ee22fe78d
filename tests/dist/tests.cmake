# Distributed tests: the MPI communicator under a real launcher with 1-4 ranks, sample
# coverage of the sharding, and fast failure when one rank throws or dies.
if(NOT DELAYPROP_HAVE_MPI)
  return()
endif()

add_executable(delayprop_mpi_check ${CMAKE_CURRENT_LIST_DIR}/mpi_check.cpp)
target_link_libraries(delayprop_mpi_check PRIVATE delayprop_dist)

foreach(np 1 2 3 4)
  foreach(mode collectives coverage)
    add_test(NAME dist_${mode}_np${np}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} ${DP_MPIEXEC_FLAGS}
                     $<TARGET_FILE:delayprop_mpi_check> ${mode} --expect-size ${np})
    set_tests_properties(dist_${mode}_np${np} PROPERTIES TIMEOUT 60 LABELS dist PROCESSORS ${np})
    dp_mpi_test(dist_${mode}_np${np})
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
  set_tests_properties(dist_${mode}_np3 PROPERTIES TIMEOUT 60 LABELS dist PROCESSORS 3)
  dp_mpi_test(dist_${mode}_np3)
endforeach()

# One rank stops answering (alive, never joins): the waiting ranks' watchdog
# (dist/watchdog.hpp, as in every NCCL collective) aborts after DELAYPROP_COMM_TIMEOUT_S = 3
# and the job ends with the rank-naming message. Bounded by the ctest TIMEOUT (a hang fails
# the test); no timed assertion.
add_test(NAME dist_stall_np3
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/expect_failure.sh
                 "rank [01]: all-reduce did not complete within 3 s"
                 -- ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 3 ${DP_MPIEXEC_FLAGS}
                 $<TARGET_FILE:delayprop_mpi_check> stall)
set_tests_properties(dist_stall_np3 PROPERTIES TIMEOUT 60 LABELS dist PROCESSORS 3)
dp_mpi_test(dist_stall_np3 DELAYPROP_COMM_TIMEOUT_S=3)

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
                           PROCESSORS 4)
      dp_mpi_test(dist_train_ranks_bitwise_${name}_${prec})
    endforeach()
  endforeach()

  # The real driver, one of 3 ranks failing (MPMD launch; `-x` is Open MPI's): killed in
  # its 2nd batch (test hook), or refusing its config while the others start training.
  if(DP_MPIEXEC_IS_OPEN_MPI)
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
                         LABELS dist PROCESSORS 3)
    dp_mpi_test(dist_train_rank_killed)
    dp_mpi_test(dist_train_rank_error)

    # Ranks whose configs differ (once a deadlock or an MPI_ERR_TRUNCATE naming no cause, or
    # accepted): every rank ends with the same line naming the differing key, before training.
    set(_dp_differ_cases
        "n_train|data.n_train=50|data.n_train \\(rank 0: 100, rank 1: 50\\)"
        "hidden_size|network.population.1.size=21|network.population.1.size \\(rank 0: 20, rank 1: 21\\)"
        "epochs|train.epochs=3|train.epochs \\(rank 0: 2, rank 1: 3\\)"
        "batch_size|train.batch_size=32|train.batch_size"
        "precision|engine.precision=float64|engine.precision \\(rank 0: \\(not set\\), rank 1: 'float64'\\)")
    foreach(case ${_dp_differ_cases})
      string(REPLACE "|" ";" parts "${case}")
      list(GET parts 0 name)
      list(GET parts 1 set)
      list(GET parts 2 pattern)
      # Either rank may be the one whose line ends the job first (both print the same line).
      add_test(NAME dist_train_ranks_differ_${name}
               COMMAND ${CMAKE_CURRENT_LIST_DIR}/expect_abort.sh 20
                       "error \\(rank [01] of 2\\): .*ranks run with different config: .*${pattern}" --
                       ${MPIEXEC_EXECUTABLE} ${DP_MPIEXEC_FLAGS} ${MPIEXEC_NUMPROC_FLAG} 1
                       $<TARGET_FILE:delayprop-train> --config ${CMAKE_CURRENT_LIST_DIR}/yinyang_small.toml
                       --quiet --out ${CMAKE_CURRENT_BINARY_DIR}/dist_train_ranks_differ_${name}
                       : ${MPIEXEC_NUMPROC_FLAG} 1
                       $<TARGET_FILE:delayprop-train> --config ${CMAKE_CURRENT_LIST_DIR}/yinyang_small.toml
                       --quiet --out ${CMAKE_CURRENT_BINARY_DIR}/dist_train_ranks_differ_${name} --set ${set})
      set_tests_properties(dist_train_ranks_differ_${name} PROPERTIES TIMEOUT 60 LABELS dist PROCESSORS 2)
      dp_mpi_test(dist_train_ranks_differ_${name})
    endforeach()
  endif()
endif()
