# SPDX-License-Identifier: BSL-1.0
function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
    endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(consumer "${CMAKE_CURRENT_LIST_DIR}/consumer")
set(flags "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}")
if(MODE STREQUAL "find_package")
    run(${CMAKE_COMMAND} --install "${LIBNET_BINARY_DIR}" --prefix "${WORK_DIR}/prefix"
        --component libnet_Development)
    run(${CMAKE_COMMAND} -S "${consumer}" -B "${WORK_DIR}/build" -G "${GENERATOR}"
        -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix ${flags})
else()
    run(${CMAKE_COMMAND} -S "${consumer}" -B "${WORK_DIR}/build" -G "${GENERATOR}"
        -DCMAKE_CXX_COMPILER=${CXX} -DLIBNET_SOURCE_DIR=${LIBNET_SOURCE_DIR} ${flags})
endif()
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run("${WORK_DIR}/build/consumer")
