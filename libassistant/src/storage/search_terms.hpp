// The words of a conversation search, reduced to plain tokens once for every
// backend, so a user's query text can never become query syntax in any of
// them (docs/storage.md, "Search").
#ifndef ASSISTANT_SRC_STORAGE_SEARCH_TERMS_HPP_
#define ASSISTANT_SRC_STORAGE_SEARCH_TERMS_HPP_

#include <string>
#include <vector>

namespace assistant::storage {

// One search word: its tokens, which must appear adjacent and in order, and
// whether the last one is a prefix (the word ended in `*`).
struct SearchTerm {
  std::vector<std::string> tokens;  // non-empty; ASCII letters/digits and bytes >= 0x80 only
  bool prefix = false;
};

// Splits each word into tokens of ASCII letters, digits and non-ASCII bytes;
// every other ASCII character separates tokens. A trailing `*` marks a
// prefix. Words without a token are dropped, so the result may be empty.
std::vector<SearchTerm> ParseSearchTerms(const std::vector<std::string>& words);

}  // namespace assistant::storage

#endif  // ASSISTANT_SRC_STORAGE_SEARCH_TERMS_HPP_
