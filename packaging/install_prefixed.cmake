# Install step: the units and the sysusers and tmpfiles snippets, with /usr/bin/ and
# /usr/share/ in them pointing under the prefix being installed to (CPack installs with
# /usr, `cmake --install` with CMAKE_INSTALL_PREFIX or --prefix).
set(root "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
foreach(pair "syncd.service;lib/systemd/system/syncd.service"
             "syncd.socket;lib/systemd/system/syncd.socket"
             "syncd.sysusers;lib/sysusers.d/syncd.conf"
             "syncd.tmpfiles;lib/tmpfiles.d/syncd.conf")
  list(GET pair 0 source)
  list(GET pair 1 target)
  file(READ "${SYNCD_SOURCE_DIR}/systemd/${source}" text)
  string(REPLACE "/usr/bin/" "${CMAKE_INSTALL_PREFIX}/bin/" text "${text}")
  string(REPLACE "/usr/share/" "${CMAKE_INSTALL_PREFIX}/share/" text "${text}")
  get_filename_component(dir "${root}/${target}" DIRECTORY)
  file(MAKE_DIRECTORY "${dir}")
  file(WRITE "${root}/${target}" "${text}")
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${root}/${target}")
  message(STATUS "Installing: ${root}/${target}")
endforeach()
