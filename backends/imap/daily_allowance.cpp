// Gmail's daily download limit. Google publishes "Download via IMAP:
// 2,500 MB per day" for an account ("Gmail bandwidth limits",
// https://support.google.com/a/answer/1071518); past it the account is
// locked for IMAP for up to a day (FETCH answered "NO [OVERQUOTA] Account
// exceeded command or bandwidth limits.", ljmerza/ha-email-sensor issue 16,
// mailcow/mailcow-dockerized issue 1554). A backup keeps to 2,000 MB: the
// limit counts every IMAP client of the account (a phone, a mail program)
// and more than the message bodies, and Microsoft's own migration from
// Google Workspace stops at 2.0 GB a day for the same reason
// (MicrosoftDocs/OfficeDocs-Exchange issue 1100). A 20 GB first backup run
// nightly thus completes in about ten nights.
#include "backends/imap/source.h"

namespace mf::imap {

namespace {

constexpr std::uint64_t k_gmail_daily_bytes = 2000ull * 1000 * 1000;

} // namespace

std::optional<std::uint64_t> ImapSource::daily_download_allowance() const {
    // Gmail is known by X-GM-EXT-1 (https://developers.google.com/gmail/imap/imap-extensions),
    // never by its host name.
    if (m_session->has("X-GM-EXT-1")) return k_gmail_daily_bytes;
    return std::nullopt;
}

} // namespace mf::imap
