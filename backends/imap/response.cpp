#include "backends/imap/response.h"

#include <limits>

namespace mf::imap {

namespace {

char ascii_upper(char c) {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

template <class Int> std::optional<Int> parse_digits(const Value& value) {
    if (value.type != Value::Type::atom || value.text.empty()) return std::nullopt;
    Int result = 0;
    for (char c : value.text) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto digit = static_cast<Int>(c - '0');
        if (result > (std::numeric_limits<Int>::max() - digit) / 10) return std::nullopt;
        result = static_cast<Int>(result * 10 + digit);
    }
    return result;
}

void append_escaped(std::string& out, std::string_view text) {
    static constexpr char k_hex[] = "0123456789abcdef";
    out += '"';
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20 || byte >= 0x7f) {
            out += "\\x";
            out += k_hex[byte >> 4];
            out += k_hex[byte & 15];
        } else {
            out += c;
        }
    }
    out += '"';
}

void append_values(std::string& out, const std::vector<Value>& values) {
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i != 0) out += ' ';
        out += describe(values[i]);
    }
}

} // namespace

std::optional<std::uint32_t> to_u32(const Value& value) {
    return parse_digits<std::uint32_t>(value);
}

std::optional<std::uint64_t> to_u64(const Value& value) {
    return parse_digits<std::uint64_t>(value);
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_upper(a[i]) != ascii_upper(b[i])) return false;
    }
    return true;
}

bool is_atom(const Value& value, std::string_view upper_case_name) {
    return value.type == Value::Type::atom && iequals(value.text, upper_case_name);
}

std::optional<std::string> as_string(const Value& value) {
    if (value.type == Value::Type::atom || value.type == Value::Type::string) return value.text;
    return std::nullopt;
}

std::string describe(const Value& value) {
    std::string out;
    switch (value.type) {
    case Value::Type::atom:
        return value.text;
    case Value::Type::string:
        append_escaped(out, value.text);
        return out;
    case Value::Type::nil:
        return "NIL";
    case Value::Type::list:
        out += '(';
        append_values(out, value.items);
        out += ')';
        return out;
    case Value::Type::streamed:
        return "{streamed " + std::to_string(value.streamed_size) + "}";
    }
    return out;
}

std::string describe(const Response& response) {
    std::string out;
    switch (response.kind) {
    case Response::Kind::tagged:
        out = response.tag;
        break;
    case Response::Kind::untagged:
        out = "*";
        break;
    case Response::Kind::continuation:
        out = "+";
        break;
    }
    if (!response.status.empty()) out += " " + response.status;
    if (!response.code.empty()) {
        out += " [";
        append_values(out, response.code);
        out += ']';
    }
    if (!response.items.empty()) {
        out += " [";
        append_values(out, response.items);
        out += ']';
    }
    if (!response.status.empty() || response.kind == Response::Kind::continuation) {
        out += ' ';
        append_escaped(out, response.text);
    }
    return out;
}

} // namespace mf::imap
