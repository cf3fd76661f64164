// The two forms of an export (sync/export.h's ExportSink):
//
//   EmlExport   DEST/<folder>/<date>_<subject words>_<short id>.eml, one
//               file a message, as the archive holds it (LF line ends);
//   MboxExport  DEST/<folder>.mbox, one mboxrd file a folder (a folder
//               "Work/Projects" is DEST/Work/Projects.mbox).
//
// Folder names become directory names by names.h; two folders whose names
// come out the same get "~2", "~3" on the later one, as do two messages
// whose file names would.
#pragma once

#include "backends/common/crlf.h"
#include "backends/common/headers.h"
#include "backends/export/destination.h"
#include "backends/mbox/mboxrd.h"
#include "sync/export.h"

#include <memory>
#include <optional>
#include <set>
#include <string>

namespace mf::exporting {

// Output names given so far, by their directory and name: the first free
// one of name, name~2, name~3 ... in `dir`.
class NameSet {
  public:
    std::string claim(const std::string& dir, const std::string& name);
    void clear() { m_used.clear(); }

  private:
    std::set<std::string> m_used;
};

// What both forms share: the destination, the directory and file being
// written, and the bytes of the message in progress not yet written.
class FileExport : public ExportSink, protected MessageSink {
  public:
    MessageSink& messages() override { return *this; }

  protected:
    explicit FileExport(const Destination& dest) : m_dest(dest) {}
    // Writes out and empties m_buffer.
    Status flush();
    // Whether enough is buffered to write it out.
    bool full() const { return m_buffer.size() >= k_buffer; }

    const Destination& m_dest;
    NameSet m_used;                 // names given so far (see each form)
    std::optional<Directory> m_dir; // declared before m_file, which uses it
    std::optional<OutFile> m_file;
    std::string m_buffer;

  private:
    static constexpr std::size_t k_buffer = 64 * 1024;
};

class EmlExport : public FileExport {
  public:
    explicit EmlExport(const Destination& dest) : FileExport(dest) {}
    Status begin_folder(const FolderInfo& folder) override;
    Status end_folder() override;

  private:
    Status begin(std::uint64_t size_hint) override;
    Status write(std::string_view chunk) override;
    Status finish(const RemoteMessage& message) override;
    void abandon() override;

    NameSet m_names; // files of the folder
    mail::CrlfToLf m_crlf;
    mail::HeaderScanner m_headers;
};

class MboxExport : public FileExport {
  public:
    explicit MboxExport(const Destination& dest) : FileExport(dest) {}
    Status begin_folder(const FolderInfo& folder) override;
    Status end_folder() override;

  private:
    Status begin(std::uint64_t size_hint) override;
    Status write(std::string_view chunk) override;
    Status finish(const RemoteMessage& message) override;
    void abandon() override;
    Status lost() const;

    std::string m_name;                     // the folder's file
    std::uint64_t m_start = 0;              // where the message in progress began
    std::optional<mbox::Encoder> m_encoder; // writes into m_buffer
};

} // namespace mf::exporting
