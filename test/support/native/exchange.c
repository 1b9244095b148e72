/*
 * A hostile tenant's race loop: swaps two entries of its own folder with renameat2(RENAME_EXCHANGE)
 * as fast as it can (e.g. a subfolder and a symlink into another tenant's folder), for a given time.
 * Prints the number of successful exchanges on exit. Used by the hostile-tenant tests.
 *   exchange <path a> <path b> <milliseconds>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <a> <b> <ms>\n", argv[0]);
    return 2;
  }
  long until = now_ms() + atol(argv[3]);
  unsigned long swaps = 0, failures = 0;
  while (now_ms() < until) {
    for (int i = 0; i < 64; i++) {
      if (syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) == 0) swaps++;
      else failures++;
    }
  }
  printf("swaps=%lu failures=%lu\n", swaps, failures);
  return 0;
}
