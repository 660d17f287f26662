#ifndef CMTORSHIMS_H
#define CMTORSHIMS_H
#include <sys/types.h>
#include <signal.h>

/// Starts `path` in its own process group with an empty signal mask, default signal
/// dispositions, the given fds as stdin/stdout/stderr, `cwd` as its directory (may be NULL),
/// and every other descriptor closed. On Linux the child first writes itself into
/// `cgroup_fd` (an open `cgroup.procs`, or -1) and, when `gate_fd` >= 0, waits to read one
/// byte from it before it execs; EOF there (the parent died) ends it unrun. `*report_out`
/// gets a descriptor for `mtor_spawn_result`. Returns 0 or an errno value.
/// `cgroup_dir_fd` (a cgroup v2 directory, or -1) makes the child be born in that cgroup with
/// clone3(CLONE_INTO_CGROUP), with `cgroup_fd` as the fallback where clone3 cannot.
/// `hold_fd` (or -1) is handed to the child as fd 3, so a lock on its open file (the task's
/// claim) is held until every process of the task is gone. `memory_fd` (an open `cgroup.procs`
/// of a v1 memory cgroup, or -1) is joined too, right after the task's cgroup: the memory cap
/// holds before the child execs. On x86_64 Linux the child shares this process's memory until it
/// execs (clone3 with CLONE_VM; no copy-on-write), on its own region (see mtor_spawn_region_free).
/// With `die_with_parent` the child gets SIGKILL when the
/// calling thread's process dies (prctl PR_SET_PDEATHSIG), before it may exec.
int mtor_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
               int stdin_fd, int stdout_fd, int stderr_fd, int gate_fd, int cgroup_fd, int cgroup_dir_fd, int memory_fd, int hold_fd,
               int die_with_parent, int *report_out, pid_t *pid_out, void **region_out, unsigned long *region_size_out);

/// The memory a child of `mtor_spawn` runs on until it execs (`*region_out`, NULL when it has none):
/// free it only once the child has exec'd (`mtor_spawn_result` returned 0) or has been reaped.
void mtor_spawn_region_free(void *region, unsigned long size);

/// A close-on-exec descriptor, at offset 0, on an anonymous in-memory file (memfd) holding `bytes`,
/// sealed so nobody can change it; -1 with errno (ENOSYS off Linux).
int mtor_sealed_memfd(const void *bytes, unsigned long length);

/// Waits until the child of `mtor_spawn` has exec'd (0) or failed to (its errno); closes `report_fd`.
int mtor_spawn_result(int report_fd);

/// rename(2) that fails with EEXIST instead of replacing `to`. Returns 0 or -1 with errno.
/* A pipe whose ends are close-on-exec from birth (pipe2 on Linux); nonblock sets O_NONBLOCK on both. */
int mtor_pipe_cloexec(int fds[2], int nonblock);

/* Reserves `bytes` of disk for fd beyond its size (fallocate KEEP_SIZE), so later in-place
   writes up to that size need no new blocks. 0 on success; a no-op returning 0 off Linux. */
int mtor_reserve(int fd, long long bytes);

int mtor_rename_noreplace(int from_dirfd, const char *from, int to_dirfd, const char *to);

/* open(path, O_PATH | O_CLOEXEC) on Linux (the path resolved, nothing opened for I/O); -1/ENOSYS elsewhere. */
int mtor_open_path(const char *path);

/* renameat2(RENAME_EXCHANGE): `a` and `b` trade names atomically, no inode is freed.
   0 or -1/errno (EINVAL or ENOSYS where the filesystem or system cannot). */
int mtor_rename_exchange(const char *a, const char *b);

/* Whether `fd` is the only open file description of its file: 1 yes, 0 another process (or
   another descriptor of this one) has it open, -1/errno when the kernel cannot tell (no leases
   on this filesystem). Probed with a write lease taken and dropped at once (Linux). */
int mtor_sole_opener(int fd);

/* llistxattr(2): the names of a path's extended attributes, a link not followed (sys/xattr.h is not in Glibc's module). */
long mtor_llistxattr(const char *path, char *list, unsigned long size);

/* The fallback of mtor_rename_noreplace where renameat2 is refused (FUSE, NFS, CephFS): link, then
   unlink, settling a call reported failed that in fact happened by the file's identity. 0 or -1/errno. */
int mtor_link_then_unlink(int from_dirfd, const char *from, int to_dirfd, const char *to);

/* The filesystem type (`f_type`, a magic number) of the filesystem holding `path`, from
   statfs(2) (Linux; 0 elsewhere). 0 or -1/errno. */
int mtor_statfs_type(const char *path, unsigned long long *type_out);

/// Makes this process the reaper of its orphaned descendants (Linux). Returns 0 or -1.
int mtor_set_child_subreaper(void);

/// Blocks `signals` (a 0-terminated list) in the calling thread and returns a signalfd
/// that reports them (Linux), or -1.
int mtor_signalfd(const int *signals);

/// Reads one signal number from a signalfd; returns it or -1.
int mtor_signalfd_read(int fd);

/* The process group a signal handler forwards a stop to (0: none), in a C11 `_Atomic int`: lock-free,
   so a handler may read it whenever the signal comes. (Swift's `Atomic` needs macOS 15.) */
int mtor_forward_group_load(void);
void mtor_forward_group_store(int pgid);

int mtor_wifexited(int status);
int mtor_wexitstatus(int status);
int mtor_wifsignaled(int status);
int mtor_wtermsig(int status);
/// 1 when child `pid` has exited (left a zombie: not reaped, its pid and group still its own),
/// 0 while it runs (only without `block`), -errno on error. `waitid(2)` with `WNOWAIT`.
int mtor_child_exited(pid_t pid, int block);
#endif
