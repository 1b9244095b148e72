/**
 * Ending the process when the ordered shutdown did not finish in time.
 *
 * `process.exit()` is not enough then: it waits for libuv's thread pool, and a thread blocked in a read
 * of a hung disk or NFS server (or a FUSE daemon that stopped answering) never returns, so the process
 * would log "exiting" and stay alive until the kubelet's SIGKILL, or forever outside Kubernetes. A
 * SIGKILL to oneself ends it whatever the threads do. The kernel ignores it when the process is the
 * init of its PID namespace (PID 1 in a container without an init), which is why the image starts the
 * agent under tini; should it run as PID 1 anyway, abort() still ends it (its fault is delivered even
 * to init), with SIGABRT instead of SIGKILL.
 */
export function killSelf(): void {
  try {
    process.kill(process.pid, 'SIGKILL');
  } catch {
    // fall through to abort()
  }
  // Only reached where SIGKILL was ignored (PID 1): give the signal a moment, then abort.
  setTimeout(() => process.abort(), 1000).unref();
}
