# SPDX-License-Identifier: BSL-1.0
# Every source file names its license (LICENSE: Boost Software License 1.0) in its first lines.
set(missing "")
file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE "${SOURCE_DIR}"
     "${SOURCE_DIR}/libnet/*" "${SOURCE_DIR}/apps/*" "${SOURCE_DIR}/examples/*"
     "${SOURCE_DIR}/bench/*" "${SOURCE_DIR}/test/*" "${SOURCE_DIR}/scripts/*"
     "${SOURCE_DIR}/cmake/*" "${SOURCE_DIR}/tools/*")
foreach(f IN LISTS files)
    if(NOT f MATCHES "(\\.(cpp|hpp|py|sh|cmake|in|lua)|CMakeLists\\.txt|^scripts/[a-z]+)$")
        continue()
    endif()
    file(STRINGS "${SOURCE_DIR}/${f}" head LIMIT_COUNT 3)
    if(NOT head MATCHES "SPDX-License-Identifier: BSL-1\\.0")
        list(APPEND missing "${f}")
    endif()
endforeach()
if(NOT EXISTS "${SOURCE_DIR}/LICENSE")
    list(APPEND missing LICENSE)
endif()
list(LENGTH files n)
if(missing)
    list(JOIN missing "\n  " missing)
    message(FATAL_ERROR "no SPDX-License-Identifier: BSL-1.0 line in:\n  ${missing}")
endif()
message(STATUS "${n} files checked")
