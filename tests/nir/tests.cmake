# NIR export and import (tests/nir/nir_run.sh, docs/NIR.md), with the tools' Python
# environment that scripts/install-deps.sh creates (.venv, nir pinned in
# tools/requirements-nir.txt). Without it the test fails and says how to create it.
set(DELAYPROP_TOOLS_PYTHON "${PROJECT_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python with nir, numpy and h5py for tools/nir_*.py and their tests")
add_test(NAME nir.export_import
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/nir_run.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} ${DELAYPROP_TOOLS_PYTHON})
set_tests_properties(nir.export_import PROPERTIES TIMEOUT 300 LABELS nir)
