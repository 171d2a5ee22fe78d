# The Python module delayprop (docs/PYTHON.md): python/src/module.cpp over the same static
# libraries as the drivers. DELAYPROP_PYTHON_MODULE=auto builds it when Python's development files
# and pybind11 are found: the repository's .venv (scripts/install-deps.sh) is preferred, so
# that ctest's pytest runs with the interpreter the module was built for. `pip install .`
# (pyproject.toml, scikit-build-core) builds the same target.
set(DELAYPROP_PYTHON_MODULE "auto" CACHE STRING "Python module: auto | on | off")
set_property(CACHE DELAYPROP_PYTHON_MODULE PROPERTY STRINGS auto on off)

set(DELAYPROP_HAVE_PYTHON OFF)
# Not under the sanitizers: the interpreter would need the sanitizer runtime preloaded.
if(NOT DELAYPROP_PYTHON_MODULE STREQUAL "off" AND NOT DELAYPROP_SANITIZE)
  if(NOT DEFINED Python_EXECUTABLE AND EXISTS ${PROJECT_SOURCE_DIR}/.venv/bin/python)
    set(Python_EXECUTABLE ${PROJECT_SOURCE_DIR}/.venv/bin/python)
  endif()
  find_package(Python 3.9 COMPONENTS Interpreter Development.Module)
  if(Python_FOUND AND NOT pybind11_DIR)
    execute_process(COMMAND ${Python_EXECUTABLE} -m pybind11 --cmakedir OUTPUT_VARIABLE _dp_pybind11_dir
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _dp_rc)
    if(_dp_rc EQUAL 0)
      set(pybind11_DIR ${_dp_pybind11_dir})
    endif()
  endif()
  if(Python_FOUND)
    find_package(pybind11 CONFIG QUIET)
  endif()
  if(Python_FOUND AND pybind11_FOUND)
    set(DELAYPROP_HAVE_PYTHON ON)
    # The static libraries are linked into a shared module.
    set(CMAKE_POSITION_INDEPENDENT_CODE ON)
  elseif(DELAYPROP_PYTHON_MODULE STREQUAL "on")
    message(FATAL_ERROR "DELAYPROP_PYTHON_MODULE=on but Python's development files or pybind11 were not found "
                        "(bash scripts/install-deps.sh makes .venv with both)")
  endif()
endif()
message(STATUS "delayprop: Python module ....... ${DELAYPROP_HAVE_PYTHON} (DELAYPROP_PYTHON_MODULE=${DELAYPROP_PYTHON_MODULE})")
if(DELAYPROP_HAVE_PYTHON)
  message(STATUS "delayprop: Python .............. ${Python_EXECUTABLE} (pybind11 ${pybind11_VERSION})")
else()
  message(STATUS "delayprop: turned off: Python module and its tests (no Python development files or pybind11)")
endif()

# build/python/delayprop: the package's Python files beside the module, for PYTHONPATH.
function(delayprop_add_python_module)
  pybind11_add_module(delayprop_python MODULE NO_EXTRAS ${PROJECT_SOURCE_DIR}/python/src/module.cpp)
  set_target_properties(delayprop_python PROPERTIES OUTPUT_NAME _core
                        LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/python/delayprop)
  target_include_directories(delayprop_python PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(delayprop_python PRIVATE delayprop_train)
  file(GLOB py_files CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/python/delayprop/*.py)
  foreach(f ${py_files})
    get_filename_component(name ${f} NAME)
    configure_file(${f} ${PROJECT_BINARY_DIR}/python/delayprop/${name} COPYONLY)
  endforeach()
  if(SKBUILD)
    install(TARGETS delayprop_python LIBRARY DESTINATION delayprop COMPONENT python)
  endif()
endfunction()
