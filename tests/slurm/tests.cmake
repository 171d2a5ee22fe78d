# delayprop-sweep tests. sweep_local needs only bash and mpirun (it trains nothing: a stand-in
# for delayprop-train writes the summaries). sweep_slurm starts a throwaway one-node SLURM
# cluster (needs root and the Debian packages slurmctld slurmd slurm-client munge) and is
# skipped (exit 77) where those are missing, but fails with CI=true. Run them with `ctest -L sweep` / `ctest -L slurm`.
add_test(NAME sweep_local
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_sweep_local.sh $<TARGET_FILE:delayprop-sweep> ${PROJECT_SOURCE_DIR})
set_tests_properties(sweep_local PROPERTIES LABELS "sweep" SKIP_RETURN_CODE 77 TIMEOUT 120)

if(TARGET delayprop-train)
  add_test(NAME sweep_slurm
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_sweep_slurm.sh $<TARGET_FILE:delayprop-sweep>
                   $<TARGET_FILE:delayprop-train> ${PROJECT_SOURCE_DIR})
  # RUN_SERIAL: the cluster's jobs use every CPU of the machine.
  set_tests_properties(sweep_slurm PROPERTIES LABELS "slurm;sweep" SKIP_RETURN_CODE 77 TIMEOUT 400 RUN_SERIAL TRUE)
else()
  message(STATUS "delayprop: turned off: the SLURM sweep test (no delayprop-train target)")
endif()
