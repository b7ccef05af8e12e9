#include "web_assets.hpp"

#include <openssl/evp.h>
#include <zlib.h>

#include <cctype>
#include <cstddef>
#include <map>
#include <memory>

namespace assistant::server::web_data {
struct File {
  const char* path;
  const unsigned char* data;
  std::size_t size;
};
extern const File kFiles[];
}  // namespace assistant::server::web_data

namespace assistant::server::web {
namespace {

struct Stored {
  std::string content_type, body, gzip_body, etag, cache_control;
  Asset view;
};

std::string_view TypeFor(std::string_view path) {
  const auto dot = path.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? "" : path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "json") return "application/json";
  if (ext == "ico") return "image/x-icon";
  return "application/octet-stream";
}

std::string Gzip(const std::string& in) {
  z_stream z{};
  // windowBits 15 + 16: a gzip header and trailer, not a zlib one.
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Etag(const std::string& body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(body.data(), body.size(), md, &n, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string e = "\"";
  for (unsigned i = 0; i < 16; ++i) {
    e += kHex[md[i] >> 4];
    e += kHex[md[i] & 15];
  }
  return e + "\"";
}

const std::map<std::string, std::unique_ptr<Stored>, std::less<>>& Table() {
  static const auto* table = [] {
    auto* t = new std::map<std::string, std::unique_ptr<Stored>, std::less<>>();
    for (const auto* f = web_data::kFiles; f->path != nullptr; ++f) {
      auto s = std::make_unique<Stored>();
      s->content_type = TypeFor(f->path);
      s->body.assign(reinterpret_cast<const char*>(f->data), f->size);
      s->gzip_body = Gzip(s->body);
      s->etag = Etag(s->body);
      // The file names do not change with their contents, so a browser must
      // ask again each time; the ETag makes that a 304.
      s->cache_control = "no-cache";
      s->view = {s->content_type, s->body, s->gzip_body, s->etag, s->cache_control};
      t->emplace(f->path, std::move(s));
    }
    return t;
  }();
  return *table;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(item) for each comma-separated item of a header value.
template <typename F>
bool AnyItem(std::string_view list, F f) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (f(Trim(list.substr(0, comma)))) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

const char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const Asset* Lookup(std::string_view path) {
  if (path == "/") path = "/index.html";
  const auto& t = Table();
  const auto it = t.find(path);
  return it == t.end() ? nullptr : &it->second->view;
}

const std::vector<std::string>& Paths() {
  static const auto* paths = [] {
    auto* p = new std::vector<std::string>();
    for (const auto& [path, asset] : Table()) p->push_back(path);
    return p;
  }();
  return *paths;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  return AnyItem(accept_encoding, [](std::string_view item) {
    const auto semi = item.find(';');
    const auto coding = Trim(item.substr(0, semi));
    if (!IEquals(coding, "gzip") && coding != "*") return false;
    if (semi == std::string_view::npos) return true;
    // "gzip;q=0" refuses it; any other weight allows it.
    auto q = Trim(item.substr(semi + 1));
    if (q.size() < 2 || (q[0] != 'q' && q[0] != 'Q') || q[1] != '=') return true;
    q.remove_prefix(2);
    return q.find_first_not_of("0.") != std::string_view::npos;
  });
}

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  return AnyItem(if_none_match, [etag](std::string_view item) {
    if (item == "*") return true;
    // Weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
    if (item.size() > 2 && item[0] == 'W' && item[1] == '/') item.remove_prefix(2);
    return item == etag;
  });
}

}  // namespace assistant::server::web
