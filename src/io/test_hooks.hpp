#pragma once
// Fault injection for the resume tests: DELAYPROP_TEST_KILL="WHERE:N" makes the process
// SIGKILL itself the N-th time it passes the point WHERE ("batch": after a training batch,
// "checkpoint": halfway through writing a checkpoint, before it is moved into place).
// Unset in normal runs, where it costs one getenv per process.
namespace delayprop {
void kill_point(const char* where);
}
