// A self-signed certificate made at test time, so HTTPS tests need no files
// in the repository and no openssl command.
#ifndef ASSISTANT_TESTS_FAKE_UPSTREAM_TEST_CERTIFICATE_HPP_
#define ASSISTANT_TESTS_FAKE_UPSTREAM_TEST_CERTIFICATE_HPP_

#include <string>

namespace fake_upstream {

// Writes a P-256 key and a self-signed certificate for `ip` (subject
// alternative name IP:<ip>, valid from an hour ago for a day, usable as its
// own trust anchor) as PEM files. Throws std::runtime_error on failure.
void WriteSelfSignedCertificate(const std::string& cert_file, const std::string& key_file,
                                const std::string& ip = "127.0.0.1");

}  // namespace fake_upstream

#endif  // ASSISTANT_TESTS_FAKE_UPSTREAM_TEST_CERTIFICATE_HPP_
