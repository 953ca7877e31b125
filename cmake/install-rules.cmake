# SPDX-License-Identifier: BSL-1.0
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(LIBNET_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/libnet" CACHE STRING
    "Where libnet's CMake package files are installed")

install(DIRECTORY libnet/include/libnet TYPE INCLUDE COMPONENT libnet_Development)
install(TARGETS libnet EXPORT libnetTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT libnet_Development)
install(EXPORT libnetTargets NAMESPACE libnet:: DESTINATION ${LIBNET_CMAKE_DIR}
        COMPONENT libnet_Development)

configure_package_config_file(cmake/libnetConfig.cmake.in
    "${PROJECT_BINARY_DIR}/libnetConfig.cmake" INSTALL_DESTINATION ${LIBNET_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/libnetConfigVersion.cmake"
    COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/libnetConfig.cmake"
              "${PROJECT_BINARY_DIR}/libnetConfigVersion.cmake"
        DESTINATION ${LIBNET_CMAKE_DIR} COMPONENT libnet_Development)

# pkg-config: libnet-asio.pc (libnet.pc belongs to Debian's packet library).
set(LIBNET_PC_DIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
file(RELATIVE_PATH LIBNET_PC_UP "/root/${LIBNET_PC_DIR}" "/root")
string(REGEX REPLACE "/$" "" LIBNET_PC_UP "${LIBNET_PC_UP}")
set(LIBNET_PC_NATS "")
if(LIBNET_WITH_NATS)
    set(LIBNET_PC_NATS " libnats")
endif()
configure_file(cmake/libnet-asio.pc.in "${PROJECT_BINARY_DIR}/libnet-asio.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/libnet-asio.pc" DESTINATION ${LIBNET_PC_DIR}
        COMPONENT libnet_Development)
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT libnet_Development)

if(LIBNET_BUILD_APPS)
    install(TARGETS net-server net-client net-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
            COMPONENT libnet_Runtime)
    install(FILES docs/man/net-server.1 docs/man/net-client.1 docs/man/net-bench.1
            DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT libnet_Runtime)
endif()
