// HTTP header fields as the handlers see them: names compare without regard
// to case (RFC 9110 section 5.1), a name may repeat (Set-Cookie), and the
// fields keep the order they were added in (a response is written in it).
//
// A request carries a dozen fields, so a vector searched in order is both
// smaller and faster than a map.
//
// Thread safety: a value type; no sharing.
#ifndef ASSISTANT_SERVER_HTTP_HEADERS_HPP_
#define ASSISTANT_SERVER_HTTP_HEADERS_HPP_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace assistant::server::http {

// ASCII case-insensitive equality, as header names and tokens compare.
inline bool CaseInsensitiveEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  // The first value of `name`; empty when absent.
  const std::string& Get(std::string_view name) const {
    static const std::string kNone;
    const Field* f = Find(name);
    return f ? f->second : kNone;
  }
  bool Has(std::string_view name) const { return Find(name) != nullptr; }
  // Adds a field; an existing one of the same name stays (fields may repeat).
  void Add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // Replaces every field of `name` with one, at the end.
  void Set(std::string name, std::string value) {
    Erase(name);
    Add(std::move(name), std::move(value));
  }
  void Erase(std::string_view name) {
    std::vector<Field> kept;
    for (auto& f : fields_) {
      if (!CaseInsensitiveEqual(f.first, name)) kept.push_back(std::move(f));
    }
    fields_.swap(kept);
  }
  // How many fields are named `name`.
  size_t Count(std::string_view name) const {
    size_t n = 0;
    for (const auto& f : fields_) n += CaseInsensitiveEqual(f.first, name) ? 1 : 0;
    return n;
  }
  void Clear() { fields_.clear(); }
  size_t size() const { return fields_.size(); }

  const std::vector<Field>& all() const { return fields_; }
  std::vector<Field>::const_iterator begin() const { return fields_.begin(); }
  std::vector<Field>::const_iterator end() const { return fields_.end(); }

 private:
  const Field* Find(std::string_view name) const {
    for (const auto& f : fields_) {
      if (CaseInsensitiveEqual(f.first, name)) return &f;
    }
    return nullptr;
  }

  std::vector<Field> fields_;
};

}  // namespace assistant::server::http

#endif  // ASSISTANT_SERVER_HTTP_HEADERS_HPP_
