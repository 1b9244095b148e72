/*
 * A hostile tenant's race loop: swaps pairs of entries of its own folder with renameat2(RENAME_EXCHANGE)
 * as fast as it can (e.g. a subfolder and a symlink into another tenant's folder, or a dump and a
 * FIFO), cycling over the pairs, for a given time. Prints the number of successful exchanges on exit.
 *   exchange <milliseconds> <a1> <b1> [<a2> <b2> ...]
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
  if (argc < 4 || (argc - 2) % 2 != 0) {
    fprintf(stderr, "usage: %s <ms> <a1> <b1> [<a2> <b2> ...]\n", argv[0]);
    return 2;
  }
  long until = now_ms() + atol(argv[1]);
  int pairs = (argc - 2) / 2;
  unsigned long swaps = 0, failures = 0;
  while (now_ms() < until) {
    for (int p = 0; p < pairs; p++) {
      for (int i = 0; i < 16; i++) {
        if (syscall(SYS_renameat2, AT_FDCWD, argv[2 + 2 * p], AT_FDCWD, argv[3 + 2 * p], RENAME_EXCHANGE) == 0) swaps++;
        else failures++;
      }
    }
  }
  printf("swaps=%lu failures=%lu\n", swaps, failures);
  return 0;
}
