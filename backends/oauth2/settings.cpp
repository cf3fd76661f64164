#include "backends/oauth2/settings.h"

namespace mf::oauth2 {

namespace {

// Microsoft identity platform, "common" tenant (work, school and personal
// accounts), and the scope Exchange Online's IMAP wants: "How to
// authenticate an IMAP, POP or SMTP connection using OAuth" (Microsoft
// Learn, Exchange legacy protocols). offline_access asks for a refresh token.
//
// The client id is Thunderbird's public one (OAuth2Providers.sys.mjs in
// comm-central), which needs no secret and which Microsoft 365 tenants have
// often already approved. It is widely reused by peers for this reason
// (email-oauth2-proxy's README and its issue #267, himalaya issue #555,
// UvA-FNWI/M365-IMAP). An organisation that wants its own name on the
// consent screen, or whose tenant blocks Thunderbird, registers its own app
// and sets --oauth2-client-id (man page, OAUTH2).
Settings microsoft() {
    Settings s;
    s.provider = "microsoft";
    s.flow = Flow::device;
    s.token_url = "https://login.microsoftonline.com/common/oauth2/v2.0/token";
    s.device_url = "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode";
    s.auth_url = "https://login.microsoftonline.com/common/oauth2/v2.0/authorize";
    s.client_id = "9e5f94bc-e8a4-4e73-b8be-63364c29d753";
    s.scope = "https://outlook.office.com/IMAP.AccessAsUser.All offline_access";
    return s;
}

// Google's OAuth 2.0 for desktop apps ("OAuth 2.0 for Mobile & Desktop
// Apps": loopback IP redirect, PKCE) and the full-mail scope IMAP needs
// (Gmail's "IMAP, POP, and SMTP" guide). No client id is built in: Google
// ties a client to the project that registered it and its consent-screen
// verification, and peers (mutt_oauth2.py, getmail6, the cyrus-sasl-xoauth2
// README) all have the user register a "Desktop app" client. Its secret is
// not confidential for such clients, but Google's token endpoint wants it.
Settings google() {
    Settings s;
    s.provider = "google";
    s.flow = Flow::code;
    s.token_url = "https://oauth2.googleapis.com/token";
    s.device_url = "https://oauth2.googleapis.com/device/code";
    s.auth_url = "https://accounts.google.com/o/oauth2/v2/auth";
    s.scope = "https://mail.google.com/";
    return s;
}

} // namespace

std::optional<Settings> provider_defaults(std::string_view name) {
    if (name == "microsoft") return microsoft();
    if (name == "google") return google();
    return std::nullopt;
}

std::string known_providers() {
    return "microsoft, google";
}

Status check_endpoint(const std::string& url, const std::string& what) {
    if (url.starts_with("https://") && url.size() > 8) return {};
    if (url.starts_with("http://127.0.0.1:") || url.starts_with("http://127.0.0.1/")) return {};
    return fail(ErrorKind::usage, Scope::account,
                "the OAuth2 " + what +
                    " must be an https:// URL (http:// only to 127.0.0.1): " + url);
}

} // namespace mf::oauth2
