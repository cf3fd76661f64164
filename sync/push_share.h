// One copy of each message where the source holds it in several folders
// (Gmail's labels, each a folder; issue 19). A message is known across
// folders by its identity: the source's own (RemoteMessage::identity,
// Gmail's X-GM-MSGID), else Message-ID, size and date (what a label folder's
// copy shares with All Mail's). The first folder it is met in uploads it
// and records where (PushState::record_upload); a later folder then, by
// the folder's mode, has the target label the one copy (Target::also_in),
// finds it there already (All Mail), or leaves it out (a primary label
// only). A message with neither has no identity: each folder uploads its
// own copy, as without this.
#pragma once

#include "sync/push_plan.h"
#include "sync/target.h"

#include <string>
#include <unordered_map>
#include <vector>

namespace mf {

// What a push does with a message a folder before this one uploaded.
enum class ShareMode : std::uint8_t {
    off,     // uploads it again: a copy per folder (and every mirror)
    label,   // labels the one copy (Sharing::label)
    there,   // nothing: the folder shows it already (Sharing::always)
    primary, // leaves it out: its primary label's folder has it (--labels primary)
};

struct SharedMessage {
    std::string id;       // on the source
    std::string identity; // the source's, or message_identity()
    Uploaded where;       // its copy on the target
};

struct SharedPlan {
    std::vector<SharedMessage> label;                      // to be labelled
    std::size_t there = 0;                                 // ShareMode::there: on the target
    std::size_t elsewhere = 0;                             // ShareMode::primary: left out
    std::unordered_map<std::string, std::string> identity; // source id -> identity, to record
};

std::string message_identity(const std::string& message_id, std::uint64_t size, std::int64_t date);

// Takes out of plan.copy what a folder before this one uploaded, as `mode`
// says, and keeps the identity of the rest. `known` are the keys plan_push
// matched by; the source is asked once for those of plan.copy still needed
// (none for a message with the source's own identity).
Result<SharedPlan> share_plan(Source& source, PushState& state, const Snapshot& snap,
                              const std::vector<MessageKey>& known, PushPlan& plan, ShareMode mode);

// Records where the messages the plan recognised on the target (plan.adopt:
// uploaded by a run that died before it heard the answer) are, where no
// folder recorded them, so that later folders label them, not upload them
// again. `keys` are those plan_push matched them by; `into` is the folder.
Status record_adopted(PushState& state, const Snapshot& snap, const std::vector<MessageKey>& keys,
                      const PushPlan& plan, const Uploaded& into);

} // namespace mf
