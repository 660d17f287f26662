#define _GNU_SOURCE
#include "CMtorShims.h"
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <linux/falloc.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#endif

int mtor_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
               int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) { posix_spawn_file_actions_destroy(&actions); return rc; }

    int fds[3] = { stdin_fd, stdout_fd, stderr_fd };
    for (int i = 0; i < 3 && rc == 0; i++) {
        rc = posix_spawn_file_actions_adddup2(&actions, fds[i], i);
    }
#if defined(__linux__)
    if (rc == 0 && cwd) rc = posix_spawn_file_actions_addchdir_np(&actions, cwd);
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#elif defined(__APPLE__)
    if (rc == 0 && cwd) rc = posix_spawn_file_actions_addchdir_np(&actions, cwd);
#endif
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

int mtor_rename_noreplace(int from_dirfd, const char *from, int to_dirfd, const char *to) {
#if defined(__linux__)
    long rc = syscall(SYS_renameat2, from_dirfd, from, to_dirfd, to, 1 /* RENAME_NOREPLACE */);
    if (rc == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return -1;
    /* The filesystem cannot do it atomically: link, then unlink the old name. */
    if (linkat(from_dirfd, from, to_dirfd, to, 0) != 0) return -1;
    if (unlinkat(from_dirfd, from, 0) != 0) return -1;
    return 0;
#elif defined(__APPLE__)
    return renameatx_np(from_dirfd, from, to_dirfd, to, RENAME_EXCL);
#else
    if (linkat(from_dirfd, from, to_dirfd, to, 0) != 0) return -1;
    return unlinkat(from_dirfd, from, 0);
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

int mtor_wifexited(int status) { return WIFEXITED(status); }
int mtor_wexitstatus(int status) { return WEXITSTATUS(status); }
int mtor_wifsignaled(int status) { return WIFSIGNALED(status); }
int mtor_wtermsig(int status) { return WTERMSIG(status); }
