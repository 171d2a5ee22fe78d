# The Python module under pytest, from the build tree (label python; docs/PYTHON.md). The
# interpreter is the one the module was built for (.venv of scripts/install-deps.sh), which
# has pytest; the tools' Python (with h5py) writes the test data.
if(NOT DELAYPROP_HAVE_PYTHON)
  return()
endif()
execute_process(COMMAND ${Python_EXECUTABLE} -c "import pytest, numpy" RESULT_VARIABLE _dp_pytest_rc
                OUTPUT_QUIET ERROR_QUIET)
if(NOT _dp_pytest_rc EQUAL 0)
  message(STATUS "delayprop: turned off: Python tests (${Python_EXECUTABLE} has no pytest or numpy; "
                 "bash scripts/install-deps.sh makes .venv with both)")
  return()
endif()
set(_dp_py_env PYTHONPATH=${PROJECT_BINARY_DIR}/python PYTHONDONTWRITEBYTECODE=1
    DELAYPROP_SOURCE_DIR=${PROJECT_SOURCE_DIR} DELAYPROP_BINARY_DIR=${PROJECT_BINARY_DIR}
    DELAYPROP_TOOLS_PYTHON=${DELAYPROP_PYTHON})
add_test(NAME python.pytest
         COMMAND ${Python_EXECUTABLE} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_LIST_DIR})
set_tests_properties(python.pytest PROPERTIES LABELS python TIMEOUT 600 PROCESSORS 2 ENVIRONMENT "${_dp_py_env}")
# `pip install .` into a fresh virtual environment, offline (wheels of .venv/wheels), then
# import and run it there: builds the libraries again, so it is slow.
get_filename_component(_dp_venv ${Python_EXECUTABLE} DIRECTORY)
add_test(NAME python.pip_install
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/pip_install.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/pip-install
                 ${_dp_venv}/../wheels)
set_tests_properties(python.pip_install PROPERTIES LABELS python TIMEOUT 1800 PROCESSORS 2)
