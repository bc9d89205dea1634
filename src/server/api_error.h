// Errors that the API returns to its clients in OpenAI's shape:
//   {"error": {"message": "...", "type": "...", "param": "..." | null, "code": "..." | null}}
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace utter::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string type, std::string param = {}, std::string code = {})
      : std::runtime_error(message),
        status_(status),
        type_(std::move(type)),
        param_(std::move(param)),
        code_(std::move(code)) {}

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string type_;
  std::string param_;
  std::string code_;
};

// 400 for a request the client must change; `param` names the field at fault.
inline ApiError invalid_request(std::string message, std::string param = {}, std::string code = {}) {
  return ApiError(400, std::move(message), "invalid_request_error", std::move(param), std::move(code));
}

// The error object with empty `param` and `code` written as null, as OpenAI sends them.
inline nlohmann::json error_body(const std::string& message, const std::string& type, const std::string& param = {},
                                 const std::string& code = {}) {
  nlohmann::json error = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) error["param"] = param;
  if (!code.empty()) error["code"] = code;
  return {{"error", error}};
}

inline nlohmann::json error_body(const ApiError& error) {
  return error_body(error.what(), error.type(), error.param(), error.code());
}

}  // namespace utter::server
