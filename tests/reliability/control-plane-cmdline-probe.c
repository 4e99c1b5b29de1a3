// Shows the moment inside execve when /proc/PID/cmdline reads empty: the
// evidence for the failed start fixed in hack/local-cluster.sh's pid_of
// (docs/reliability.md, "The local control plane's starts").
//
//   cc -O2 -o /tmp/cmdline-probe tests/reliability/control-plane-cmdline-probe.c
//   /tmp/cmdline-probe RUNS PROGRAM [ARGS...]
//   e.g. /tmp/cmdline-probe 1000 ~/.cache/kubec2/k8s-1.20.2/kube-apiserver --version
//
// RUNS times: forks, the child execs PROGRAM (output to /dev/null), and the
// parent reads /proc/CHILD/cmdline in a tight loop until it shows PROGRAM's
// own command line. Before the execve the child shows the parent's command
// line; after the kernel has switched to the new program's memory but
// before it has recorded the new arguments, the read returns 0 bytes. A
// script that tells its own processes by their command line (as pid_of did)
// takes a process read in that moment for a stranger. Prints how many runs
// saw such empty reads and the longest stretch of them; the stretch grows
// when the CPU is busy and the exec'ing child is preempted.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

// True once PID has exited and awaits waitpid: its cmdline reads empty too.
static int isZombie(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  const int fd = open(path, O_RDONLY);
  if (fd < 0) return 1;
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 1;
  buf[n] = '\0';
  const char* end = strrchr(buf, ')');  // the command name may hold parentheses
  return end != NULL && end[1] == ' ' && end[2] == 'Z';
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s RUNS PROGRAM [ARGS...]\n", argv[0]);
    return 2;
  }
  const int runs = atoi(argv[1]);
  int runsWithEmpty = 0;
  long emptyReads = 0;
  double longest = 0;
  for (int r = 0; r < runs; r++) {
    const pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      const int fd = open("/dev/null", O_WRONLY);
      dup2(fd, 1);
      dup2(fd, 2);
      execv(argv[2], argv + 2);
      _exit(127);
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    long empty = 0;
    double first = 0, last = 0;
    // Bounded: a program that exits at once ends the loop through open().
    for (long i = 0; i < 100000000; i++) {
      const int fd = open(path, O_RDONLY);
      if (fd < 0) break;
      char buf[4096];
      const ssize_t n = read(fd, buf, sizeof buf - 1);
      close(fd);
      if (n == 0) {
        if (isZombie(pid)) break;  // PROGRAM ended (a zombie's cmdline is empty too)
        if (empty++ == 0) first = seconds();
        last = seconds();
        continue;
      }
      if (n > 0) {
        buf[n] = '\0';
        if (strcmp(buf, argv[2]) == 0) break;  // the new program's argv[0]
      }
    }
    if (empty > 0) {
      runsWithEmpty++;
      emptyReads += empty;
      if (last - first > longest) longest = last - first;
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
  }
  printf(
      "%d execs, %d with empty /proc/PID/cmdline reads (%ld reads), longest empty stretch %.3f "
      "ms\n",
      runs, runsWithEmpty, emptyReads, longest * 1e3);
  return 0;
}
