# Data-parallel training under real mpirun ranks (needs MPI and h5py for /usr/bin/python3).
if(DELAYPROP_HAVE_MPI)
  add_test(NAME mpi_train_rank_equivalence
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/rank_equivalence.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
  set_tests_properties(mpi_train_rank_equivalence PROPERTIES TIMEOUT 300 LABELS mpi)
endif()
