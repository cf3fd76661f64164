#include "backends/imap/reader.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace mf::imap {

namespace {

constexpr std::size_t k_buffer_size = 64 * 1024;

std::unexpected<Failure> protocol_error(const std::string& what) {
    return fail(ErrorKind::protocol, Scope::session, "IMAP: " + what);
}

// Liberal on purpose: RFC atoms exclude more (%, *, ], \, controls), but
// servers put \Seen, \* and "]" where atoms stand, and nothing is lost by
// taking them. Only the bytes that delimit other tokens end an atom.
bool is_atom_char(int c) {
    return c >= 0 && c != ' ' && c != '(' && c != ')' && c != '{' && c != '"' && c != '\r' &&
           c != '\n';
}

bool is_status_word(std::string_view word) {
    return iequals(word, "OK") || iequals(word, "NO") || iequals(word, "BAD") ||
           iequals(word, "PREAUTH") || iequals(word, "BYE");
}

std::string to_upper(std::string text) {
    for (char& c : text) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return text;
}

Value make_atom(std::string text) {
    Value value;
    value.text = std::move(text);
    return value;
}

Value make_value(Value::Type type, std::string text = {}) {
    Value value;
    value.type = type;
    value.text = std::move(text);
    return value;
}

} // namespace

namespace detail {

// Bytes of one response, either from the connection (through a fixed buffer)
// or from a string (a response code being tokenised on its own). Counts the
// bytes a response keeps in memory and refuses to go past the limit.
class Input {
  public:
    explicit Input(ByteStream& stream)
        // Not zero-filled: over TLS a read brings at most one 16 KiB record,
        // so most of the buffer is never touched and never becomes resident.
        : m_stream(&stream), m_storage(std::make_unique_for_overwrite<char[]>(k_buffer_size)),
          m_data(m_storage.get()) {}
    explicit Input(std::string_view text) : m_data(text.data()), m_end(text.size()) {}

    void start_response(std::size_t limit) {
        m_used = 0;
        m_limit = limit;
    }

    // The next byte (0..255), or -1 once failed(); see error().
    int peek() {
        if (m_failure) return -1;
        if (m_used >= m_limit) {
            m_failure = protocol_error("response longer than " + std::to_string(m_limit) + " bytes")
                            .error();
            return -1;
        }
        if (m_pos == m_end && !fill()) return -1;
        return static_cast<unsigned char>(m_data[m_pos]);
    }
    void skip() {
        ++m_pos;
        ++m_used;
    }

    bool failed() const { return m_failure.has_value(); }
    std::unexpected<Failure> error() const { return std::unexpected(*m_failure); }
    void fail_with(const Failure& failure) {
        if (!m_failure) m_failure = failure;
    }
    std::size_t position() const { return m_pos; } // offset into a string input

    // Accounts for a literal that is about to be kept in memory.
    Status reserve(std::uint64_t size) {
        if (size > m_limit - m_used) {
            return protocol_error("literal of " + std::to_string(size) +
                                  " bytes exceeds the response limit of " +
                                  std::to_string(m_limit) + " bytes");
        }
        m_used += static_cast<std::size_t>(size);
        return {};
    }

    // Hands the next `size` bytes to `sink` in pieces as they sit in the
    // buffer, so a claimed literal of any size passes through 64 KiB.
    template <class Sink> Status take(std::uint64_t size, Sink&& sink) {
        while (size > 0) {
            if (m_failure) return error();
            if (m_pos == m_end && !fill()) return error();
            const auto piece =
                static_cast<std::size_t>(std::min<std::uint64_t>(size, m_end - m_pos));
            Status status = sink(std::string_view(m_data + m_pos, piece));
            m_pos += piece;
            size -= piece;
            if (!status) {
                fail_with(status.error());
                return status;
            }
        }
        return {};
    }

    std::string take_buffered() {
        std::string rest(m_data + m_pos, m_end - m_pos);
        m_pos = m_end;
        return rest;
    }

  private:
    bool fill() {
        if (m_stream == nullptr) {
            m_failure = protocol_error("unexpected end of data").error();
            return false;
        }
        auto got = m_stream->read_some(m_storage.get(), k_buffer_size);
        if (!got) {
            m_failure = got.error();
        } else if (*got == 0 || *got > k_buffer_size) {
            // A stream that reports no progress would make us spin forever.
            m_failure =
                Failure{ErrorKind::connect, Scope::session, "IMAP: connection returned no data"};
        } else {
            m_pos = 0;
            m_end = *got;
        }
        return !m_failure;
    }

    ByteStream* m_stream = nullptr;
    std::unique_ptr<char[]> m_storage;
    const char* m_data = nullptr;
    std::size_t m_pos = 0;
    std::size_t m_end = 0;
    std::size_t m_used = 0;
    std::size_t m_limit = std::numeric_limits<std::size_t>::max();
    std::optional<Failure> m_failure;
};

} // namespace detail

namespace {

using detail::Input;

// Where a token sequence ends: at the end of the line, or at the "]" that
// closes a response code such as [PERMANENTFLAGS (\Seen \*)].
enum class Mode { line, code };

class Lexer {
  public:
    Lexer(Input& in, const ReaderLimits& limits, LiteralHandler* handler, Mode mode)
        : m_in(in), m_limits(limits), m_handler(handler), m_mode(mode) {}

    Result<std::vector<Value>> items(std::string first_atom);
    Result<std::string> word();
    Result<std::string> rest_of_line();
    Status expect_space();

  private:
    Result<Value> token(int c, const std::vector<Value>& siblings);
    Result<Value> atom(std::string text);
    Status bracket(std::string& text);
    Result<Value> quoted();
    Result<Value> literal(const std::vector<Value>& siblings);
    Result<std::uint64_t> literal_size();
    Result<Value> literal_data(std::uint64_t size, std::string_view preceding);
    Status end_of_line();

    Input& m_in;
    const ReaderLimits& m_limits;
    LiteralHandler* m_handler;
    Mode m_mode;
};

// Tokens up to the end of the line (or of the code). Lists are built with an
// explicit stack rather than recursion so that depth costs no C++ stack.
Result<std::vector<Value>> Lexer::items(std::string first_atom) {
    std::vector<std::vector<Value>> open(1); // open[0]: top level; one more per '('
    if (!first_atom.empty()) {
        auto value = atom(std::move(first_atom));
        if (!value) return std::unexpected(value.error());
        open.back().push_back(std::move(*value));
    }
    for (;;) {
        const int c = m_in.peek();
        if (c < 0) return m_in.error();
        if (c == ' ') {
            m_in.skip();
        } else if (c == '(') {
            m_in.skip();
            if (open.size() > m_limits.max_depth) {
                return protocol_error("lists nested deeper than " +
                                      std::to_string(m_limits.max_depth));
            }
            open.emplace_back();
        } else if (c == ')') {
            m_in.skip();
            if (open.size() == 1) return protocol_error("unbalanced ')'");
            Value list = make_value(Value::Type::list);
            list.items = std::move(open.back());
            open.pop_back();
            open.back().push_back(std::move(list));
        } else if ((m_mode == Mode::line && (c == '\r' || c == '\n')) ||
                   (m_mode == Mode::code && c == ']')) {
            if (open.size() > 1) return protocol_error("unclosed '('");
            if (m_mode == Mode::code) {
                m_in.skip();
            } else if (auto status = end_of_line(); !status) {
                return std::unexpected(status.error());
            }
            return std::move(open.front());
        } else {
            auto value = token(c, open.back());
            if (!value) return std::unexpected(value.error());
            open.back().push_back(std::move(*value));
        }
    }
}

Result<Value> Lexer::token(int c, const std::vector<Value>& siblings) {
    if (c == '"') return quoted();
    if (c == '{') return literal(siblings);
    if (c == '~') { // literal8 "~{n}", or an atom such as ~peter/mail
        m_in.skip();
        const int next = m_in.peek();
        if (next < 0) return m_in.error();
        if (next == '{') return literal(siblings);
        return atom("~");
    }
    return atom({});
}

Result<Value> Lexer::atom(std::string text) {
    for (;;) {
        const int c = m_in.peek();
        if (c < 0) return m_in.error();
        if (c == '[') {
            if (auto status = bracket(text); !status) return std::unexpected(status.error());
            continue;
        }
        if (!is_atom_char(c) || (m_mode == Mode::code && c == ']')) break;
        text += static_cast<char>(c);
        m_in.skip();
    }
    if (text.empty()) return protocol_error("unexpected character in response");
    if (iequals(text, "NIL")) return make_value(Value::Type::nil);
    return make_atom(std::move(text));
}

// A section such as BODY[HEADER.FIELDS (MESSAGE-ID)] runs to its matching
// "]", spaces and parentheses included, so the whole item name is one atom.
Status Lexer::bracket(std::string& text) {
    std::size_t depth = 0;
    do {
        const int c = m_in.peek();
        if (c < 0) return m_in.error();
        if (c == '\r' || c == '\n') return protocol_error("unterminated '[' in atom");
        if (c == '[') ++depth;
        if (c == ']') --depth;
        text += static_cast<char>(c);
        m_in.skip();
    } while (depth > 0);
    return {};
}

Result<Value> Lexer::quoted() {
    m_in.skip(); // the opening quote
    std::string text;
    for (;;) {
        int c = m_in.peek();
        if (c < 0) return m_in.error();
        if (c == '"') {
            m_in.skip();
            return make_value(Value::Type::string, std::move(text));
        }
        if (c == '\\') { // only \\ and \" are defined; take any escaped byte as itself
            m_in.skip();
            c = m_in.peek();
            if (c < 0) return m_in.error();
        }
        if (c == '\r' || c == '\n') return protocol_error("unterminated quoted string");
        text += static_cast<char>(c);
        m_in.skip();
    }
}

Result<Value> Lexer::literal(const std::vector<Value>& siblings) {
    if (m_mode == Mode::code) return protocol_error("literal inside a response code");
    m_in.skip(); // '{'
    auto size = literal_size();
    if (!size) return std::unexpected(size.error());
    const bool after_atom = !siblings.empty() && siblings.back().type == Value::Type::atom;
    return literal_data(*size, after_atom ? std::string_view(siblings.back().text) : "");
}

// "{123}" CRLF, also the non-synchronising "{123+}" of LITERAL+.
Result<std::uint64_t> Lexer::literal_size() {
    std::uint64_t size = 0;
    bool any_digit = false;
    for (int c = m_in.peek(); c >= '0' && c <= '9'; c = m_in.peek()) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (size > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
            return protocol_error("literal size does not fit in 64 bits");
        }
        size = size * 10 + digit;
        any_digit = true;
        m_in.skip();
    }
    if (m_in.failed()) return m_in.error();
    if (m_in.peek() == '+') m_in.skip();
    if (m_in.failed()) return m_in.error();
    if (!any_digit || m_in.peek() != '}') return protocol_error("malformed literal size");
    m_in.skip();
    if (auto status = end_of_line(); !status) return std::unexpected(status.error());
    return size;
}

Result<Value> Lexer::literal_data(std::uint64_t size, std::string_view preceding) {
    if (m_handler != nullptr && m_handler->claim(preceding, size)) {
        auto status =
            m_in.take(size, [this](std::string_view bytes) { return m_handler->chunk(bytes); });
        if (status) status = m_handler->end();
        if (!status) return std::unexpected(status.error());
        Value value = make_value(Value::Type::streamed);
        value.streamed_size = size;
        return value;
    }
    // Checked before anything is allocated: the size is the server's word.
    if (auto status = m_in.reserve(size); !status) return std::unexpected(status.error());
    std::string text;
    text.reserve(static_cast<std::size_t>(size));
    auto status = m_in.take(size, [&text](std::string_view bytes) -> Status {
        text.append(bytes);
        return {};
    });
    if (!status) return std::unexpected(status.error());
    return make_value(Value::Type::string, std::move(text));
}

// CRLF, or a bare LF (some servers and test tools send those).
Status Lexer::end_of_line() {
    int c = m_in.peek();
    if (c == '\r') {
        m_in.skip();
        c = m_in.peek();
    }
    if (c < 0) return m_in.error();
    if (c != '\n') return protocol_error("expected end of line");
    m_in.skip();
    return {};
}

// Atom characters up to a '[': a tag, or a word that may be a status.
Result<std::string> Lexer::word() {
    std::string text;
    for (int c = m_in.peek(); is_atom_char(c) && c != '['; c = m_in.peek()) {
        text += static_cast<char>(c);
        m_in.skip();
    }
    if (m_in.failed()) return m_in.error();
    return text;
}

Result<std::string> Lexer::rest_of_line() {
    std::string text;
    for (int c = m_in.peek(); c != '\n'; c = m_in.peek()) {
        if (c < 0) return m_in.error();
        text += static_cast<char>(c);
        m_in.skip();
    }
    m_in.skip();
    if (!text.empty() && text.back() == '\r') text.pop_back();
    return text;
}

Status Lexer::expect_space() {
    if (m_in.peek() != ' ') {
        if (m_in.failed()) return m_in.error();
        return protocol_error("expected a space");
    }
    while (m_in.peek() == ' ')
        m_in.skip();
    if (m_in.failed()) return m_in.error();
    return {};
}

// "[UIDVALIDITY 3857529045] UIDs valid": the code is tokenised on its own;
// if that fails (a server's free-form brackets) the whole line stays text.
void split_code(Response& response, std::string_view line, const ReaderLimits& limits) {
    while (!line.empty() && line.front() == ' ')
        line.remove_prefix(1);
    if (!line.empty() && line.front() == '[') {
        Input in(line.substr(1));
        Lexer lexer(in, limits, nullptr, Mode::code);
        if (auto code = lexer.items({})) {
            std::string_view rest = line.substr(1 + in.position());
            while (!rest.empty() && rest.front() == ' ')
                rest.remove_prefix(1);
            response.code = std::move(*code);
            response.text = rest;
            return;
        }
    }
    response.text = line;
}

// After the tag or "*": is the word a status, and does the line go on like one?
Result<bool> is_status(Input& in, std::string_view word) {
    const int c = in.peek();
    if (c < 0) return in.error();
    return is_status_word(word) && (c == ' ' || c == '[' || c == '\r' || c == '\n');
}

Result<Response> status_response(Response response, std::string word, Lexer& lexer,
                                 const ReaderLimits& limits) {
    response.status = to_upper(std::move(word));
    auto line = lexer.rest_of_line();
    if (!line) return std::unexpected(line.error());
    split_code(response, *line, limits);
    return response;
}

Result<Response> read_continuation(Input& in, Lexer& lexer) {
    in.skip(); // '+'
    if (in.peek() == ' ') in.skip();
    auto text = lexer.rest_of_line();
    if (!text) return std::unexpected(text.error());
    Response response;
    response.kind = Response::Kind::continuation;
    response.text = std::move(*text);
    return response;
}

Result<Response> read_untagged(Input& in, Lexer& lexer, const ReaderLimits& limits) {
    in.skip(); // '*'
    if (auto status = lexer.expect_space(); !status) return std::unexpected(status.error());
    auto word = lexer.word();
    if (!word) return std::unexpected(word.error());
    auto status = is_status(in, *word);
    if (!status) return std::unexpected(status.error());
    Response response;
    if (*status) return status_response(std::move(response), std::move(*word), lexer, limits);
    auto items = lexer.items(std::move(*word));
    if (!items) return std::unexpected(items.error());
    response.items = std::move(*items);
    return response;
}

Result<Response> read_tagged(Input& in, Lexer& lexer, const ReaderLimits& limits) {
    auto tag = lexer.word();
    if (!tag) return std::unexpected(tag.error());
    if (tag->empty()) return protocol_error("response does not start with a tag, '*' or '+'");
    if (auto space = lexer.expect_space(); !space) return std::unexpected(space.error());
    auto word = lexer.word();
    if (!word) return std::unexpected(word.error());
    auto status = is_status(in, *word);
    if (!status) return std::unexpected(status.error());
    if (!*status) return protocol_error("tagged response " + *tag + " is not OK, NO or BAD");
    Response response;
    response.kind = Response::Kind::tagged;
    response.tag = std::move(*tag);
    return status_response(std::move(response), std::move(*word), lexer, limits);
}

Result<Response> read_response(Input& in, Lexer& lexer, const ReaderLimits& limits) {
    const int c = in.peek();
    if (c < 0) return in.error();
    if (c == '+') return read_continuation(in, lexer);
    if (c == '*') return read_untagged(in, lexer, limits);
    return read_tagged(in, lexer, limits);
}

} // namespace

ResponseReader::ResponseReader(ByteStream& in, ReaderLimits limits)
    : m_input(std::make_unique<detail::Input>(in)), m_limits(limits) {}

ResponseReader::~ResponseReader() = default;

Result<Response> ResponseReader::read(LiteralHandler* handler) {
    // After any failure the stream position is unknown: stay failed.
    if (m_input->failed()) return m_input->error();
    m_input->start_response(m_limits.max_response);
    Lexer lexer(*m_input, m_limits, handler, Mode::line);
    auto response = read_response(*m_input, lexer, m_limits);
    if (!response) m_input->fail_with(response.error());
    return response;
}

std::string ResponseReader::take_buffered() {
    return m_input->take_buffered();
}

} // namespace mf::imap
