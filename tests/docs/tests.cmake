# Documentation checks: every "MODEL.md §N" reference names a section of docs/MODEL.md, and
# the model is cited from the repository only (tests/docs/check_model_refs.py).
add_test(NAME docs.model_refs
         COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/check_model_refs.py ${PROJECT_SOURCE_DIR})
set_tests_properties(docs.model_refs PROPERTIES LABELS docs)
