// Named points in the file-writing code where a process can be made to stop itself, so the
// crash-consistency test can SIGKILL titanic_train exactly while a checkpoint is half written or
// an output is between its write and its rename, not only at random moments.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace keel::train::detail {

// With KEEL_PAUSE_AT=<point>:<file name>[:<n>] in the environment, the n-th time (default the
// first) the process reaches `point` while writing a file called <file name>, it flushes `file`
// (so what was written is on disk) and sends itself SIGSTOP; it goes on at SIGCONT. Points:
// mid_write (half the bytes written), before_rename (all written and closed), after_rename.
// Without the variable this returns at once and changes nothing.
void pause_point(std::string_view point, const std::string& path, std::FILE* file = nullptr);

}  // namespace keel::train::detail
