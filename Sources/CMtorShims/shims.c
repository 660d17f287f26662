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
#include <sys/mman.h>
#include <stdint.h>
#endif

#if defined(__linux__)
/* The system calls of a spawned child before it execs. On x86_64 the child shares the worker's
   memory (clone3 with CLONE_VM: no copy-on-write, see mtor_spawn) and runs on the TLS of the thread
   that started it, so it makes raw system calls that return -errno and never write that thread's
   errno. Elsewhere the child is a fork and glibc's syscall() serves. */
#if defined(__x86_64__)
#define MTOR_VM_SPAWN 1
static inline long mtor_sys(long n, long a, long b, long c, long d, long e, long f) {
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile ("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return ret;
}

/* clone3(args, size) whose child calls fn(arg) on the stack named in args, then exits with its
   result; returns the child's pid or -errno in the parent. The kernel starts the child on its new
   stack at the instruction after `syscall`, with the parent's registers: fn (rdx) and arg (r8,
   which syscall preserves) are there. */
long mtor_clone3_call(void *args, unsigned long size, int (*fn)(void *), void *arg);
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".type mtor_clone3_call,@function\n"
    "mtor_clone3_call:\n"
    "    mov %rcx, %r8\n"
    "    mov $435, %eax\n"          /* SYS_clone3 */
    "    syscall\n"
    "    test %rax, %rax\n"
    "    jz 1f\n"
    "    ret\n"
    "1:  xor %ebp, %ebp\n"
    "    and $-16, %rsp\n"
    "    mov %r8, %rdi\n"
    "    call *%rdx\n"
    "    mov %eax, %edi\n"
    "    mov $231, %eax\n"          /* SYS_exit_group */
    "    syscall\n"
    "    hlt\n"
    ".size mtor_clone3_call, .-mtor_clone3_call\n"
);
#else
static inline long mtor_sys(long n, long a, long b, long c, long d, long e, long f) {
    long r = syscall(n, a, b, c, d, e, f);
    return r < 0 ? -errno : r;
}
#endif
#define SYS0(n) mtor_sys(SYS_##n, 0, 0, 0, 0, 0, 0)
#define SYS1(n, a) mtor_sys(SYS_##n, (long)(a), 0, 0, 0, 0, 0)
#define SYS2(n, a, b) mtor_sys(SYS_##n, (long)(a), (long)(b), 0, 0, 0, 0)
#define SYS3(n, a, b, c) mtor_sys(SYS_##n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SYS4(n, a, b, c, d) mtor_sys(SYS_##n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

/* Everything the child needs, in memory that stays put until it has exec'd or died. */
struct child_plan {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int stdin_fd, stdout_fd, stderr_fd, gate_fd, cgroup_fd, memory_fd, hold_fd, report_fd, die_with_parent;
    pid_t parent;
};

/* The kernel's struct sigaction (handler, flags, restorer, 64-bit mask) on x86_64 and arm64. */
struct kernel_sigaction { unsigned long handler, flags, restorer, mask; };

/* The child side of mtor_spawn: raw system calls only, from here to execve. Ends in execve or exit. */
__attribute__((no_stack_protector, noinline))
static int spawn_child(void *arg) {
    const struct child_plan *p = arg;
    long err = 0;
    int report = p->report_fd;
    /* A sandboxed task ends with the worker: SIGKILL when the thread that started it is gone. */
    if (p->die_with_parent) {
        if ((err = SYS2(prctl, PR_SET_PDEATHSIG, SIGKILL)) < 0) goto fail;
        if (SYS0(getppid) != p->parent) { SYS1(exit_group, 125); }
    }
    /* Leave the worker's process group at once: a signal to the worker's group (systemd's or a
       user's SIGTERM) must not reach a child still joining its cgroup, which can take milliseconds. */
    if ((err = SYS2(setpgid, 0, 0)) < 0) goto fail;
    /* Then join the task's cgroup, before anything else: nothing this process starts can ever be outside it. */
    if (p->cgroup_fd >= 0 && (err = SYS3(write, p->cgroup_fd, "0", 1)) != 1) { if (err >= 0) err = -EIO; goto fail; }
    /* And the task's v1 memory cgroup, when it has a memory cap there: never run uncapped. */
    if (p->memory_fd >= 0 && (err = SYS3(write, p->memory_fd, "0", 1)) != 1) { if (err >= 0) err = -EIO; goto fail; }
    /* Signals are blocked here (the worker's mask). Every disposition that is not the default goes
       back to it (a handler of the worker must never run in this child), and a signal that arrived
       for the worker's process group before setpgid is discarded by ignoring it first. */
    unsigned long pending = 0;
    SYS2(rt_sigpending, &pending, 8);
    struct kernel_sigaction dfl = { 0, 0, 0, 0 }, ign = { 1, 0, 0, 0 };
    for (int s = 1; s <= 64; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        struct kernel_sigaction old = { 0, 0, 0, 0 };
        if (SYS4(rt_sigaction, s, 0, &old, 8) < 0) continue;
        int was_pending = (pending >> (s - 1)) & 1;
        if (was_pending) SYS4(rt_sigaction, s, &ign, 0, 8);
        if (was_pending || old.handler != 0) SYS4(rt_sigaction, s, &dfl, 0, 8);
    }
    /* Copies above every descriptor we place, so a dup never overwrites a source. */
    long in = SYS3(fcntl, p->stdin_fd, F_DUPFD_CLOEXEC, 10), out = SYS3(fcntl, p->stdout_fd, F_DUPFD_CLOEXEC, 10);
    long er = SYS3(fcntl, p->stderr_fd, F_DUPFD_CLOEXEC, 10), rep = SYS3(fcntl, p->report_fd, F_DUPFD_CLOEXEC, 10);
    long gate = p->gate_fd >= 0 ? SYS3(fcntl, p->gate_fd, F_DUPFD_CLOEXEC, 10) : -1;
    long hold = p->hold_fd >= 0 ? SYS3(fcntl, p->hold_fd, F_DUPFD_CLOEXEC, 10) : -1;
    if (in < 0 || out < 0 || er < 0 || rep < 0 || (p->gate_fd >= 0 && gate < 0) || (p->hold_fd >= 0 && hold < 0)) {
        err = in < 0 ? in : out < 0 ? out : er < 0 ? er : rep < 0 ? rep : gate < 0 && p->gate_fd >= 0 ? gate : hold;
        goto fail;
    }
    if ((err = SYS3(dup3, in, 0, 0)) < 0 || (err = SYS3(dup3, out, 1, 0)) < 0 || (err = SYS3(dup3, er, 2, 0)) < 0) goto fail;
    if ((err = SYS3(dup3, rep, 4, O_CLOEXEC)) < 0) goto fail;
    report = 4;
    if (gate >= 0) { if ((err = SYS3(dup3, gate, 3, 0)) < 0) goto fail; } else SYS1(close, 3);
    /* The held descriptor waits at 5 (not close-on-exec) until the gate is passed. */
    if (hold >= 0 && (err = SYS3(dup3, hold, 5, 0)) < 0) goto fail;
    /* Drop every other descriptor now, so no other task's pipes are held while we wait. */
    SYS3(close_range, hold >= 0 ? 6U : 5U, ~0U, 0);
    if (gate >= 0) {
        /* Wait until the parent has recorded us; EOF means it died first: never run unseen. */
        char go = 0;
        long n;
        do { n = SYS3(read, 3, &go, 1); } while (n == -EINTR);
        if (n != 1) SYS1(exit_group, 125);
        SYS1(close, 3);
    }
    /* The task's claim lock, inherited as fd 3: held while any process of the task lives. */
    if (hold >= 0) { if ((err = SYS3(dup3, 5, 3, 0)) < 0) goto fail; SYS1(close, 5); }
    unsigned long empty = 0;
    SYS4(rt_sigprocmask, SIG_SETMASK, &empty, 0, 8);
    if (p->cwd && (err = SYS1(chdir, p->cwd)) < 0) goto fail;
    err = SYS3(execve, p->path, p->argv, p->envp);
fail:;
    int code = (int)-err;
    while (SYS3(write, report, &code, sizeof code) == -EINTR) {}
    SYS1(exit_group, 127);
    return 127;
}
#endif

#if defined(__linux__)
/* clone3(2)'s arguments (linux/sched.h, CLONE_ARGS_SIZE_VER2), spelled out so older headers build. */
struct mtor_clone_args {
    unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#define MTOR_CLONE_INTO_CGROUP 0x200000000ULL
#define MTOR_CLONE_CLEAR_SIGHAND 0x100000000ULL

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

/* Bytes of a child's stack in its region (it needs a few hundred). */
#define MTOR_CHILD_STACK 32768

/* Copies `strings` (NULL-terminated) into the region at *cursor: pointer array first, then the bytes. */
static char **copy_strings(char *const strings[], char **cursor) {
    size_t count = 0;
    while (strings[count]) count++;
    char **array = (char **)*cursor;
    char *bytes = *cursor + (count + 1) * sizeof(char *);
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(strings[i]) + 1;
        memcpy(bytes, strings[i], n);
        array[i] = bytes;
        bytes += n;
    }
    array[count] = NULL;
    *cursor = (char *)(((uintptr_t)bytes + 15) & ~(uintptr_t)15);
    return array;
}

static size_t strings_size(char *const strings[]) {
    size_t size = sizeof(char *);
    for (size_t i = 0; strings[i]; i++) size += sizeof(char *) + strlen(strings[i]) + 1;
    return size + 16;
}
#endif

int mtor_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
               int stdin_fd, int stdout_fd, int stderr_fd, int gate_fd, int cgroup_fd, int cgroup_dir_fd, int memory_fd, int hold_fd,
               int die_with_parent, int *report_out, pid_t *pid_out, void **region_out, unsigned long *region_size_out) {
    *region_out = NULL;
    *region_size_out = 0;
#if defined(__linux__)
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    struct child_plan plan = { path, argv, envp, cwd, stdin_fd, stdout_fd, stderr_fd, gate_fd, cgroup_fd, memory_fd, hold_fd, report[1],
                               die_with_parent, getpid() };
    pid_t pid = -1;
#if defined(MTOR_VM_SPAWN)
    /* The child shares this process's memory until it execs, as posix_spawn's does, but unlike it
       may join a cgroup and wait at a gate first. A fork would copy the page tables and make every
       later write of the worker's threads fault and flush other CPUs' TLBs (a third of the worker's
       CPU when it started many short tasks). Its stack and everything it reads (the plan, argv,
       envp, the strings) live in a region of its own, freed by mtor_spawn_region_free once it has
       exec'd or died. */
    size_t size = MTOR_CHILD_STACK + sizeof plan + 16 + strlen(path) + 1 + (cwd ? strlen(cwd) + 1 : 0) + strings_size(argv) + strings_size(envp);
    size = (size + 4095) & ~(size_t)4095;
    char *region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) { int e = errno; close(report[0]); close(report[1]); return e; }
    struct child_plan *copy = (struct child_plan *)(region + MTOR_CHILD_STACK);
    char *cursor = (char *)(copy + 1);
    *copy = plan;
    copy->argv = copy_strings(argv, &cursor);
    copy->envp = copy_strings(envp, &cursor);
    size_t n = strlen(path) + 1;
    memcpy(cursor, path, n);
    copy->path = cursor;
    cursor += n;
    if (cwd) { memcpy(cursor, cwd, strlen(cwd) + 1); copy->cwd = cursor; }
    struct mtor_clone_args args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    args.stack = (unsigned long long)(uintptr_t)region;
    args.stack_size = MTOR_CHILD_STACK;
    /* Born in the task's cgroup when it can be (see fork_into_cgroup), with the worker's signal
       handlers already reset; each flag is dropped in turn where the kernel refuses it. */
    unsigned long long tries[3] = { CLONE_VM | MTOR_CLONE_CLEAR_SIGHAND | MTOR_CLONE_INTO_CGROUP, CLONE_VM | MTOR_CLONE_CLEAR_SIGHAND, CLONE_VM };
    long r = -ENOSYS;
    for (int t = cgroup_dir_fd >= 0 ? 0 : 1; t < 3; t++) {
        args.flags = tries[t];
        args.cgroup = t == 0 ? (unsigned long long)cgroup_dir_fd : 0;
        copy->cgroup_fd = t == 0 ? -1 : cgroup_fd;
        r = mtor_clone3_call(&args, sizeof args, spawn_child, copy);
        if (r >= 0 || r == -ENOSYS) break;
    }
    if (r >= 0) {
        pid = (pid_t)r;
        *region_out = region;
        *region_size_out = size;
    } else {
        munmap(region, size);
    }
#endif
    if (pid < 0) {
        /* fork, not posix_spawn: the child must join a cgroup and may wait at a gate before it execs. */
        if (cgroup_dir_fd >= 0) {
            /* The child of a raw clone3 runs only async-signal-safe system calls until execve, as after fork. */
            pid = fork_into_cgroup(cgroup_dir_fd);
            if (pid >= 0) plan.cgroup_fd = -1; /* already there */
        }
        if (pid < 0) pid = fork();
        if (pid < 0) { int e = errno; close(report[0]); close(report[1]); return e; }
        if (pid == 0) spawn_child(&plan);
    }
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

int mtor_sealed_memfd(const void *bytes, unsigned long length) {
#if defined(__linux__)
    int fd = memfd_create("mtor-input", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    const char *p = bytes;
    unsigned long left = length;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { int e = n < 0 ? errno : EIO; close(fd); errno = e; return -1; }
        p += n;
        left -= (unsigned long)n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
        int e = errno; close(fd); errno = e; return -1;
    }
    return fd;
#else
    (void)bytes; (void)length;
    errno = ENOSYS;
    return -1;
#endif
}

void mtor_spawn_region_free(void *region, unsigned long size) {
#if defined(__linux__)
    if (region) munmap(region, size);
#else
    (void)region; (void)size;
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

int mtor_open_path(const char *path) {
#if defined(__linux__)
    return open(path, O_PATH | O_CLOEXEC);
#else
    (void)path;
    errno = ENOSYS;
    return -1;
#endif
}

int mtor_rename_exchange(const char *a, const char *b) {
#if defined(__linux__)
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */);
#else
    (void)a; (void)b;
    errno = ENOSYS;
    return -1;
#endif
}

int mtor_sole_opener(int fd) {
#if defined(__linux__)
    /* A write lease is granted only while no other open file description of the file exists
       (fs/locks.c check_conflicting_open). It is dropped at once: while held, another open would
       wait for it and signal this process (SIGIO, which the worker ignores). */
    if (fcntl(fd, F_SETLEASE, F_WRLCK) == 0) {
        fcntl(fd, F_SETLEASE, F_UNLCK);
        return 1;
    }
    if (errno == EAGAIN || errno == EBUSY) return 0;
    return -1;
#else
    (void)fd;
    errno = ENOSYS;
    return -1;
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

int mtor_child_exited(pid_t pid, int block) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int r;
    do r = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT | (block ? 0 : WNOHANG));
    while (r < 0 && errno == EINTR);
    if (r < 0) return -errno;
    return info.si_pid != 0;
}
