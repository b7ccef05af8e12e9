# Writes OUT, a C++ source holding every file under DIR as bytes, for
# reference-server/src/web_assets.cpp. Run at build time by
# add_custom_command (cmake -P): reads files as hex, downloads nothing.
file(GLOB_RECURSE files RELATIVE ${DIR} ${DIR}/*)
list(SORT files)
set(body "")
set(table "")
set(i 0)
foreach(f ${files})
  file(READ ${DIR}/${f} hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR size "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "static const unsigned char k${i}[] = {${bytes}0};\n")
  string(APPEND table "  {\"/${f}\", k${i}, ${size}},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from reference-server/web by cmake/embed_web.cmake.\n#include <cstddef>\nnamespace assistant::server::web_data {\nstruct File { const char* path; const unsigned char* data; std::size_t size; };\n${body}extern const File kFiles[] = {\n${table}  {nullptr, nullptr, 0}};\n}  // namespace assistant::server::web_data\n")
# Only a changed file touches OUT, so an unchanged page rebuilds nothing.
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
