// Which folders a command works on (--folder and --exclude globs) and what
// they are called on the target (--map SRC=DST).
#pragma once

#include "sync/model.h"
#include "sync/result.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mf::cli {

bool matches_any(const std::vector<std::string>& globs, const std::string& name);

// Selectable folders whose '/'-joined name matches `include` (all if empty)
// and none of `exclude`.
std::vector<FolderInfo> select_folders(const std::vector<FolderInfo>& all,
                                       const std::vector<std::string>& include,
                                       const std::vector<std::string>& exclude);

// The special uses (RFC 6154) that --skip-special-use names ("junk,trash",
// any case) as sources spell them ("\\Junk", "\\Trash"); a usage failure
// for a word that is none. "" names none.
Result<std::vector<std::string>> parse_special_uses(const std::string& list);

// The first of `folder`'s special uses that is among `uses`; "" if none.
std::string special_use_among(const FolderInfo& folder, const std::vector<std::string>& uses);

// The source's personal namespace prefix as its listing shows it: the
// leading components of a folder below it (FolderInfo::prefix_depth); {}
// when no folder lies below one.
std::vector<std::string> personal_prefix(const std::vector<FolderInfo>& folders);

// Sets the prefix_depth of folders read from an archive whose backups
// recorded the source's personal `prefix`.
void mark_personal_prefix(std::vector<FolderInfo>& folders, const std::vector<std::string>& prefix);

// Where a merged account's INBOX and special folders go (--special-folders).
enum class SpecialFolders : std::uint8_t { prefix, merge };

class FolderMap {
  public:
    static Result<FolderMap> parse(const std::vector<std::string>& specs);
    // --target-prefix: every folder that no --map rule names goes below
    // `prefix` on the target, INBOX as PREFIX/INBOX (imapsync's --subfolder2
    // does the same). With SpecialFolders::merge, INBOX and the special
    // folders (Sent, Drafts, Trash, Junk, Archive) go into the target's own.
    Status put_under(const std::string& prefix, SpecialFolders special);
    // For merge: the target's special folders, from its folder list.
    void use_target_folders(const std::vector<FolderInfo>& target);
    bool merges() const { return !m_prefix.empty() && m_special == SpecialFolders::merge; }
    // Whether a folder the target lists lies below the prefix (all do
    // without one): what a mirror may delete.
    bool owns(const std::vector<std::string>& target_path) const;
    // "SRC" -> "DST", and "SRC/child" -> "DST/child"; otherwise unchanged.
    FolderInfo apply(const FolderInfo& folder) const;
    // What a source folder is called on the target (NAMESPACES in the man
    // page): a rule for its whole name wins; else the source's personal
    // prefix comes off (Courier's INBOX/Sent is Sent) and the rules apply to
    // the rest. The target puts its own prefix on.
    FolderInfo target_of(const FolderInfo& folder) const;

  private:
    const std::vector<std::string>* rule_for(const std::vector<std::string>& path,
                                             std::size_t& matched) const;
    FolderInfo place(const FolderInfo& bare) const;
    std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> m_rules;
    std::vector<std::string> m_prefix;
    SpecialFolders m_special = SpecialFolders::prefix;
    std::map<std::string, std::vector<std::string>> m_target_special; // "\\Sent" -> its path
};

} // namespace mf::cli
