# Script mode: install, configure the example against the install, build, run.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  WORKING_DIRECTORY ${WORK_DIR})
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  set(LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f include/assistant/assistant.hpp include/assistant/version.hpp
          lib/pkgconfig/libassistant.pc lib/cmake/libassistant/libassistantConfig.cmake
          include/assistant.h lib/pkgconfig/assistant_c.pc)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "the install lacks ${f}")
  endif()
endforeach()
# The project's internal tools (fast JSON text, base64url, the OpenAI
# status mapping) stay out of the package: no installed header declares
# them and no exported target brings in the private headers.
file(GLOB_RECURSE installed_headers ${prefix}/include/*.hpp ${prefix}/include/*.h)
foreach(h ${installed_headers})
  file(READ ${h} text)
  foreach(internal DumpJson AppendJson JsonNestingDepth AppendFormattedTime Base64Url
                   OpenAiHttpStatusFor)
    string(FIND "${text}" "${internal}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "the installed ${h} names the internal ${internal}")
    endif()
  endforeach()
endforeach()
file(GLOB exported_targets ${prefix}/lib/cmake/libassistant/*.cmake)
foreach(f ${exported_targets})
  file(READ ${f} text)
  foreach(internal assistant_internal libassistant/src)
    string(FIND "${text}" "${internal}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "the installed ${f} refers to ${internal}")
    endif()
  endforeach()
endforeach()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/embed -B ${WORK_DIR}/embed
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/embed -j2)
run(${WORK_DIR}/embed/embed sqlite://${WORK_DIR}/embed.db)
foreach(expect "signed in as ann@example.com" "buy milk" "call mom")
  string(FIND "${LAST_OUTPUT}" "${expect}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "embed's output lacks '${expect}':\n${LAST_OUTPUT}")
  endif()
endforeach()
# Run again on the same file: the user logs in instead of registering, and
# the earlier tasks are still there.
run(${WORK_DIR}/embed/embed sqlite://${WORK_DIR}/embed.db)
message(STATUS "installed package consumed OK:\n${LAST_OUTPUT}")

# The pkg-config file alone must be enough to compile and link a program.
find_program(PKG_CONFIG pkg-config REQUIRED)
set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
run(${PKG_CONFIG} --cflags --libs libassistant)
string(STRIP "${LAST_OUTPUT}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run(c++ -std=c++17 -O1 ${SOURCE_DIR}/examples/embed/main.cpp -o ${WORK_DIR}/embed-pc ${flags})
run(${WORK_DIR}/embed-pc sqlite://${WORK_DIR}/embed-pc.db)
message(STATUS "pkg-config build OK")

# The C ABI from the install tree: the C example through find_package
# (assistant::assistant_c), and a C program through pkg-config alone.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/c_embed -B ${WORK_DIR}/c_embed
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/c_embed -j2)
run(${WORK_DIR}/c_embed/c_embed sqlite://${WORK_DIR}/c_embed.db)
foreach(expect "signed in as cee@example.com" "water the plants" "tools include roll_die: yes")
  string(FIND "${LAST_OUTPUT}" "${expect}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "c_embed's output lacks '${expect}':\n${LAST_OUTPUT}")
  endif()
endforeach()
run(${PKG_CONFIG} --cflags --libs assistant_c libcjson)
string(STRIP "${LAST_OUTPUT}" cflags)
separate_arguments(cflags UNIX_COMMAND "${cflags}")
run(cc -std=c99 -O1 ${SOURCE_DIR}/examples/c_embed/main.c -o ${WORK_DIR}/c-pc ${cflags}
    -Wl,-rpath,${prefix}/lib)
run(${WORK_DIR}/c-pc sqlite://${WORK_DIR}/c-pc.db)
message(STATUS "C ABI from the install tree OK")

# The client libraries from the install tree: the client example builds
# against assistant::assistant_client (it runs against a server in the
# client tests).
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/client_app -B ${WORK_DIR}/client_app
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/client_app -j2)
if(NOT EXISTS ${WORK_DIR}/client_app/client_app)
  message(FATAL_ERROR "the client example did not build against the install")
endif()
message(STATUS "client libraries from the install tree OK")

# The embedder's own provider, logger and tool through the installed public
# headers alone: a streamed turn in which the agent calls the app's tool.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/custom_provider -B ${WORK_DIR}/custom_provider
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/custom_provider -j2)
run(${WORK_DIR}/custom_provider/custom_provider sqlite://${WORK_DIR}/custom_provider.db)
foreach(expect "event message.start" "event tool.call" "\"name\":\"roll_die\""
               "event tool.result" "\"rolled\":4" "event message.delta" "event message.done"
               "reply: You rolled a 4." "provider: scripted")
  string(FIND "${LAST_OUTPUT}" "${expect}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "custom_provider's output lacks '${expect}':\n${LAST_OUTPUT}")
  endif()
endforeach()
message(STATUS "custom provider, logger and tool from the install tree OK")
