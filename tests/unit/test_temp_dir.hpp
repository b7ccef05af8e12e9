// A fresh private directory for one test, under $ASSISTANT_TEST_TMP (set by
// ctest so the files stay inside the build tree) or the system temp dir.
#ifndef ASSISTANT_TESTS_UNIT_TEST_TEMP_DIR_HPP_
#define ASSISTANT_TESTS_UNIT_TEST_TEMP_DIR_HPP_

#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

// `prefix` names the directory so a leftover one says which test made it.
inline std::string MakeTestTempDir(const std::string& prefix) {
  const char* base = std::getenv("ASSISTANT_TEST_TMP");
  std::string root = base != nullptr ? base : std::filesystem::temp_directory_path().string();
  std::filesystem::create_directories(root);
  std::string dir = root + "/" + prefix + "XXXXXX";
  REQUIRE(mkdtemp(dir.data()) != nullptr);
  return dir;
}

#endif  // ASSISTANT_TESTS_UNIT_TEST_TEMP_DIR_HPP_
