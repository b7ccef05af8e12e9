#include "storage/search_terms.hpp"

namespace assistant::storage {

std::vector<SearchTerm> ParseSearchTerms(const std::vector<std::string>& words) {
  std::vector<SearchTerm> out;
  for (const std::string& word : words) {
    SearchTerm term;
    term.prefix = !word.empty() && word.back() == '*';
    std::string token;
    auto flush = [&] {
      if (!token.empty()) term.tokens.push_back(std::move(token));
      token.clear();
    };
    for (unsigned char c : word) {
      const bool keep =
          (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
      if (keep) {
        token.push_back(static_cast<char>(c));
      } else {
        flush();
      }
    }
    flush();
    if (!term.tokens.empty()) out.push_back(std::move(term));
  }
  return out;
}

}  // namespace assistant::storage
