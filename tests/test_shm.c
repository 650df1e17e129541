/* Unit tests for section 3f of ipc.h: shared memory (ipc_shm_open,
   ipc_memfd_create, ipc_shm_attach_fd, ipc_file_map, ipc_shm_sync,
   ipc_anon_map, ipc_shm_close).

   What they show (TESTING.md rows "names and addresses" for shm names,
   "tmpfs full", "region shrunk", "created under umask 000", "mode set at
   creation", "no clobbering", "close-on-exec", "fork/exec"): bad names are
   refused before any side effect; a created object is 0600 (or the mode
   asked, exactly) whatever the umask; O_EXCL gives -EEXIST; an existing
   object of another owner, or more open than asked, gives -EACCES and is
   left alone; one smaller than asked gives -ENXIO, never SIGBUS; a full
   tmpfs answers -ENOSPC at creation and the name is removed again; a sealed
   memfd cannot shrink or grow, and attaching with IPC_SHM_SEAL refuses an
   unsealed descriptor; a read-only mapping is read-only; an anonymous
   region is shared with a forked child; a mapped file is written back by
   ipc_shm_sync; a symlink is never followed and its target never touched;
   every descriptor is close-on-exec (checked with fcntl and by exec'ing a
   program that looks for it in /proc/self/fd); no descriptor leaks over
   many cycles; and failures leave nothing in /dev/shm. The last test
   reproduces a defect found while writing these: closing a zeroed region
   closed descriptor 0.

   Safety: no region here is larger than 1 MiB, and each test runs with
   RLIMIT_FSIZE at 64 MiB (SIGXFSZ ignored), so even a library that forgot
   its "more than physical memory" check answers -EFBIG instead of filling
   the machine's memory (a memfd has no tmpfs limit). The one test of that
   check asks for the machine's RAM, which the library must refuse before
   it truncates anything.

   Every test records the names and paths it creates and its .fini removes
   them, also after a failed assertion or a crash. Names are
   "/ipct-shm-<pid>-<n>": a test checks that nothing with its prefix is left
   in /dev/shm (other programs may use /dev/shm meanwhile). Children report
   through their exit status (and one line on stderr), always _exit, die
   with the test (PR_SET_PDEATHSIG) and are reaped with a bounded wait.

   Build alone:
     gcc -std=c11 -g -O1 -Wall -Wextra -Wpedantic -Werror -DIPC_TEST_HOOKS -I. \
         -o /tmp/t_shm tests/test_shm.c tests/impl.c -lcriterion -pthread */
#define _GNU_SOURCE
#include "helpers.h"
#include "ipc.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SHM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHM_ASAN 1
#endif
#endif
#ifdef SHM_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/* ==== assertions ========================================================== */

static const char *code_name(long long c) {
    return c < 0 && c >= INT_MIN ? ipc_strerror((int)c) : "-";
}

/* got == want, both printed (with the code's name) when they differ. */
#define EQ(got, want)                                                                                                  \
    do {                                                                                                               \
        long long got_ = (long long)(got), want_ = (long long)(want);                                                  \
        cr_assert(got_ == want_, "%s is %lld (%s), expected %s = %lld (%s)", #got, got_, code_name(got_), #want,       \
                  want_, code_name(want_));                                                                            \
    } while (0)

/* In a child: report one failed check on stderr and _exit(1). */
_Noreturn static void child_fail(int line, const char *what, int with_values, long long got, long long want) {
    if (with_values)
        fprintf(stderr, "test_shm.c:%d (child %d): %s: got %lld (%s), expected %lld\n", line, (int)getpid(), what, got,
                code_name(got), want);
    else
        fprintf(stderr, "test_shm.c:%d (child %d): %s is false\n", line, (int)getpid(), what);
    _exit(1);
}
#define CHK(cond)                                                                                                      \
    do {                                                                                                               \
        if (!(cond)) child_fail(__LINE__, #cond, 0, 0, 0);                                                             \
    } while (0)
#define CHKEQ(got, want)                                                                                               \
    do {                                                                                                               \
        long long g_ = (long long)(got), w_ = (long long)(want);                                                       \
        if (g_ != w_) child_fail(__LINE__, #got " == " #want, 1, g_, w_);                                              \
    } while (0)

/* ==== what each test creates, removed by its .fini ======================== */

enum { REG_MAX = 64 };
static char reg_name[REG_MAX][NAME_MAX + 3]; /* shm names */
static int reg_names;
static char reg_path[REG_MAX][PATH_MAX]; /* files and directories, removed in reverse order */
static int reg_paths;
static pid_t reg_owner; /* the test's process: its children never clean up */
static int name_seq;
static mode_t saved_umask;
static fdset_snap fd_start;
static char shm_prefix[32]; /* "ipct-shm-<pid>-": what this test's names start with in /dev/shm */

/* Raw system calls, not the library: cleanup must not depend on the code
   under test. Async-signal-safe enough for the crash paths below. */
static void reg_cleanup(void) {
    int i;
    if (getpid() != reg_owner) return;
    for (i = 0; i < reg_names; i++)
        shm_unlink(reg_name[i]);
    for (i = reg_paths - 1; i >= 0; i--)
        if (unlink(reg_path[i]) < 0) rmdir(reg_path[i]);
    reg_names = reg_paths = 0;
}

static void on_crash(int sig) {
    reg_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}
static void crash_cleanup_install(void) {
    static const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    size_t i;
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
#ifdef SHM_ASAN
        if (sigs[i] != SIGABRT) continue; /* ASan reports these itself, then runs the death callback */
#endif
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_crash;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        sigaction(sigs[i], &sa, NULL);
    }
#ifdef SHM_ASAN
    __sanitizer_set_death_callback(reg_cleanup);
#endif
}

/* The safety net: no file (tmpfs object, memfd) of this process or its
   children can grow past 64 MiB, whatever the library does. */
static void fsize_limit(void) {
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = (rlim_t)64 << 20;
    setrlimit(RLIMIT_FSIZE, &rl);
    signal(SIGXFSZ, SIG_IGN);
}

static void t_init(void) {
    reg_names = reg_paths = 0;
    reg_owner = getpid();
    snprintf(shm_prefix, sizeof shm_prefix, "ipct-shm-%d-", (int)getpid());
    crash_cleanup_install();
    fsize_limit();
    saved_umask = umask(022);
    umask(saved_umask);
    fdset_take(&fd_start);
}

static void t_fini(void) {
    reg_cleanup();
    umask(saved_umask);
}

#define SHM_TEST(name) Test(shm, name, .init = t_init, .fini = t_fini, .timeout = 20)

#define FD_CHECK()                                                                                                     \
    do {                                                                                                               \
        int leaked_ = fdset_leaked(&fd_start);                                                                         \
        cr_assert(leaked_ == -1, "descriptor %d leaked", leaked_);                                                     \
    } while (0)

/* How many entries of /dev/shm start with this test's prefix. */
static int shm_leftovers(void) {
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    int n = 0;
    cr_assert(d != NULL, "opendir /dev/shm: %s", strerror(errno));
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, shm_prefix, strlen(shm_prefix)) == 0) n++;
    closedir(d);
    return n;
}
#define SHM_CLEAN() EQ(shm_leftovers(), 0)

static const char *reg_shm(const char *name) {
    cr_assert(reg_names < REG_MAX, "too many names in one test");
    cr_assert(strlen(name) < sizeof reg_name[0]);
    strcpy(reg_name[reg_names], name);
    return reg_name[reg_names++];
}
/* A fresh name, "/ipct-shm-<pid>-<n>", removed after the test. */
static const char *shm_new_name(void) {
    char buf[128];
    snprintf(buf, sizeof buf, "/%s%d", shm_prefix, ++name_seq);
    return reg_shm(buf);
}
/* "/dev/shm" + name. */
static const char *shm_path(const char *name) {
    static char p[PATH_MAX];
    snprintf(p, sizeof p, "/dev/shm%s", name);
    return p;
}
static int shm_exists(const char *name) {
    return access(shm_path(name), F_OK) == 0;
}

static const char *reg_file(const char *path) {
    cr_assert(reg_paths < REG_MAX, "too many paths in one test");
    cr_assert(strlen(path) < sizeof reg_path[0]);
    strcpy(reg_path[reg_paths], path);
    return reg_path[reg_paths++];
}
/* A private directory under /tmp (mkdtemp), removed after the test. */
static const char *tmp_dir(void) {
    char buf[64];
    snprintf(buf, sizeof buf, "/tmp/ipct-shm-%d-XXXXXX", (int)getpid());
    cr_assert(mkdtemp(buf) != NULL, "mkdtemp: %s", strerror(errno));
    return reg_file(buf);
}
/* dir/leaf, registered for removal (before dir). */
static const char *tmp_file(const char *dir, const char *leaf) {
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s/%s", dir, leaf);
    return reg_file(buf);
}

/* A raw shm object (not the library's): size bytes of 0x5A, this mode, this
   owner (uid -1: ours). Returns nothing: the object stays for the test. */
static void plant_object(const char *name, size_t size, mode_t mode, uid_t uid) {
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    cr_assert(fd >= 0, "shm_open(%s): %s", name, strerror(errno));
    cr_assert(fchmod(fd, mode) == 0, "fchmod: %s", strerror(errno));
    cr_assert(ftruncate(fd, (off_t)size) == 0, "ftruncate: %s", strerror(errno));
    if (size) {
        uint8_t *p = (uint8_t *)mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        cr_assert(p != MAP_FAILED);
        memset(p, 0x5A, size);
        munmap(p, size);
    }
    if (uid != (uid_t)-1) cr_assert(fchown(fd, uid, uid) == 0, "fchown: %s", strerror(errno));
    close(fd);
}
static struct stat stat_of(const char *path) {
    struct stat st;
    cr_assert(lstat(path, &st) == 0, "lstat(%s): %s", path, strerror(errno));
    return st;
}
static mode_t fd_mode(int fd) {
    struct stat st;
    cr_assert(fstat(fd, &st) == 0, "fstat: %s", strerror(errno));
    return st.st_mode & 07777;
}
static int is_cloexec(int fd) {
    int f = fcntl(fd, F_GETFD);
    cr_assert(f >= 0, "fcntl(%d, F_GETFD): %s", fd, strerror(errno));
    return (f & FD_CLOEXEC) != 0;
}
/* The permissions /proc/self/maps shows for the mapping holding addr
   ("rw-s", "r--s", ...), in out[5]. */
static void map_perms(const void *addr, char out[5]) {
    FILE *f = fopen("/proc/self/maps", "re");
    char line[512];
    uintptr_t a = (uintptr_t)addr;
    strcpy(out, "?");
    cr_assert(f != NULL);
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perm[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) == 3 && a >= lo && a < hi) {
            memcpy(out, perm, 5);
            break;
        }
    }
    fclose(f);
}

/* The exit status of a child that must exit (77: skip). */
static int child_status(pid_t pid, int timeout_ms, const char *what) {
    int st = wait_child(pid, timeout_ms);
    cr_assert(st >= 0, "%s: the child did not finish within %d ms", what, timeout_ms);
    cr_assert(WIFEXITED(st), "%s: the child was killed by signal %d", what, WTERMSIG(st));
    return WEXITSTATUS(st);
}

static int become_nobody(void) {
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) return -1;
    return 0;
}

static void fill(void *p, size_t n, unsigned seed) {
    uint8_t *b = (uint8_t *)p;
    size_t i;
    for (i = 0; i < n; i++)
        b[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 9));
}
static int filled(const void *p, size_t n, unsigned seed) {
    const uint8_t *b = (const uint8_t *)p;
    size_t i;
    for (i = 0; i < n; i++)
        if (b[i] != (uint8_t)(seed * 131u + i * 7u + (i >> 9))) return 0;
    return 1;
}

/* ==== names =============================================================== */

SHM_TEST(bad_names_refused_before_any_side_effect) {
    char longname[NAME_MAX + 8], maxname[NAME_MAX + 8], inner[128], noslash[64], dirpart[64];
    ipc_shm m;
    ipc_ring r;
    size_t i;
    /* "/" + NAME_MAX + 1 characters, all with our prefix */
    snprintf(longname, sizeof longname, "/%s", shm_prefix);
    for (i = strlen(longname); i < NAME_MAX + 2; i++)
        longname[i] = 'L';
    longname[NAME_MAX + 2] = 0;
    cr_assert(strlen(longname + 1) == NAME_MAX + 1);
    memcpy(maxname, longname, sizeof maxname);
    maxname[NAME_MAX + 1] = 0; /* exactly NAME_MAX: allowed */
    snprintf(noslash, sizeof noslash, "%snoslash", shm_prefix);
    snprintf(dirpart, sizeof dirpart, "%sdir", shm_prefix);
    snprintf(inner, sizeof inner, "/%s/x", dirpart);
    {
        const char *bad[] = {noslash, inner, "", "/", "//", NULL}; /* (a NULL ring name is an anonymous ring) */
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            const char *what = bad[i] ? bad[i] : "(null)";
            cr_assert(ipc_shm_open(&m, bad[i], IPC_O_CREATE | IPC_O_EXCL, 0, 4096) == -EINVAL, "shm_open %s", what);
            cr_assert(m.addr == NULL && m.fd == -1, "a refused open leaves the region cleared");
            cr_assert(ipc_shm_open(&m, bad[i], 0, 0, 0) == -EINVAL, "shm_open existing %s", what);
            cr_assert(ipc_shm_unlink(bad[i]) == -EINVAL, "shm_unlink %s", what);
            if (bad[i]) cr_assert(ipc_ring_open(&r, bad[i], IPC_O_CREATE, 0, 256) == -EINVAL, "ring_open %s", what);
            cr_assert(ipc_ring_unlink(bad[i]) == -EINVAL, "ring_unlink %s", what);
        }
    }
    EQ(ipc_shm_open(&m, longname, IPC_O_CREATE | IPC_O_EXCL, 0, 4096), -ENAMETOOLONG);
    EQ(ipc_shm_open(&m, longname, 0, 0, 0), -ENAMETOOLONG);
    EQ(ipc_shm_unlink(longname), -ENAMETOOLONG);
    EQ(ipc_ring_open(&r, longname, IPC_O_CREATE, 0, 256), -ENAMETOOLONG);
    /* nothing appeared: not the name without its slash, not the directory
       part, not a truncated long name */
    {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "/dev/shm/%s", noslash);
        cr_assert(access(p, F_OK) != 0, "%s appeared", p);
        snprintf(p, sizeof p, "/dev/shm/%s", dirpart);
        cr_assert(access(p, F_OK) != 0, "%s appeared", p);
    }
    SHM_CLEAN();
    /* exactly NAME_MAX characters is fine, and removable */
    reg_shm(maxname);
    EQ(ipc_shm_open(&m, maxname, IPC_O_CREATE | IPC_O_EXCL, 0, 4096), 0);
    EQ(m.size, 4096);
    EQ(ipc_shm_close(&m), 0);
    EQ(ipc_shm_unlink(maxname), 0);
    EQ(ipc_shm_unlink(maxname), -ENOENT);
    SHM_CLEAN();
    FD_CHECK();
}

/* ==== creation: mode, exclusivity, reservation ============================= */

SHM_TEST(created_0600_under_umask_000_and_exact_mode_despite_umask) {
    const char *a = shm_new_name(), *b = shm_new_name(), *c = shm_new_name();
    ipc_shm m;
    struct stat st;
    umask(0);
    EQ(ipc_shm_open(&m, a, IPC_O_CREATE | IPC_O_EXCL, 0, 8192), 0);
    EQ(fd_mode(m.fd), 0600);
    st = stat_of(shm_path(a));
    EQ(st.st_mode & 07777, 0600);
    EQ(st.st_uid, geteuid());
    EQ(st.st_gid, getegid());
    EQ(st.st_size, 8192);
    cr_assert((long long)st.st_blocks * 512 >= 8192, "the region's memory is reserved at creation (%lld blocks)",
              (long long)st.st_blocks);
    EQ(m.size, 8192);
    { /* zero-filled, writable */
        uint8_t *p = (uint8_t *)m.addr;
        size_t i;
        for (i = 0; i < m.size; i++)
            cr_assert(p[i] == 0);
        memset(p, 0xA5, m.size);
    }
    EQ(ipc_shm_close(&m), 0);
    /* an explicit mode is exact: neither umask 000 nor umask 077 changes it */
    EQ(ipc_shm_open(&m, b, IPC_O_CREATE | IPC_O_EXCL, 0640, 4096), 0);
    EQ(fd_mode(m.fd), 0640);
    EQ(ipc_shm_close(&m), 0);
    umask(077);
    EQ(ipc_shm_open(&m, c, IPC_O_CREATE | IPC_O_EXCL, 0660, 4096), 0);
    EQ(fd_mode(m.fd), 0660);
    EQ(ipc_shm_close(&m), 0);
    /* reopening a (0640) object with that mode maps the same memory */
    EQ(ipc_shm_open(&m, a, 0, 0, 0), 0);
    EQ(m.size, 8192);
    cr_assert(((uint8_t *)m.addr)[0] == 0xA5 && ((uint8_t *)m.addr)[8191] == 0xA5);
    EQ(ipc_shm_close(&m), 0);
    EQ(ipc_shm_unlink(a), 0);
    EQ(ipc_shm_unlink(b), 0);
    EQ(ipc_shm_unlink(c), 0);
    SHM_CLEAN();
    FD_CHECK();
}

SHM_TEST(excl_gives_eexist_create_opens_existing_open_missing_enoent) {
    const char *a = shm_new_name(), *gone = shm_new_name();
    ipc_shm m1, m2, m3;
    EQ(ipc_shm_open(&m1, a, IPC_O_CREATE | IPC_O_EXCL, 0, 4096), 0);
    fill(m1.addr, 4096, 7);
    EQ(ipc_shm_open(&m2, a, IPC_O_CREATE | IPC_O_EXCL, 0, 4096), -EEXIST);
    cr_assert(m2.addr == NULL && m2.fd == -1);
    cr_assert(shm_exists(a), "a refused exclusive create removed the existing object");
    /* create without O_EXCL opens the existing object: the same memory */
    EQ(ipc_shm_open(&m2, a, IPC_O_CREATE, 0, 4096), 0);
    cr_assert(filled(m2.addr, 4096, 7));
    ((uint8_t *)m2.addr)[100] = 0x11;
    cr_assert(((uint8_t *)m1.addr)[100] == 0x11, "two mappings of one object share memory");
    /* read-only: a read-only mapping */
    EQ(ipc_shm_open(&m3, a, IPC_O_RDONLY, 0, 0), 0);
    {
        char perm[5];
        map_perms(m3.addr, perm);
        cr_assert(strcmp(perm, "r--s") == 0, "IPC_O_RDONLY maps %s", perm);
        EQ(fcntl(m3.fd, F_GETFL) & O_ACCMODE, O_RDONLY);
        map_perms(m1.addr, perm);
        cr_assert(strcmp(perm, "rw-s") == 0, "a read-write open maps %s", perm);
    }
    cr_assert(((uint8_t *)m3.addr)[100] == 0x11);
    EQ(ipc_shm_close(&m3), 0);
    EQ(ipc_shm_close(&m2), 0);
    EQ(ipc_shm_close(&m1), 0);
    EQ(ipc_shm_close(&m1), 0); /* twice is safe */
    /* size 0 at creation is refused, nothing created */
    EQ(ipc_shm_open(&m1, gone, IPC_O_CREATE | IPC_O_EXCL, 0, 0), -EINVAL);
    cr_assert(!shm_exists(gone));
    EQ(ipc_shm_open(&m1, gone, 0, 0, 0), -ENOENT);
    EQ(ipc_shm_open(&m1, gone, 0, 0, 4096), -ENOENT);
    EQ(ipc_shm_unlink(a), 0);
    EQ(ipc_shm_open(&m1, a, 0, 0, 0), -ENOENT);
    SHM_CLEAN();
    FD_CHECK();
}

/* ==== existing objects: owner, mode, size ================================== */

SHM_TEST(object_of_another_owner_is_eacces_and_left_alone) {
    const char *a = shm_new_name();
    ipc_shm m;
    struct stat st;
    plant_object(a, 4096, 0600, 65534);
    st = stat_of(shm_path(a));
    EQ(st.st_uid, 65534);
    EQ(ipc_shm_open(&m, a, 0, 0, 0), -EACCES);
    cr_assert(m.addr == NULL && m.fd == -1);
    EQ(ipc_shm_open(&m, a, IPC_O_CREATE, 0, 4096), -EACCES);
    EQ(ipc_shm_open(&m, a, IPC_O_RDONLY, 0666, 0), -EACCES);
    EQ(ipc_shm_open(&m, a, IPC_O_CREATE | IPC_O_EXCL, 0, 4096), -EEXIST);
    /* untouched: still there, same owner, same size, same bytes */
    st = stat_of(shm_path(a));
    EQ(st.st_uid, 65534);
    EQ(st.st_size, 4096);
    {
        int fd = open(shm_path(a), O_RDONLY | O_CLOEXEC);
        uint8_t b[4096];
        size_t i;
        cr_assert(fd >= 0);
        EQ(read(fd, b, sizeof b), 4096);
        close(fd);
        for (i = 0; i < sizeof b; i++)
            cr_assert(b[i] == 0x5A, "byte %zu changed", i);
    }
    FD_CHECK();
}

SHM_TEST(another_uid_cannot_open_our_object) {
    const char *a = shm_new_name();
    ipc_shm m;
    pid_t pid;
    umask(0);
    EQ(ipc_shm_open(&m, a, IPC_O_CREATE | IPC_O_EXCL, 0, 4096), 0);
    pid = fork_child();
    if (pid == 0) {
        ipc_shm m2;
        if (become_nobody() < 0) _exit(77);
        CHKEQ(ipc_shm_open(&m2, a, 0, 0, 0), -EACCES);
        CHKEQ(ipc_shm_open(&m2, a, IPC_O_RDONLY, 0666, 0), -EACCES);
        CHKEQ(ipc_shm_open(&m2, a, IPC_O_CREATE, 0, 4096), -EACCES);
        CHKEQ(ipc_shm_unlink(a), -EACCES); /* sticky /dev/shm: not the owner */
        _exit(0);
    }
    {
        int st = child_status(pid, 5000, "nobody opens");
        if (st == 77) cr_skip("cannot become uid 65534");
        EQ(st, 0);
    }
    cr_assert(shm_exists(a));
    EQ(ipc_shm_close(&m), 0);
    EQ(ipc_shm_unlink(a), 0);
    SHM_CLEAN();
    FD_CHECK();
}

SHM_TEST(more_open_mode_than_asked_is_eacces) {
    const char *a = shm_new_name(), *b = shm_new_name();
    ipc_shm m;
    plant_object(a, 4096, 0644, (uid_t)-1);
    EQ(ipc_shm_open(&m, a, 0, 0, 0), -EACCES);    /* 0 = 0600 < 0644 */
    EQ(ipc_shm_open(&m, a, 0, 0600, 0), -EACCES); /* group/other read not asked */
    EQ(ipc_shm_open(&m, a, 0, 0640, 0), -EACCES); /* other read not asked */
    EQ(ipc_shm_open(&m, a, IPC_O_CREATE, 0, 4096), -EACCES);
    EQ(ipc_shm_open(&m, a, 0, 0644, 0), 0); /* exactly as open */
    EQ(ipc_shm_close(&m), 0);
    EQ(ipc_shm_open(&m, a, 0, 0666, 0), 0); /* less open than asked is fine */
    EQ(ipc_shm_close(&m), 0);
    cr_assert(shm_exists(a));
    /* an object with an execute or setuid-like bit is more open than 0600 too */
    plant_object(b, 4096, 0700, (uid_t)-1);
    EQ(ipc_shm_open(&m, b, 0, 0, 0), -EACCES);
    EQ(ipc_shm_open(&m, b, 0, 0700, 0), 0);
    EQ(ipc_shm_close(&m), 0);
    FD_CHECK();
}

SHM_TEST(smaller_than_asked_is_enxio_never_sigbus) {
    const char *a = shm_new_name(), *z = shm_new_name();
    ipc_shm m;
    plant_object(a, 4096, 0600, (uid_t)-1);
    EQ(ipc_shm_open(&m, a, 0, 0, 4097), -ENXIO);
    EQ(ipc_shm_open(&m, a, 0, 0, 8192), -ENXIO);
    EQ(ipc_shm_open(&m, a, IPC_O_CREATE, 0, 1 << 20), -ENXIO); /* exists, too small: not grown */
    EQ(stat_of(shm_path(a)).st_size, 4096);
    EQ(ipc_shm_open(&m, a, 0, 0, 4096), 0);
    EQ(m.size, 4096);
    cr_assert(((uint8_t *)m.addr)[4095] == 0x5A);
    EQ(ipc_shm_close(&m), 0);
    EQ(ipc_shm_open(&m, a, 0, 0, 100), 0); /* a smaller view is fine */
    EQ(m.size, 100);
    EQ(ipc_shm_close(&m), 0);
    /* the peer shrinks the object before we attach: refused at attach */
    {
        int fd = shm_open(a, O_RDWR | O_CLOEXEC, 0);
        cr_assert(fd >= 0);
        cr_assert(ftruncate(fd, 1000) == 0);
        close(fd);
    }
    EQ(ipc_shm_open(&m, a, 0, 0, 4096), -ENXIO);
    EQ(ipc_shm_open(&m, a, 0, 0, 0), 0); /* size 0 maps what is there */
    EQ(m.size, 1000);
    EQ(ipc_shm_close(&m), 0);
    /* an empty object: nothing to map, for any size */
    plant_object(z, 0, 0600, (uid_t)-1);
    EQ(ipc_shm_open(&m, z, 0, 0, 0), -ENXIO);
    EQ(ipc_shm_open(&m, z, 0, 0, 1), -ENXIO);
    cr_assert(shm_exists(a) && shm_exists(z), "a refused open must not remove an object it did not create");
    FD_CHECK();
}

/* ==== tmpfs full ========================================================== */

static int dir_entries(const char *path) {
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

SHM_TEST(full_tmpfs_is_enospc_at_creation_and_leaves_nothing) {
    const char *a = shm_new_name(), *b = shm_new_name();
    pid_t pid = fork_child();
    if (pid == 0) {
        ipc_shm m;
        ipc_ring r;
        if (unshare(CLONE_NEWNS) < 0) _exit(77);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) _exit(77);
        if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=1777") < 0) _exit(77);
        CHKEQ(dir_entries("/dev/shm"), 0);
        CHKEQ(ipc_shm_open(&m, a, IPC_O_CREATE | IPC_O_EXCL, 0, 1 << 20), -ENOSPC);
        CHK(m.addr == NULL && m.fd == -1);
        CHKEQ(dir_entries("/dev/shm"), 0);
        CHKEQ(ipc_shm_open(&m, a, IPC_O_CREATE, 0, 1 << 20), -ENOSPC);
        CHKEQ(dir_entries("/dev/shm"), 0);
        /* a ring is a region too */
        CHKEQ(ipc_ring_open(&r, b, IPC_O_CREATE, 0, 1 << 19), -ENOSPC);
        CHKEQ(dir_entries("/dev/shm"), 0);
        /* a mapped file on that tmpfs */
        CHKEQ(ipc_file_map(&m, "/dev/shm/ipct-file", IPC_O_CREATE, 0, 1 << 20), -ENOSPC);
        CHKEQ(dir_entries("/dev/shm"), 0);
        /* 40 KiB fits, and reserves: another 40 KiB no longer does */
        CHKEQ(ipc_shm_open(&m, a, IPC_O_CREATE | IPC_O_EXCL, 0, 40 << 10), 0);
        memset(m.addr, 0x33, m.size); /* touching every page: no SIGBUS */
        {
            ipc_shm m2;
            CHKEQ(ipc_shm_open(&m2, b, IPC_O_CREATE | IPC_O_EXCL, 0, 40 << 10), -ENOSPC);
            CHKEQ(dir_entries("/dev/shm"), 1);
        }
        CHKEQ(ipc_shm_close(&m), 0);
        CHKEQ(ipc_shm_unlink(a), 0);
        CHKEQ(dir_entries("/dev/shm"), 0);
        /* the memfd is not on that tmpfs: it still works */
        CHKEQ(ipc_memfd_create(&m, "x", 1 << 20, IPC_SHM_SEAL), 0);
        CHKEQ(ipc_shm_close(&m), 0);
        _exit(0);
    }
    {
        int st = child_status(pid, 10000, "tmpfs full");
        if (st == 77) cr_skip("unshare(CLONE_NEWNS) or mount is not permitted here");
        EQ(st, 0);
    }
    /* the machine's /dev/shm never saw any of it */
    cr_assert(!shm_exists(a) && !shm_exists(b));
    SHM_CLEAN();
    FD_CHECK();
}

/* ==== size limits (refused sizes only) ===================================== */

SHM_TEST(sizes_beyond_memory_refused_before_any_reservation) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    const char *a = shm_new_name();
    size_t ram;
    ipc_shm m;
    ipc_ring r;
    cr_assert(pages > 0 && page > 0);
    ram = (size_t)pages * (size_t)page; /* the whole machine: refused */
    /* RLIMIT_FSIZE (t_init) turns a missing check into -EFBIG, not an OOM */
    EQ(ipc_memfd_create(&m, "big", ram, 0), -ENOMEM);
    EQ(ipc_memfd_create(&m, "big", ram, IPC_SHM_SEAL), -ENOMEM);
    EQ(ipc_memfd_create(&m, "big", SIZE_MAX, 0), -EINVAL);
    EQ(ipc_memfd_create(&m, "big", (size_t)INT64_MAX + 1, 0), -EINVAL);
    EQ(ipc_shm_open(&m, a, IPC_O_CREATE | IPC_O_EXCL, 0, ram), -ENOMEM);
    cr_assert(!shm_exists(a), "a refused creation removes its name again");
    EQ(ipc_anon_map(&m, 0), -EINVAL);
    EQ(ipc_memfd_create(&m, "zero", 0, 0), -EINVAL);
    /* the ring: capacity at most 1 GiB, checked before anything is made */
    EQ(ipc_ring_open(&r, NULL, IPC_O_CREATE, 0, ((size_t)1 << 30) + 1), -EINVAL);
    EQ(ipc_ring_open(&r, a, IPC_O_CREATE, 0, ((size_t)1 << 30) + 1), -EINVAL);
    EQ(ipc_ring_open(&r, NULL, IPC_O_CREATE, 0, SIZE_MAX), -EINVAL);
    cr_assert(!shm_exists(a));
    SHM_CLEAN();
    FD_CHECK();
}

/* ==== memfd and attach_fd ================================================= */

SHM_TEST(sealed_memfd_cannot_shrink_or_grow) {
    ipc_shm m;
    int seals;
    EQ(ipc_memfd_create(&m, "ipct-sealed", 8192, IPC_SHM_SEAL), 0);
    cr_assert(m.fd >= 0 && m.addr != NULL);
    EQ(m.size, 8192);
    cr_assert(is_cloexec(m.fd));
    seals = fcntl(m.fd, F_GET_SEALS);
    cr_assert(seals >= 0);
    cr_assert((seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) == (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
              "seals %#x", seals);
    errno = 0;
    cr_assert(ftruncate(m.fd, 4096) < 0 && errno == EPERM, "shrinking a sealed memfd: %s", strerror(errno));
    errno = 0;
    cr_assert(ftruncate(m.fd, 0) < 0 && errno == EPERM, "truncating a sealed memfd to 0: %s", strerror(errno));
    errno = 0;
    cr_assert(ftruncate(m.fd, 16384) < 0 && errno == EPERM, "growing a sealed memfd: %s", strerror(errno));
    errno = 0;
    cr_assert(fcntl(m.fd, F_ADD_SEALS, F_SEAL_WRITE) < 0 && errno == EPERM, "the seals are sealed");
    { /* reserved and writable all through */
        struct stat st;
        cr_assert(fstat(m.fd, &st) == 0);
        EQ(st.st_size, 8192);
        cr_assert((long long)st.st_blocks * 512 >= 8192);
        memset(m.addr, 0x77, m.size);
    }
    {
        char lnk[64], target[256];
        ssize_t n;
        snprintf(lnk, sizeof lnk, "/proc/self/fd/%d", m.fd);
        n = readlink(lnk, target, sizeof target - 1);
        cr_assert(n > 0);
        target[n] = 0;
        cr_assert(strstr(target, "memfd:ipct-sealed") != NULL, "the label shows in /proc: %s", target);
    }
    EQ(ipc_shm_close(&m), 0);
    /* unsealed: a shrink is possible (what IPC_SHM_SEAL prevents) */
    EQ(ipc_memfd_create(&m, NULL, 8192, 0), 0);
    EQ(fcntl(m.fd, F_GET_SEALS) & F_SEAL_SHRINK, 0);
    EQ(ipc_shm_close(&m), 0);
    /* unknown flags */
    EQ(ipc_memfd_create(&m, "x", 4096, 0x1000), -EINVAL);
    EQ(ipc_memfd_create(&m, "x", 4096, IPC_O_CREATE), -EINVAL);
    cr_assert(m.fd == -1 && m.addr == NULL);
    FD_CHECK();
}

SHM_TEST(attach_fd_checks_seal_size_and_type) {
    ipc_shm src, m;
    int fd, p[2];
    const char *a = shm_new_name();
    /* an unsealed memfd with IPC_SHM_SEAL: -EPERM, the caller keeps fd */
    EQ(ipc_memfd_create(&src, "unsealed", 8192, 0), 0);
    fd = fcntl(src.fd, F_DUPFD_CLOEXEC, 0);
    cr_assert(fd >= 0);
    EQ(ipc_shm_attach_fd(&m, fd, IPC_SHM_SEAL, 0), -EPERM);
    cr_assert(m.addr == NULL && m.fd == -1);
    cr_assert(fcntl(fd, F_GETFD) >= 0, "a refused attach leaves the descriptor open");
    /* without the seal requirement it attaches; the region owns fd */
    EQ(ipc_shm_attach_fd(&m, fd, 0, 0), 0);
    EQ(m.size, 8192);
    EQ(m.fd, fd);
    fill(src.addr, 8192, 3);
    cr_assert(filled(m.addr, 8192, 3), "the attached mapping shares the memory");
    EQ(ipc_shm_close(&m), 0);
    cr_assert(fcntl(fd, F_GETFD) < 0 && errno == EBADF, "close closed the attached descriptor");
    EQ(ipc_shm_close(&src), 0);

    /* a sealed one: fine, with a size check */
    EQ(ipc_memfd_create(&src, "sealed", 8192, IPC_SHM_SEAL), 0);
    fd = fcntl(src.fd, F_DUPFD_CLOEXEC, 0);
    EQ(ipc_shm_attach_fd(&m, fd, IPC_SHM_SEAL, 8193), -ENXIO);
    EQ(ipc_shm_attach_fd(&m, fd, IPC_SHM_SEAL, 8192), 0);
    EQ(m.size, 8192);
    EQ(ipc_shm_close(&m), 0);
    fd = fcntl(src.fd, F_DUPFD_CLOEXEC, 0);
    EQ(ipc_shm_attach_fd(&m, fd, IPC_SHM_SEAL | IPC_O_RDONLY, 4096), 0);
    EQ(m.size, 4096);
    {
        char perm[5];
        map_perms(m.addr, perm);
        cr_assert(strcmp(perm, "r--s") == 0, "IPC_O_RDONLY maps %s", perm);
    }
    EQ(ipc_shm_close(&m), 0);
    EQ(ipc_shm_close(&src), 0);

    /* a named object's descriptor cannot carry seals: -EPERM with IPC_SHM_SEAL */
    EQ(ipc_shm_open(&src, a, IPC_O_CREATE | IPC_O_EXCL, 0, 4096), 0);
    fd = fcntl(src.fd, F_DUPFD_CLOEXEC, 0);
    EQ(ipc_shm_attach_fd(&m, fd, IPC_SHM_SEAL, 0), -EPERM);
    EQ(ipc_shm_attach_fd(&m, fd, 0, 0), 0); /* another owner would be fine too: the descriptor is the permission */
    EQ(ipc_shm_close(&m), 0);
    EQ(ipc_shm_close(&src), 0);
    EQ(ipc_shm_unlink(a), 0);

    /* not a regular file: a pipe */
    cr_assert(pipe2(p, O_CLOEXEC) == 0);
    EQ(ipc_shm_attach_fd(&m, p[0], 0, 0), -EINVAL);
    EQ(ipc_shm_attach_fd(&m, p[0], IPC_SHM_SEAL, 0), -EPERM);
    close(p[0]);
    close(p[1]);
    /* an empty memfd: nothing to map */
    fd = memfd_create("empty", MFD_CLOEXEC);
    cr_assert(fd >= 0);
    EQ(ipc_shm_attach_fd(&m, fd, 0, 0), -ENXIO);
    close(fd);
    /* a closed descriptor */
    EQ(ipc_shm_attach_fd(&m, fd, 0, 0), -EBADF);
    SHM_CLEAN();
    FD_CHECK();
}

/* ==== anonymous and file mappings ========================================= */

SHM_TEST(anon_map_is_shared_with_a_forked_child) {
    ipc_shm m;
    volatile uint32_t *w;
    pid_t pid;
    EQ(ipc_anon_map(&m, 4 * 4096), 0);
    EQ(m.fd, -1);
    EQ(m.size, 4 * 4096);
    w = (volatile uint32_t *)m.addr;
    cr_assert(w[0] == 0 && w[4095] == 0, "zero-filled");
    w[1] = 0xC0FFEE;
    pid = fork_child();
    if (pid == 0) {
        int i;
        CHKEQ(w[1], 0xC0FFEE); /* the parent's write, seen */
        fill((uint8_t *)m.addr + 4096, 3 * 4096, 9);
        __atomic_store_n((uint32_t *)&w[0], 1, __ATOMIC_RELEASE);
        /* and the parent's answer, seen by the child */
        for (i = 0; i < 5000 && __atomic_load_n((uint32_t *)&w[2], __ATOMIC_ACQUIRE) != 42; i++)
            sleep_ms(1);
        CHKEQ(w[2], 42);
        _exit(0);
    }
    {
        int i;
        for (i = 0; i < 5000 && __atomic_load_n((uint32_t *)&w[0], __ATOMIC_ACQUIRE) != 1; i++)
            sleep_ms(1);
        EQ(w[0], 1);
        cr_assert(filled((uint8_t *)m.addr + 4096, 3 * 4096, 9), "the child's bytes, seen by the parent");
        __atomic_store_n((uint32_t *)&w[2], 42, __ATOMIC_RELEASE);
    }
    assert_child_ok(pid, 10000, "anon child");
    EQ(ipc_shm_close(&m), 0);
    cr_assert(m.addr == NULL && m.size == 0 && m.fd == -1);
    EQ(ipc_shm_sync(&m, 0), -EINVAL); /* closed: nothing to sync */
    FD_CHECK();
}

SHM_TEST(file_map_created_0600_written_back_by_sync) {
    const char *dir = tmp_dir();
    const char *f = tmp_file(dir, "region");
    ipc_shm m;
    struct stat st;
    uint8_t back[8192];
    int fd;
    umask(0);
    EQ(ipc_file_map(&m, f, IPC_O_CREATE | IPC_O_EXCL, 0, 8192), 0);
    cr_assert(is_cloexec(m.fd));
    st = stat_of(f);
    EQ(st.st_mode & 07777, 0600);
    EQ(st.st_size, 8192);
    EQ(st.st_uid, geteuid());
    fill(m.addr, 8192, 5);
    EQ(ipc_shm_sync(&m, 0), 0);
    fd = open(f, O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0);
    EQ(pread(fd, back, sizeof back, 0), 8192);
    cr_assert(filled(back, 8192, 5), "read() sees what was written through the mapping");
    fill(m.addr, 4096, 6);
    EQ(ipc_shm_sync(&m, 1), 0); /* async: scheduled; a shared mapping is coherent with read() anyway */
    EQ(pread(fd, back, 4096, 0), 4096);
    cr_assert(filled(back, 4096, 6));
    close(fd);
    EQ(ipc_shm_close(&m), 0);
    /* reopened: the bytes persist; size 0 maps it whole */
    EQ(ipc_file_map(&m, f, 0, 0, 0), 0);
    EQ(m.size, 8192);
    cr_assert(filled(m.addr, 4096, 6));
    EQ(ipc_shm_close(&m), 0);
    EQ(ipc_file_map(&m, f, IPC_O_CREATE | IPC_O_EXCL, 0, 8192), -EEXIST);
    EQ(ipc_file_map(&m, f, 0, 0, 8193), -ENXIO);
    EQ(ipc_file_map(&m, f, IPC_O_CREATE, 0, 1 << 20), -ENXIO);
    EQ(stat_of(f).st_size, 8192); /* not grown */
    cr_assert(chmod(f, 0644) == 0);
    EQ(ipc_file_map(&m, f, 0, 0, 0), -EACCES);
    EQ(ipc_file_map(&m, f, 0, 0644, 0), 0);
    EQ(ipc_shm_close(&m), 0);
    cr_assert(chown(f, 65534, 65534) == 0);
    EQ(ipc_file_map(&m, f, 0, 0644, 0), -EACCES);
    EQ(stat_of(f).st_size, 8192);
    /* bad arguments */
    EQ(ipc_file_map(&m, "", IPC_O_CREATE, 0, 4096), -EINVAL);
    EQ(ipc_file_map(&m, NULL, IPC_O_CREATE, 0, 4096), -EINVAL);
    EQ(ipc_file_map(&m, tmp_file(dir, "zero"), IPC_O_CREATE, 0, 0), -EINVAL);
    cr_assert(access(reg_path[reg_paths - 1], F_OK) != 0, "size 0 created nothing");
    EQ(ipc_file_map(&m, dir, 0, 0700, 0), -EISDIR);
    EQ(ipc_file_map(&m, tmp_file(dir, "missing"), 0, 0, 0), -ENOENT);
    FD_CHECK();
}

SHM_TEST(file_map_never_follows_a_symlink) {
    const char *dir = tmp_dir();
    const char *target = tmp_file(dir, "target");
    const char *lnk = tmp_file(dir, "link");
    const char *dangling = tmp_file(dir, "dangling");
    const char *nowhere = tmp_file(dir, "nowhere");
    static const char precious[] = "precious bytes";
    struct stat before, after;
    ipc_shm m;
    char back[64];
    int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    cr_assert(fd >= 0);
    EQ(write(fd, precious, sizeof precious), (long long)sizeof precious);
    close(fd);
    cr_assert(symlink(target, lnk) == 0);
    cr_assert(symlink(nowhere, dangling) == 0);
    before = stat_of(target);
    EQ(ipc_file_map(&m, lnk, 0, 0, 0), -ELOOP);
    EQ(ipc_file_map(&m, lnk, IPC_O_RDONLY, 0, 0), -ELOOP);
    EQ(ipc_file_map(&m, lnk, IPC_O_CREATE, 0, 8192), -ELOOP);
    EQ(ipc_file_map(&m, lnk, IPC_O_CREATE | IPC_O_EXCL, 0, 8192), -EEXIST);
    cr_assert(m.addr == NULL && m.fd == -1);
    after = stat_of(target);
    EQ(after.st_size, before.st_size);
    EQ(after.st_mode, before.st_mode);
    EQ(after.st_uid, before.st_uid);
    fd = open(target, O_RDONLY | O_CLOEXEC);
    EQ(read(fd, back, sizeof back), (long long)sizeof precious);
    close(fd);
    cr_assert(memcmp(back, precious, sizeof precious) == 0, "the symlink's target is untouched");
    cr_assert(S_ISLNK(stat_of(lnk).st_mode), "the symlink itself is left in place");
    /* a dangling link: never creates its target */
    EQ(ipc_file_map(&m, dangling, IPC_O_CREATE, 0, 8192), -ELOOP);
    EQ(ipc_file_map(&m, dangling, IPC_O_CREATE | IPC_O_EXCL, 0, 8192), -EEXIST);
    cr_assert(access(nowhere, F_OK) != 0 && errno == ENOENT, "the dangling link's target was created");
    cr_assert(S_ISLNK(stat_of(dangling).st_mode));
    FD_CHECK();
}

/* ==== descriptors ========================================================= */

/* 1 when a program exec'd from a child still has descriptor fd (it was
   inherited), 0 when it has not: /usr/bin/test -e /proc/self/fd/N. */
static int fd_survives_exec(int fd) {
    char path[64];
    pid_t pid;
    int st;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    pid = fork_child();
    if (pid == 0) {
        execl("/usr/bin/test", "test", "-e", path, (char *)NULL);
        _exit(127);
    }
    st = child_status(pid, 5000, "exec probe");
    cr_assert(st != 127, "exec /usr/bin/test failed");
    return st == 0;
}

SHM_TEST(every_descriptor_is_close_on_exec) {
    const char *a = shm_new_name(), *rn = shm_new_name();
    const char *dir = tmp_dir();
    const char *f = tmp_file(dir, "f");
    ipc_shm s1, s2, s3, s4;
    ipc_ring r1, r2;
    int fds[6], i, plain;
    EQ(ipc_shm_open(&s1, a, IPC_O_CREATE | IPC_O_EXCL, 0, 4096), 0);
    EQ(ipc_shm_open(&s2, a, IPC_O_RDONLY, 0, 0), 0);
    EQ(ipc_memfd_create(&s3, "c", 4096, IPC_SHM_SEAL), 0);
    EQ(ipc_file_map(&s4, f, IPC_O_CREATE, 0, 4096), 0);
    EQ(ipc_ring_open(&r1, NULL, IPC_O_CREATE, 0, 256), 0);
    EQ(ipc_ring_open(&r2, rn, IPC_O_CREATE | IPC_O_EXCL, 0, 256), 0);
    fds[0] = s1.fd, fds[1] = s2.fd, fds[2] = s3.fd, fds[3] = s4.fd, fds[4] = r1.shm.fd, fds[5] = r2.shm.fd;
    for (i = 0; i < 6; i++) {
        cr_assert(fds[i] >= 0);
        cr_assert(is_cloexec(fds[i]), "descriptor %d (#%d) is not close-on-exec", fds[i], i);
    }
    /* the probe itself can fail: a descriptor without the flag survives exec */
    plain = dup(s1.fd);
    cr_assert(plain >= 0 && !is_cloexec(plain));
    cr_assert(fd_survives_exec(plain), "the exec probe cannot see an inherited descriptor");
    close(plain);
    for (i = 0; i < 6; i++)
        cr_assert(!fd_survives_exec(fds[i]), "descriptor %d (#%d) survived exec", fds[i], i);
    EQ(ipc_ring_close(&r2), 0);
    EQ(ipc_ring_close(&r1), 0);
    EQ(ipc_shm_close(&s4), 0);
    EQ(ipc_shm_close(&s3), 0);
    EQ(ipc_shm_close(&s2), 0);
    EQ(ipc_shm_close(&s1), 0);
    EQ(ipc_shm_unlink(a), 0);
    EQ(ipc_ring_unlink(rn), 0);
    SHM_CLEAN();
    FD_CHECK();
}

SHM_TEST(no_descriptor_or_name_leaks_over_many_cycles) {
    const char *a = shm_new_name(), *planted = shm_new_name(), *small = shm_new_name();
    const char *dir = tmp_dir();
    const char *f = tmp_file(dir, "f");
    fdset_snap before;
    int i;
    plant_object(planted, 4096, 0644, (uid_t)-1); /* more open: every open fails */
    plant_object(small, 100, 0600, (uid_t)-1);
    fdset_take(&before);
    for (i = 0; i < 200; i++) {
        ipc_shm m;
        ipc_ring r;
        int fd;
        EQ(ipc_shm_open(&m, a, IPC_O_CREATE | IPC_O_EXCL, 0, 4096), 0);
        {
            ipc_shm m2;
            EQ(ipc_shm_open(&m2, a, IPC_O_CREATE | IPC_O_EXCL, 0, 4096), -EEXIST);
            EQ(ipc_shm_open(&m2, a, 0, 0, 0), 0);
            EQ(ipc_shm_close(&m2), 0);
        }
        EQ(ipc_shm_close(&m), 0);
        EQ(ipc_shm_unlink(a), 0);
        EQ(ipc_shm_open(&m, planted, 0, 0, 0), -EACCES);
        EQ(ipc_shm_open(&m, small, 0, 0, 4096), -ENXIO);
        EQ(ipc_shm_open(&m, a, 0, 0, 0), -ENOENT);
        EQ(ipc_memfd_create(&m, "cycle", 4096, IPC_SHM_SEAL), 0);
        fd = fcntl(m.fd, F_DUPFD_CLOEXEC, 0);
        EQ(ipc_shm_close(&m), 0);
        EQ(ipc_shm_attach_fd(&m, fd, IPC_SHM_SEAL, 8192), -ENXIO);
        EQ(ipc_shm_attach_fd(&m, fd, IPC_SHM_SEAL, 0), 0);
        EQ(ipc_shm_close(&m), 0);
        EQ(ipc_file_map(&m, f, IPC_O_CREATE, 0, 4096), 0);
        EQ(ipc_shm_close(&m), 0);
        EQ(ipc_file_map(&m, f, 0, 0, 8192), -ENXIO);
        cr_assert(unlink(f) == 0);
        EQ(ipc_anon_map(&m, 4096), 0);
        EQ(ipc_shm_close(&m), 0);
        EQ(ipc_ring_open(&r, NULL, IPC_O_CREATE, 0, 64), 0);
        EQ(ipc_ring_close(&r), 0);
        EQ(ipc_ring_open(&r, planted, 0, 0, 0), -EACCES);
        EQ(ipc_ring_open(&r, small, 0, 0, 0), IPC_ECORRUPT);
    }
    {
        int leaked = fdset_leaked(&before);
        cr_assert(leaked == -1, "descriptor %d leaked over the cycles", leaked);
    }
    cr_assert(!shm_exists(a));
    cr_assert(shm_exists(planted) && shm_exists(small), "refused opens removed objects they did not create");
    FD_CHECK();
}

/* ==== defects found: one reproduction each ================================ */

/* "Safe on a zeroed or already closed region": a zeroed ipc_shm has fd 0,
   and ipc_shm_close closes it -- descriptor 0 belongs to someone else.
   ipc_ring_close of a zeroed ipc_ring does the same. */
SHM_TEST(closing_a_zeroed_region_leaves_descriptor_0_alone) {
    int saved = fcntl(0, F_DUPFD_CLOEXEC, 10), open0;
    ipc_shm z;
    ipc_ring zr;
    if (saved < 0) { /* no fd 0 at all: give it one */
        int n = open("/dev/null", O_RDONLY);
        cr_assert(n == 0, "could not put something on descriptor 0");
        saved = fcntl(0, F_DUPFD_CLOEXEC, 10);
    }
    memset(&z, 0, sizeof z);
    EQ(ipc_shm_close(&z), 0);
    open0 = fcntl(0, F_GETFD) >= 0;
    if (!open0) dup2(saved, 0); /* put it back before failing */
    cr_assert(open0, "ipc_shm_close of a zeroed ipc_shm closed descriptor 0");
    memset(&zr, 0, sizeof zr);
    EQ(ipc_ring_close(&zr), 0);
    open0 = fcntl(0, F_GETFD) >= 0;
    if (!open0) dup2(saved, 0);
    close(saved);
    cr_assert(open0, "ipc_ring_close of a zeroed ipc_ring closed descriptor 0");
}
