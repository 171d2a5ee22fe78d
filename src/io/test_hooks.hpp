#pragma once
// Fault injection for the resume tests: DELAYPROP_TEST_KILL="WHERE:N" makes the process
// SIGKILL itself the N-th time it passes the point WHERE ("batch": after a training batch,
// "checkpoint": halfway through writing a checkpoint, before it is moved into place);
// "WHERE:N:TERM" or "WHERE:N:USR1" raises that signal instead (a stop request).
// DELAYPROP_TEST_FULL="WHERE:N" makes the N-th write at WHERE ("checkpoint") go to
// /dev/full, so that it fails with the kernel's ENOSPC as on a full disk.
// Unset in normal runs, where it costs one getenv per process.
#include <string>
namespace delayprop {
void kill_point(const char* where);
// `path`, or "/dev/full" when DELAYPROP_TEST_FULL selects this pass through WHERE.
std::string fault_path(const char* where, const std::string& path);
}
