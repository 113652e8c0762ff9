#pragma once
// A file's permission bits as people read them in messages: "0640".
#include <sys/types.h>

#include <string>

namespace syncd {

std::string octal_mode(mode_t mode);

}  // namespace syncd
