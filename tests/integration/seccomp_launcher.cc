// seccomp_launcher [--eperm CALL]... ALLOW_FILE PROGRAM [ARGS...]: runs PROGRAM under a
// seccomp filter that allows only the system calls named in ALLOW_FILE (one a line; names
// this architecture lacks are skipped), fails each --eperm CALL with EPERM, and kills the
// process at any other call, or at one made for another architecture. Stricter than the
// unit's SystemCallErrorNumber=EPERM on purpose: a call the unit's filter refuses shows
// here as a dead syncd (SIGSYS), not as a silent EPERM.
#include <seccomp.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <fstream>
#include <string>

int main(int argc, char** argv) {
  scmp_filter_ctx filter = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (!filter) return 2;
  int arg = 1;
  for (; arg + 1 < argc && std::string(argv[arg]) == "--eperm"; arg += 2) {
    const int number = seccomp_syscall_resolve_name(argv[arg + 1]);
    if (number == __NR_SCMP_ERROR ||
        seccomp_rule_add(filter, SCMP_ACT_ERRNO(EPERM), number, 0) != 0) {
      std::fprintf(stderr, "seccomp_launcher: cannot refuse %s\n", argv[arg + 1]);
      return 2;
    }
  }
  if (argc - arg < 2) {
    std::fprintf(stderr,
                 "usage: seccomp_launcher [--eperm CALL]... ALLOW_FILE PROGRAM [ARGS...]\n");
    return 2;
  }
  std::ifstream names(argv[arg]);
  if (!names) {
    std::fprintf(stderr, "seccomp_launcher: cannot read %s\n", argv[arg]);
    return 2;
  }
  int allowed = 0;
  for (std::string name; std::getline(names, name);) {
    if (name.empty()) continue;
    const int number = seccomp_syscall_resolve_name(name.c_str());
    if (number == __NR_SCMP_ERROR) continue;
    if (seccomp_rule_add(filter, SCMP_ACT_ALLOW, number, 0) != 0) {
      std::fprintf(stderr, "seccomp_launcher: cannot allow %s\n", name.c_str());
      return 2;
    }
    ++allowed;
  }
  if (allowed == 0 || seccomp_load(filter) != 0) {
    std::fprintf(stderr, "seccomp_launcher: no filter loaded (%d calls allowed)\n", allowed);
    return 2;
  }
  seccomp_release(filter);
  ::execv(argv[arg + 1], argv + arg + 1);
  std::perror("seccomp_launcher: execv");
  return 127;
}
