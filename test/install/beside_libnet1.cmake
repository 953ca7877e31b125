# SPDX-License-Identifier: BSL-1.0
# Installs libnet into a prefix that already holds a copy of Debian's libnet1-dev (the packet
# library: libnet.a, libnet.so, libnet.h, include/libnet/*.h, bin/libnet-config), then proves
#  - no file of libnet1-dev was overwritten,
#  - the man pages of the apps (MAN_PAGES, from docs/man) are in MANDIR/man1,
#  - pkg-config's libnet-asio builds and runs a libnet program,
#  - one program linking -lnet-asio and -lnet gets each library from its own archive.
function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
    endif()
    set(run_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
execute_process(COMMAND dpkg-query -L libnet1-dev RESULT_VARIABLE rc OUTPUT_VARIABLE listing
                ERROR_QUIET)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "Debian's libnet1-dev is not installed (scripts/bootstrap installs it)")
endif()

# Debian's files, laid out under the prefix as an installation to it would be.
string(REPLACE "\n" ";" listing "${listing}")
set(theirs "")
foreach(path IN LISTS listing)
    if(IS_DIRECTORY "${path}" OR NOT EXISTS "${path}" OR NOT path MATCHES "^/usr/")
        continue()
    endif()
    string(REGEX REPLACE "^/usr/lib/[^/]+-linux-gnu/" "/usr/${LIBDIR}/" rel "${path}")
    string(REGEX REPLACE "^/usr/" "" rel "${rel}")
    get_filename_component(dir "${prefix}/${rel}" DIRECTORY)
    file(MAKE_DIRECTORY "${dir}")
    file(COPY_FILE "${path}" "${prefix}/${rel}") # follows libnet.so's symbolic link
    file(SHA256 "${prefix}/${rel}" hash)
    list(APPEND theirs "${rel}=${hash}")
endforeach()
foreach(must "${LIBDIR}/libnet.a" "${LIBDIR}/libnet.so" "include/libnet.h")
    if(NOT EXISTS "${prefix}/${must}")
        message(FATAL_ERROR "libnet1-dev's ${must} is missing from the copy")
    endif()
endforeach()

run(${CMAKE_COMMAND} --install "${LIBNET_BINARY_DIR}" --prefix "${prefix}")

foreach(entry IN LISTS theirs)
    string(REGEX MATCH "^([^=]+)=(.*)$" _ "${entry}")
    file(SHA256 "${prefix}/${CMAKE_MATCH_1}" now)
    if(NOT now STREQUAL CMAKE_MATCH_2)
        message(FATAL_ERROR "installing libnet overwrote libnet1-dev's ${CMAKE_MATCH_1}")
    endif()
endforeach()
if(NOT EXISTS "${prefix}/${LIBDIR}/libnet-asio.a")
    message(FATAL_ERROR "libnet-asio.a was not installed in ${prefix}/${LIBDIR}")
endif()
foreach(page IN LISTS MAN_PAGES)
    set(installed "${prefix}/${MANDIR}/man1/${page}")
    if(NOT EXISTS "${installed}")
        message(FATAL_ERROR "${page} was not installed in ${prefix}/${MANDIR}/man1")
    endif()
    file(SHA256 "${installed}" got)
    file(SHA256 "${MAN_SOURCE_DIR}/${page}" want)
    if(NOT got STREQUAL want)
        message(FATAL_ERROR "${installed} differs from ${MAN_SOURCE_DIR}/${page}")
    endif()
endforeach()

set(ENV{PKG_CONFIG_PATH} "${prefix}/${LIBDIR}/pkgconfig")
run(pkg-config --modversion libnet-asio)
string(STRIP "${run_output}" version)
if(NOT version STREQUAL VERSION)
    message(FATAL_ERROR "pkg-config says libnet-asio ${version}, the build is ${VERSION}")
endif()
run(pkg-config --cflags libnet-asio)
string(STRIP "${run_output}" cflags)
separate_arguments(cflags UNIX_COMMAND "${cflags}")
run(pkg-config --libs libnet-asio)
string(STRIP "${run_output}" libs)
separate_arguments(libs UNIX_COMMAND "${libs}")
separate_arguments(extra UNIX_COMMAND "${CXX_FLAGS} ${LINKER_FLAGS}")

run(${CXX} -std=c++20 ${extra} ${cflags} "${SOURCE_DIR}/consumer/main.cpp"
    -o "${WORK_DIR}/consumer" ${libs})
run("${WORK_DIR}/consumer")
run(${CXX} -std=c++20 ${extra} ${cflags} "${SOURCE_DIR}/beside/both.cpp"
    -o "${WORK_DIR}/both" ${libs} -lnet)
run("${WORK_DIR}/both")
message(STATUS "${run_output}")
