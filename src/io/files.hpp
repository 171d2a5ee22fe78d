#pragma once
// Checks on files named by a user before they are opened: a FIFO, a directory or a device
// under a file name would block or be misread, so every input must be a regular file.
#include <string>

namespace delayprop {

// Throws Error "PATH: no such file" / "PATH: not a regular file (a FIFO)" naming `what`.
void require_regular_file(const std::string& path, const char* what);

}  // namespace delayprop
