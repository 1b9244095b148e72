/*
 * A FUSE filesystem whose one file never finishes a read: it stands for a hung NFS server (or a
 * dying disk) under a dump. `stuckfs <mountpoint> <size>`: the mount shows `java_pid1.hprof`, a
 * regular file of <size> bytes; getattr, readdir and open answer at once, read blocks forever.
 * Runs in the foreground, multi-threaded, so that the requests a killed reader still sends on its way
 * out (flush, release) are answered while the read stays stuck; stop it by its PID, then `umount -l`.
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fuse.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *NAME = "/java_pid1.hprof";
static off_t size;

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  (void)fi;
  memset(st, 0, sizeof(*st));
  if (strcmp(path, "/") == 0) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  }
  if (strcmp(path, NAME) == 0) {
    st->st_mode = S_IFREG | 0644;
    st->st_nlink = 1;
    st->st_size = size;
    st->st_blocks = (size + 511) / 512; /* dense: not skipped as sparse */
    st->st_mtime = 1;
    return 0;
  }
  return -ENOENT;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
  (void)off; (void)fi; (void)flags;
  if (strcmp(path, "/") != 0) return -ENOENT;
  fill(buf, ".", NULL, 0, 0);
  fill(buf, "..", NULL, 0, 0);
  fill(buf, NAME + 1, NULL, 0, 0);
  return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi) {
  (void)fi;
  return strcmp(path, NAME) == 0 ? 0 : -ENOENT;
}

static int fs_read(const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi) {
  (void)path; (void)buf; (void)len; (void)off; (void)fi;
  for (;;) pause(); /* never answers */
  return 0;
}

static int fs_flush(const char *path, struct fuse_file_info *fi) {
  (void)path; (void)fi;
  return 0;
}

static int fs_release(const char *path, struct fuse_file_info *fi) {
  (void)path; (void)fi;
  return 0;
}

static const struct fuse_operations ops = {
  .getattr = fs_getattr, .readdir = fs_readdir, .open = fs_open, .read = fs_read, .flush = fs_flush, .release = fs_release,
};

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  size = atoll(argv[2]);
  char *args[] = { argv[0], "-f", "-o", "allow_other", argv[1], NULL };
  return fuse_main(5, args, &ops, NULL);
}
