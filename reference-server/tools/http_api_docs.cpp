// Renders docs/http-api.md's reference part (every route, the agent's
// built-in tools, every schema) from the server's route table, through the same OpenAPI document the server
// serves at /openapi.json, and keeps the document true to it:
//
//   http_api_docs --check docs/http-api.md   exit 1 when the document differs
//   http_api_docs --write docs/http-api.md   rewrite the generated part
//
// The generated part sits between two marker lines
// (tools/generated_section.hpp); the rest is prose kept by hand.
#include <algorithm>
#include <cctype>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "assistant/core.hpp"
#include "assistant/mailer.hpp"
#include "generated_section.hpp"
#include "logger.hpp"
#include "server.hpp"

namespace {

using assistant::Json;
using assistant::server::Route;

const char kRefPrefix[] = "#/components/schemas/";

std::string Anchor(const std::string& name) {
  std::string a;
  for (char c : name) a += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return a;
}

std::string SchemaLink(const std::string& ref) {
  const std::string name = ref.substr(sizeof(kRefPrefix) - 1);
  return "[" + name + "](#" + Anchor(name) + ")";
}

std::string Code(const std::string& s) { return "`" + s + "`"; }

// One schema in a few words: a link for a named schema, the type with its
// format, an enum's values, an array's items.
std::string TypeOf(const Json& s) {
  if (s.contains("$ref")) return SchemaLink(s["$ref"].get<std::string>());
  if (s.contains("const")) return Code(s["const"].dump());
  if (s.contains("enum")) {
    std::string out = "one of ";
    for (size_t i = 0; i < s["enum"].size(); ++i) {
      out += (i ? ", " : "") + Code(s["enum"][i].dump());
    }
    return out;
  }
  if (s.contains("oneOf")) {
    std::string out;
    for (const auto& alt : s["oneOf"]) out += (out.empty() ? "" : " or ") + TypeOf(alt);
    return out;
  }
  std::string type;
  if (s.contains("type")) {
    const Json& t = s["type"];
    if (t.is_array()) {
      for (const auto& x : t) type += (type.empty() ? "" : " or ") + x.get<std::string>();
    } else {
      type = t.get<std::string>();
    }
  }
  if (type == "array" && s.contains("items")) type = "array of " + TypeOf(s["items"]);
  if (s.contains("format")) type += " (" + s["format"].get<std::string>() + ")";
  return type.empty() ? "any" : type;
}

// Bounds a client must respect, in words.
std::string Limits(const Json& s) {
  std::string out;
  const auto add = [&](const char* key, const char* what) {
    if (s.contains(key)) out += (out.empty() ? "" : ", ") + std::string(what) + " " + s[key].dump();
  };
  add("minLength", "length ≥");
  add("maxLength", "length ≤");
  add("minimum", "≥");
  add("maximum", "≤");
  add("minItems", "items ≥");
  add("maxItems", "items ≤");
  if (s.contains("description")) {
    out += (out.empty() ? "" : "; ") + s["description"].get<std::string>();
  }
  return out;
}

// A table of an object schema's fields; nested objects one level down by
// dotted name.
void Fields(const Json& s, const std::string& prefix, std::string& out) {
  std::set<std::string> required;
  if (s.contains("required")) {
    for (const auto& r : s["required"]) required.insert(r.get<std::string>());
  }
  for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it) {
    const Json& f = it.value();
    const bool nested = f.contains("properties") && !f["properties"].empty();
    out += "| " + Code(prefix + it.key()) + " | " + (nested ? "object" : TypeOf(f)) + " | " +
           (required.count(it.key()) ? "yes" : "") + " | " + Limits(f) + " |\n";
    if (nested) Fields(f, prefix + it.key() + ".", out);
  }
}

std::string Credential(const Json& op) {
  if (!op.contains("security") || op["security"].empty()) return "none";
  return "a bearer access token or API key, or the `access_token` cookie";
}

void RenderRoute(const Route& r, const Json& op, std::string& out) {
  out += "### " + Code(r.method + " " + r.path) + "\n\n";
  out += op["summary"].get<std::string>() + ".\n\n";
  out += "- Credential: " + Credential(op) + "\n";
  if (op.contains("parameters")) {
    std::string path, query;
    for (const auto& p : op["parameters"]) {
      std::string item = Code(p["name"].get<std::string>());
      if (p["schema"]["type"] != "string") item += " (" + TypeOf(p["schema"]) + ")";
      if (p.contains("x-rest-of-path")) item += " (the rest of the path, `/` included)";
      std::string& into = p["in"] == "path" ? path : query;
      into += (into.empty() ? "" : ", ") + item;
    }
    if (!path.empty()) out += "- Path: " + path + "\n";
    if (!query.empty()) out += "- Query (each optional): " + query + "\n";
  }
  if (op.contains("requestBody")) {
    const Json& body = op["requestBody"];
    out += std::string(body["required"].get<bool>() ? "- Body (JSON, required): "
                                                    : "- Body (a JSON object; none reads as `{}`): ") +
           TypeOf(body["content"]["application/json"]["schema"]) + "\n";
  }
  for (auto it = op["responses"].begin(); it != op["responses"].end(); ++it) {
    if (it.key()[0] != '2' && it.key() != "default") continue;
    std::string line = "- " + (it.key() == "default" ? std::string("Answer") : it.key()) + ": ";
    const Json& answer = it.value();
    if (!answer.contains("content")) {
      line += answer["description"].get<std::string>();
    } else {
      std::string kinds;
      for (auto c = answer["content"].begin(); c != answer["content"].end(); ++c) {
        const Json& schema = c.value()["schema"];
        std::string kind = Code(c.key());
        kind += " " + (schema.contains("description") ? schema["description"].get<std::string>()
                                                      : TypeOf(schema));
        kinds += (kinds.empty() ? "" : "; or ") + kind;
      }
      line += kinds;
    }
    out += line + "\n";
  }
  // 414, 429, 431 and 500 can answer any route; the prose says so once.
  static const std::set<std::string> kAnyRoute = {"414", "429", "431", "500"};
  std::string errors;
  for (auto it = op["responses"].begin(); it != op["responses"].end(); ++it) {
    if (it.key()[0] == '2' || it.key() == "default" || kAnyRoute.count(it.key())) continue;
    errors += (errors.empty() ? "" : "; ") + it.key() + " " +
              it.value()["description"].get<std::string>();
  }
  if (!errors.empty()) out += "- Errors: " + errors + "\n";
  out += "\n";
}

// The tools a fresh core's agent offers the model: the built-in ones.
void RenderTools(assistant::Assistant& core, std::string& out) {
  out += "## The agent's built-in tools\n\n";
  out += "What the agent can do with the caller's tasks, as offered to the model (an\n"
         "embedder can add its own). Each acts with the caller's scopes.\n\n";
  for (const auto& t : core.agent().tools().Specs()) {
    out += "### " + Code(t.name) + "\n\n" + t.description + "\n\n";
    if (t.parameters.contains("properties") && !t.parameters["properties"].empty()) {
      out += "| argument | type | required | limits, notes |\n|---|---|---|---|\n";
      Fields(t.parameters, "", out);
      out += "\n";
    }
  }
}

std::string Generated(assistant::Assistant& core, const std::vector<Route>& routes,
                      const Json& doc) {
  std::string out = "\n## Routes\n";
  std::vector<std::string> tags;
  for (const Route& r : routes) {
    if (std::find(tags.begin(), tags.end(), r.doc.tag) == tags.end()) tags.push_back(r.doc.tag);
  }
  for (const std::string& tag : tags) {
    out += "\n## " + Code(tag) + "\n\n";
    for (const Route& r : routes) {
      if (r.doc.tag != tag) continue;
      std::string method;
      for (char c : r.method) method += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      RenderRoute(r, doc["paths"][r.path][method], out);
    }
  }
  RenderTools(core, out);
  out += "## Schemas\n\n";
  out += "Field tables list every field the server reads or writes; \"required\" means\n"
         "always present in an answer, or needed in a request.\n\n";
  const Json& schemas = doc["components"]["schemas"];
  for (auto it = schemas.begin(); it != schemas.end(); ++it) {
    out += "### " + it.key() + "\n\n";
    const Json& s = it.value();
    if (s.contains("properties") && !s["properties"].empty()) {
      out += "| field | type | required | limits, notes |\n|---|---|---|---|\n";
      Fields(s, "", out);
    } else {
      out += TypeOf(s) + (Limits(s).empty() ? "" : " (" + Limits(s) + ")") + "\n";
    }
    out += "\n";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  // The route table needs a server, which needs a core: an in-memory one,
  // never served.
  assistant::Options options;
  options.database_url = "sqlite::memory:";
  options.auth.jwt_secret = std::string(32, 'd');
  options.auth.password_hash.memory_kib = 64;
  options.auth.password_hash.iterations = 1;
  options.mailer = std::make_shared<assistant::MemoryMailer>();
  auto core = assistant::Assistant::Open(options);
  if (!core.ok()) {
    std::cerr << "http_api_docs: " << core.status().message() << "\n";
    return 1;
  }
  assistant::server::ServerConfig config;
  assistant::server::Logger logger(assistant::server::LogFormat::kText, -1);
  assistant::server::HttpServer server(**core, config, logger);
  const std::string generated = Generated(**core, server.routes(), Json::parse(server.openapi()));
  return assistant::tools::CheckOrWriteGeneratedSection("http_api_docs", argc, argv, generated,
                                                        "the server's route table");
}
