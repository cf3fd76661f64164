// OAuth2 (backends/oauth2/): the token and device answers as servers send
// them, the PKCE pieces (RFC 7636's own example), the device flow's polling
// (RFC 8628 3.5) and the access-token cache with rotation and revocation,
// all with a scripted HTTP post and no socket.
#include "backends/common/fs.h"
#include "backends/oauth2/access_tokens.h"
#include "backends/oauth2/device_flow.h"
#include "backends/oauth2/grant_file.h"
#include "backends/oauth2/pkce.h"
#include "backends/oauth2/replies.h"
#include "store_test_support.h"

#include <doctest/doctest.h>

#include <deque>
#include <sys/stat.h>

using namespace mf;
using namespace mf::oauth2;
using mf::test::TempDir;

namespace {

// Answers posts from a script, and keeps what was posted.
struct ScriptedServer {
    std::deque<std::string> answers;
    std::vector<std::pair<std::string, std::string>> posted; // url, form
    HttpPost post() {
        return [this](const std::string& url, const std::string& form) -> Result<HttpReply> {
            posted.emplace_back(url, form);
            REQUIRE(!answers.empty());
            std::string body = answers.front();
            answers.pop_front();
            return HttpReply{body.find("\"error\"") != std::string::npos ? 400L : 200L, body};
        };
    }
};

Settings test_settings() {
    Settings s = *provider_defaults("microsoft");
    s.token_url = "http://127.0.0.1:1/token";
    s.device_url = "http://127.0.0.1:1/devicecode";
    s.client_id = "cid";
    return s;
}

} // namespace

TEST_CASE("oauth2 replies: a token answer, with and without a new refresh token") {
    auto r = parse_token_reply(
        R"({"token_type":"Bearer","access_token":"AT","expires_in":3599,"refresh_token":"RT"})");
    REQUIRE(r);
    CHECK(r->access_token == "AT");
    CHECK(r->refresh_token == "RT");
    CHECK(r->expires_in == 3599);
    // Microsoft's older endpoints send numbers as strings; Google sends no refresh token on
    // refresh.
    r = parse_token_reply(R"({"token_type":"bearer","access_token":"AT2","expires_in":"3600"})");
    REQUIRE(r);
    CHECK(r->refresh_token.empty());
    CHECK(r->expires_in == 3600);
}

TEST_CASE("oauth2 replies: errors, and what is refused") {
    auto r = parse_token_reply(
        R"({"error":"invalid_grant","error_description":"AADSTS70008: expired"})");
    REQUIRE(r);
    CHECK(r->error == "invalid_grant");
    CHECK(r->error_description == "AADSTS70008: expired");
    for (const char* bad : {"", "not json", "[1]", R"({"token_type":"Bearer"})",
                            R"({"token_type":"mac","access_token":"AT"})"}) {
        CAPTURE(bad);
        auto p = parse_token_reply(bad);
        REQUIRE(!p);
        CHECK(p.error().kind == ErrorKind::protocol);
    }
    // A malformed answer is never quoted: it may hold a token.
    auto p = parse_token_reply(R"({"token_type":"mac","access_token":"SECRET-AT"})");
    CHECK(p.error().what.find("SECRET-AT") == std::string::npos);
}

TEST_CASE("oauth2 replies: a device grant, with RFC 8628's defaults") {
    auto g = parse_device_grant(
        R"({"device_code":"DC","user_code":"ABCD-EFGH","verification_uri":"https://microsoft.com/devicelogin","expires_in":900})");
    REQUIRE(g);
    CHECK(g->user_code == "ABCD-EFGH");
    CHECK(g->interval == 5);
    CHECK(g->expires_in == 900);
    g = parse_device_grant(
        R"({"device_code":"DC","user_code":"U","verification_url":"https://g.co/device","interval":7})");
    REQUIRE(g);
    CHECK(g->verification_uri == "https://g.co/device");
    CHECK(g->interval == 7);
    CHECK(!parse_device_grant(R"({"user_code":"U","verification_uri":"x"})"));
    auto refused = parse_device_grant(R"({"error":"invalid_client"})");
    REQUIRE(!refused);
    CHECK(refused.error().kind == ErrorKind::auth);
}

TEST_CASE("oauth2 forms: encoding and queries") {
    CHECK(form_encode({{"scope", "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"},
                       {"a", "b&c="}}) == "scope=https%3A%2F%2Foutlook.office.com%2FIMAP."
                                          "AccessAsUser.All%20offline_access&a=b%26c%3D");
    auto q = parse_query("code=4%2F0Ab&state=xy+z&&empty=&flag");
    CHECK(form_value(q, "code") == "4/0Ab");
    CHECK(form_value(q, "state") == "xy z");
    CHECK(form_value(q, "empty").empty());
    CHECK(form_value(q, "missing").empty());
}

TEST_CASE("pkce: RFC 7636 appendix B, and random verifiers") {
    CHECK(s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") ==
          "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    auto v = random_token(32);
    REQUIRE(v);
    CHECK(v->size() == 43);
    CHECK(
        v->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
        std::string::npos);
    CHECK(*v != *random_token(32));
    CHECK(base64url("f") == "Zg");
    CHECK(base64url("fo") == "Zm8");
    CHECK(base64url("foo") == "Zm9v");
}

TEST_CASE("pkce: the authorization URL and the redirect") {
    Settings s = *provider_defaults("google");
    s.client_id = "id.apps";
    auto url = authorization_url(s, {"http://127.0.0.1:4242/", "ST", "CH", "me@gmail.com"});
    CHECK(url.starts_with(
        "https://accounts.google.com/o/oauth2/v2/auth?client_id=id.apps&response_type=code"));
    for (const char* part :
         {"redirect_uri=http%3A%2F%2F127.0.0.1%3A4242%2F", "state=ST", "code_challenge=CH",
          "code_challenge_method=S256", "access_type=offline", "login_hint=me%40gmail.com"})
        CHECK(url.find(part) != std::string::npos);
    auto r = parse_redirect("GET /?state=ST&code=4%2Fabc&scope=x HTTP/1.1");
    CHECK(r.is_redirect);
    CHECK(r.code == "4/abc");
    CHECK(r.state == "ST");
    CHECK(!parse_redirect("GET /favicon.ico HTTP/1.1").is_redirect);
    CHECK(!parse_redirect("POST /?code=x HTTP/1.1").is_redirect);
    r = parse_redirect("GET /?error=access_denied&state=ST HTTP/1.1");
    CHECK(r.error == "access_denied");
}

TEST_CASE("oauth2 settings: endpoints are https, or http to 127.0.0.1 only") {
    CHECK(
        check_endpoint("https://login.microsoftonline.com/common/oauth2/v2.0/token", "token URL"));
    CHECK(check_endpoint("http://127.0.0.1:8080/token", "token URL"));
    CHECK(!check_endpoint("http://localhost:8080/token", "token URL"));
    CHECK(!check_endpoint("http://127.0.0.1.example.com/token", "token URL"));
    CHECK(!check_endpoint("ftp://x", "token URL"));
    CHECK(!provider_defaults("yahoo"));
    CHECK(provider_defaults("microsoft")->scope ==
          "https://outlook.office.com/IMAP.AccessAsUser.All offline_access");
    CHECK(provider_defaults("google")->scope == "https://mail.google.com/");
}

TEST_CASE("device flow: pending, slow_down adds 5 seconds for good, then tokens") {
    ScriptedServer server;
    server.answers = {
        R"({"device_code":"DC","user_code":"UC","verification_uri":"https://x/device","interval":2})",
        R"({"error":"authorization_pending"})", R"({"error":"slow_down"})",
        R"({"error":"authorization_pending"})",
        R"({"access_token":"AT","refresh_token":"RT","expires_in":3600})"};
    std::vector<long> sleeps;
    std::string shown;
    DeviceFlowHooks hooks{[&](const DeviceGrant& g) { shown = g.user_code; },
                          [&](std::chrono::seconds d) { sleeps.push_back(d.count()); }};
    auto t = run_device_flow(test_settings(), server.post(), hooks);
    REQUIRE(t);
    CHECK(t->refresh_token == "RT");
    CHECK(shown == "UC");
    CHECK(sleeps == std::vector<long>{2, 2, 7, 7});
    CHECK(server.posted[0].first == "http://127.0.0.1:1/devicecode");
    CHECK(server.posted[1].second.find(
              "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code") !=
          std::string::npos);
}

TEST_CASE("device flow: declined and expired end the login") {
    for (auto [answer, words] : {std::pair{R"({"error":"access_denied"})", "declined"},
                                 std::pair{R"({"error":"expired_token"})", "expired"}}) {
        ScriptedServer server;
        server.answers = {
            R"({"device_code":"DC","user_code":"UC","verification_uri":"https://x/device"})",
            R"({"error":"authorization_pending"})", answer};
        DeviceFlowHooks hooks{[](const DeviceGrant&) {}, [](std::chrono::seconds) {}};
        auto t = run_device_flow(test_settings(), server.post(), hooks);
        REQUIRE(!t);
        CHECK(t.error().kind == ErrorKind::auth);
        CHECK(t.error().what.find(words) != std::string::npos);
    }
}

TEST_CASE(
    "access tokens: cached until shortly before they expire; a rotated refresh token is stored") {
    TempDir tmp;
    const std::string path = tmp.path + "/oauth2/microsoft-me.json";
    Grant grant{"microsoft", "me", "RT1", "cid", "http://127.0.0.1:1/token", "s"};
    REQUIRE(save_grant(path, grant));
    ScriptedServer server;
    server.answers = {R"({"access_token":"AT1","expires_in":3600})",
                      R"({"access_token":"AT2","expires_in":3600,"refresh_token":"RT2"})"};
    auto now = std::chrono::steady_clock::time_point{};
    AccessTokens tokens(test_settings(), path, grant, server.post(), [&] { return now; });
    CHECK(*tokens.get() == "AT1");
    now += std::chrono::seconds(3000);
    CHECK(*tokens.get() == "AT1");
    now += std::chrono::seconds(301); // inside the last 5 minutes
    CHECK(*tokens.get() == "AT2");
    CHECK(server.posted.size() == 2);
    CHECK(server.posted[1].second.find("refresh_token=RT1") != std::string::npos);
    auto stored = load_grant(path);
    REQUIRE(stored);
    CHECK(stored->refresh_token == "RT2");
    CHECK(stored->client_id == "cid");
    struct stat st;
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(::stat((tmp.path + "/oauth2").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("access tokens: a long-lived one is refreshed in its last tenth; one the server said "
          "expired is never handed out again") {
    TempDir tmp;
    const std::string path = tmp.path + "/g.json";
    Grant grant{"microsoft", "me", "RT1", "cid", "http://127.0.0.1:1/token", "s"};
    ScriptedServer server;
    server.answers = {R"({"access_token":"AT1","expires_in":7200})",
                      R"({"access_token":"AT2","expires_in":7200})",
                      R"({"access_token":"AT3","expires_in":7200})"};
    auto now = std::chrono::steady_clock::time_point{};
    AccessTokens tokens(test_settings(), path, grant, server.post(), [&] { return now; });
    CHECK(*tokens.get() == "AT1");
    now += std::chrono::seconds(6400); // 800 s left: more than a tenth
    CHECK(*tokens.get() == "AT1");
    now += std::chrono::seconds(100); // 700 s left: inside the last tenth, not the last 5 minutes
    CHECK(*tokens.get() == "AT2");
    tokens.expired(); // AccessTokenExpired, with most of AT2's life left by our clock
    CHECK(*tokens.get() == "AT3");
    CHECK(*tokens.get() == "AT3");
    CHECK(server.posted.size() == 3);
}

TEST_CASE("access tokens: a revoked grant is an account-wide login failure naming the account") {
    TempDir tmp;
    ScriptedServer server;
    server.answers = {R"({"error":"invalid_grant","error_description":"revoked"})"};
    AccessTokens tokens(test_settings(), tmp.path + "/g.json",
                        Grant{"microsoft", "me@x.org", "RT", "", "", ""}, server.post());
    auto t = tokens.get();
    REQUIRE(!t);
    CHECK(t.error().kind == ErrorKind::auth);
    CHECK(t.error().scope == Scope::account);
    CHECK(t.error().what.find("me@x.org") != std::string::npos);
    CHECK(t.error().what.find("RT") == std::string::npos);
}

TEST_CASE("grant file: refused when others may read it, named by provider and account") {
    TempDir tmp;
    const std::string path = tmp.path + "/g.json";
    REQUIRE(save_grant(path, Grant{"google", "me", "RT", "", "", ""}));
    ::chmod(path.c_str(), 0644);
    auto g = load_grant(path);
    REQUIRE(!g);
    CHECK(g.error().kind == ErrorKind::usage);
    CHECK(load_grant(tmp.path + "/none.json").error().kind == ErrorKind::not_found);
    CHECK(*default_grant_path("/c", "microsoft", "me@x.org") ==
          "/c/mailferry/oauth2/microsoft-me@x.org.json");
    CHECK(!default_grant_path("/c", "microsoft", "../etc"));
    CHECK(!default_grant_path("/c", "microsoft", "a/b"));
}
