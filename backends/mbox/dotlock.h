// The dotlock <file>.lock, which mutt, procmail and other mail readers honour
// before they change an mbox. MboxFolder takes it after its fcntl lock, as
// mutt does, so the two never deadlock.
#pragma once

#include "sync/result.h"

#include <string>

namespace mf::mbox {

class Dotlock {
  public:
    // Locks `file` through `file`.lock; nothing is created until take().
    explicit Dotlock(std::string file);
    ~Dotlock() { release(); }
    Dotlock(const Dotlock&) = delete;
    Dotlock& operator=(const Dotlock&) = delete;

    // Waits a few seconds for another program's lock to go; one left behind
    // by a crash (too old, or its holder gone) is removed. Fails with
    // ErrorKind::locked (Scope::folder) while someone else holds it.
    Status take();
    // Removes the lock if this object took it.
    void release();

  private:
    Result<bool> make();

    std::string m_file, m_path;
    bool m_held = false;
};

} // namespace mf::mbox
