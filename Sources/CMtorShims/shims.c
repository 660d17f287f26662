#define _GNU_SOURCE
#include "CMtorShims.h"
#include <sys/xattr.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <signal.h>
#include <stdatomic.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <linux/falloc.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#endif

#if defined(__linux__)
/* The child side of mtor_spawn: only async-signal-safe calls from here to execve. */
static void spawn_child(const char *path, char *const argv[], char *const envp[], const char *cwd,
                        int stdin_fd, int stdout_fd, int stderr_fd, int gate_fd, int cgroup_fd, int memory_fd, int hold_fd, int report_fd,
                        int die_with_parent, pid_t parent) {
    int err = 0;
    /* A sandboxed task ends with the worker: SIGKILL when the thread that started it is gone. */
    if (die_with_parent) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) { err = errno; goto fail_early; }
        if (getppid() != parent) _exit(125);
    }
    /* Leave the worker's process group at once: a signal to the worker's group (systemd's or a
       user's SIGTERM) must not reach a child still joining its cgroup, which can take milliseconds. */
    if (setpgid(0, 0) != 0) { err = errno; goto fail_early; }
    /* Then join the task's cgroup, before anything else: nothing this process starts can ever be outside it. */
    if (cgroup_fd >= 0 && write(cgroup_fd, "0", 1) != 1) { err = errno; goto fail_early; }
    /* And the task's v1 memory cgroup, when it has a memory cap there: never run uncapped. */
    if (memory_fd >= 0 && write(memory_fd, "0", 1) != 1) { err = errno; goto fail_early; }
    /* Copies above every descriptor we place, so dup2 never overwrites a source. */
    int in = fcntl(stdin_fd, F_DUPFD_CLOEXEC, 10), out = fcntl(stdout_fd, F_DUPFD_CLOEXEC, 10);
    int er = fcntl(stderr_fd, F_DUPFD_CLOEXEC, 10), rep = fcntl(report_fd, F_DUPFD_CLOEXEC, 10);
    int gate = gate_fd >= 0 ? fcntl(gate_fd, F_DUPFD_CLOEXEC, 10) : -1;
    int hold = hold_fd >= 0 ? fcntl(hold_fd, F_DUPFD_CLOEXEC, 10) : -1;
    if (in < 0 || out < 0 || er < 0 || rep < 0 || (gate_fd >= 0 && gate < 0) || (hold_fd >= 0 && hold < 0)) { err = errno; goto fail_early; }
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(er, 2) < 0 || dup2(rep, 4) < 0) { err = errno; goto fail_early; }
    fcntl(4, F_SETFD, FD_CLOEXEC);
    if (gate >= 0) { if (dup2(gate, 3) < 0) { err = errno; goto fail_early; } } else close(3);
    /* The held descriptor waits at 5 (not close-on-exec) until the gate is passed. */
    if (hold >= 0 && dup2(hold, 5) < 0) { err = errno; goto fail_early; }
    /* Drop every other descriptor now, so no other task's pipes are held while we wait. */
    syscall(SYS_close_range, hold >= 0 ? 6U : 5U, ~0U, 0);
    /* Signals are still blocked here (the worker's mask). Ignoring each one first discards any
       that arrived for the worker's process group before setpgid; then the default comes back. */
    struct sigaction ign, dfl;
    memset(&ign, 0, sizeof ign);
    memset(&dfl, 0, sizeof dfl);
    ign.sa_handler = SIG_IGN;
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        sigaction(s, &ign, NULL);
        sigaction(s, &dfl, NULL);
    }
    if (gate >= 0) {
        /* Wait until the parent has recorded us; EOF means it died first: never run unseen. */
        char go = 0;
        ssize_t n;
        do { n = read(3, &go, 1); } while (n < 0 && errno == EINTR);
        if (n != 1) _exit(125);
        close(3);
    }
    /* The task's claim lock, inherited as fd 3: held while any process of the task lives. */
    if (hold >= 0) { if (dup2(5, 3) < 0) { err = errno; goto fail_early; } close(5); }
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    if (cwd && chdir(cwd) != 0) { err = errno; goto fail; }
    execve(path, argv, envp);
    err = errno;
fail:
    report_fd = 4;
fail_early:
    while (write(report_fd, &err, sizeof err) < 0 && errno == EINTR) {}
    _exit(127);
}
#endif

#if defined(__linux__)
/* clone3(2)'s arguments (linux/sched.h, CLONE_ARGS_SIZE_VER2), spelled out so older headers build. */
struct mtor_clone_args {
    unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#define MTOR_CLONE_INTO_CGROUP 0x200000000ULL

/* A fork whose child starts inside the cgroup whose directory is `cgroup_dir_fd`. Moving a running
   process between cgroups takes the kernel's threadgroup lock for writing, which waits for an RCU
   grace period (measured: 16 ms here); being born there costs nothing. Returns -1 with errno. */
static pid_t fork_into_cgroup(int cgroup_dir_fd) {
    struct mtor_clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = MTOR_CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = (unsigned long long)cgroup_dir_fd;
    return (pid_t)syscall(SYS_clone3, &args, sizeof args);
}
#endif

int mtor_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
               int stdin_fd, int stdout_fd, int stderr_fd, int gate_fd, int cgroup_fd, int cgroup_dir_fd, int memory_fd, int hold_fd,
               int die_with_parent, int *report_out, pid_t *pid_out) {
#if defined(__linux__)
    pid_t parent = getpid();
    /* fork, not posix_spawn: the child must join a cgroup and may wait at a gate before it execs. */
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    pid_t pid = -1;
    if (cgroup_dir_fd >= 0) {
        /* The child of a raw clone3 runs only async-signal-safe system calls until execve, as after fork. */
        pid = fork_into_cgroup(cgroup_dir_fd);
        if (pid >= 0) cgroup_fd = -1; /* already there */
    }
    if (pid < 0) pid = fork();
    if (pid < 0) { int e = errno; close(report[0]); close(report[1]); return e; }
    if (pid == 0) spawn_child(path, argv, envp, cwd, stdin_fd, stdout_fd, stderr_fd, gate_fd, cgroup_fd, memory_fd, hold_fd, report[1],
                             die_with_parent, parent);
    close(report[1]);
    *pid_out = pid;
    *report_out = report[0];
    return 0;
#else
    (void)gate_fd; (void)cgroup_fd; (void)cgroup_dir_fd; (void)memory_fd; (void)hold_fd; (void)die_with_parent;
    *report_out = -1;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) { posix_spawn_file_actions_destroy(&actions); return rc; }
    int fds[3] = { stdin_fd, stdout_fd, stderr_fd };
    for (int i = 0; i < 3 && rc == 0; i++) rc = posix_spawn_file_actions_adddup2(&actions, fds[i], i);
    if (rc == 0 && cwd) rc = posix_spawn_file_actions_addchdir_np(&actions, cwd);
    short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#if defined(__APPLE__)
    flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
#endif
    if (rc == 0) rc = posix_spawnattr_setflags(&attr, flags);
    if (rc == 0) rc = posix_spawnattr_setpgroup(&attr, 0);
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &empty);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &all);
    if (rc == 0) rc = posix_spawn(pid_out, path, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return rc;
#endif
}

int mtor_spawn_result(int report_fd) {
    if (report_fd < 0) return 0;
    int err = 0;
    ssize_t n;
    do { n = read(report_fd, &err, sizeof err); } while (n < 0 && errno == EINTR);
    close(report_fd);
    return n == (ssize_t)sizeof err ? err : 0;
}

int mtor_pipe_cloexec(int fds[2], int nonblock) {
#if defined(__linux__)
    return pipe2(fds, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
#else
    /* No pipe2: a spawn on another thread may see these before FD_CLOEXEC is set;
       mtor_spawn closes every stray descriptor in the child anyway. */
    if (pipe(fds) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
        if (nonblock) fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    }
    return 0;
#endif
}

int mtor_reserve(int fd, long long bytes) {
#if defined(__linux__)
    return fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)bytes);
#else
    (void)fd; (void)bytes;
    return 0;
#endif
}

#if defined(__linux__)
/* Fresh attributes of `path`: AT_STATX_FORCE_SYNC makes FUSE and NFS ask the server, not a cache. */
static int fresh_stat(int dirfd, const char *path, struct statx *st) {
    return statx(dirfd, path, AT_SYMLINK_NOFOLLOW | AT_STATX_FORCE_SYNC, STATX_INO | STATX_NLINK, st);
}

static int same_file(const struct statx *a, const struct statx *b) {
    return a->stx_ino == b->stx_ino && a->stx_dev_major == b->stx_dev_major && a->stx_dev_minor == b->stx_dev_minor;
}

/* Whether the listing of `path`'s directory (from the server, on a network filesystem) gives its
   name the inode `ino`. A lookup by path may be answered from a client's cache for a second after
   another host moved the file; only this answer may decide to drop a name. Absolute paths only. */
static int listed_as(int dirfd, const char *path, unsigned long long ino) {
    if (dirfd != AT_FDCWD || path[0] != '/') return 0;
    const char *slash = strrchr(path, '/');
    char dir[4096];
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir) return 0;
    memcpy(dir, path, n);
    dir[n] = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, slash + 1) == 0) { found = (unsigned long long)e->d_ino == ino; break; }
    }
    closedir(d);
    return found;
}

/* rename without replacing, as link + unlink. On a network filesystem a call reported failed may
   have happened (NFS answers a retransmitted request after the first one took effect), and a name
   looked up through a stale cache may name a file that has moved on: the file's identity, asked of
   the server, settles both. */
int mtor_link_then_unlink(int from_dirfd, const char *from, int to_dirfd, const char *to) {
    struct statx src, dst;
    if (fresh_stat(from_dirfd, from, &src) != 0) return -1;
    if (linkat(from_dirfd, from, to_dirfd, to, 0) != 0) {
        int e = errno;
        /* EEXIST naming this very file, by the directory's listing: the link happened (reported lost)
           or an interrupted move made it. */
        if (!(e == EEXIST && fresh_stat(to_dirfd, to, &dst) == 0 && same_file(&src, &dst) && listed_as(to_dirfd, to, src.stx_ino))) { errno = e; return -1; }
    }
    if (unlinkat(from_dirfd, from, 0) == 0) return 0;
    int e = errno;
    if (e == ENOENT && fresh_stat(to_dirfd, to, &dst) == 0 && same_file(&src, &dst)) {
        /* Only `to` names the file: the unlink happened and its answer was lost. */
        if (dst.stx_nlink <= 1) {
            if (listed_as(to_dirfd, to, src.stx_ino)) return 0;
            errno = e;   /* unsure: leave every name as it is (recovery finds the spec) */
            return -1;
        }
        /* The old name was gone before the link (a stale lookup) and the file lives on under another
           name (done/, another claim): take back the name just made, so it is not run twice. */
        unlinkat(to_dirfd, to, 0);
    }
    errno = e;
    return -1;
}

#else
int mtor_link_then_unlink(int from_dirfd, const char *from, int to_dirfd, const char *to) {
    if (linkat(from_dirfd, from, to_dirfd, to, 0) != 0) return -1;
    return unlinkat(from_dirfd, from, 0);
}
#endif

long mtor_llistxattr(const char *path, char *list, unsigned long size) {
    return (long)llistxattr(path, list, (size_t)size);
}

int mtor_rename_noreplace(int from_dirfd, const char *from, int to_dirfd, const char *to) {
#if defined(__linux__)
    long rc = syscall(SYS_renameat2, from_dirfd, from, to_dirfd, to, 1 /* RENAME_NOREPLACE */);
    if (rc == 0) return 0;
    if (errno == EEXIST) {
        /* `to` already names this very file (a move cut between its link and its unlink): finish it. */
        struct statx a, b;
        if (fresh_stat(from_dirfd, from, &a) == 0 && fresh_stat(to_dirfd, to, &b) == 0 && same_file(&a, &b) && listed_as(to_dirfd, to, a.stx_ino)) {
            if (unlinkat(from_dirfd, from, 0) == 0 || errno == ENOENT) return 0;
            return -1;
        }
        errno = EEXIST;
        return -1;
    }
    if (errno != EINVAL && errno != ENOSYS) return -1;
    /* The filesystem cannot do it atomically (FUSE, NFS, CephFS): link, then unlink the old name. */
    return mtor_link_then_unlink(from_dirfd, from, to_dirfd, to);
#elif defined(__APPLE__)
    return renameatx_np(from_dirfd, from, to_dirfd, to, RENAME_EXCL);
#else
    if (linkat(from_dirfd, from, to_dirfd, to, 0) != 0) return -1;
    return unlinkat(from_dirfd, from, 0);
#endif
}

int mtor_statfs_type(const char *path, unsigned long long *type_out) {
#if defined(__linux__)
    struct statfs st;
    if (statfs(path, &st) != 0) return -1;
    *type_out = (unsigned long long)(unsigned long)st.f_type;
    return 0;
#else
    (void)path;
    *type_out = 0;
    return 0;
#endif
}

int mtor_set_child_subreaper(void) {
#if defined(__linux__)
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
#else
    return 0;
#endif
}

int mtor_signalfd(const int *signals) {
#if defined(__linux__)
    sigset_t set;
    sigemptyset(&set);
    for (const int *s = signals; *s; s++) sigaddset(&set, *s);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
#else
    (void)signals;
    errno = ENOSYS;
    return -1;
#endif
}

int mtor_signalfd_read(int fd) {
#if defined(__linux__)
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n != (ssize_t)sizeof info) return -1;
    return (int)info.ssi_signo;
#else
    (void)fd;
    return -1;
#endif
}

static _Atomic int forward_group = 0;

int mtor_forward_group_load(void) { return atomic_load(&forward_group); }

void mtor_forward_group_store(int pgid) { atomic_store(&forward_group, pgid); }

int mtor_wifexited(int status) { return WIFEXITED(status); }
int mtor_wexitstatus(int status) { return WEXITSTATUS(status); }
int mtor_wifsignaled(int status) { return WIFSIGNALED(status); }
int mtor_wtermsig(int status) { return WTERMSIG(status); }
