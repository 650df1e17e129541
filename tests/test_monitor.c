/* Unit tests for section 6 of ipc.h: monitoring (ipc_scan_*, ipc_parse_*).

   What they show (issue 7, "Proof"):
   - parsers, on recorded /proc texts: real /proc/sysvipc/msg, shm and sem
     header and data lines give exact fields (keys negative in decimal,
     IPC_PRIVATE 0, INT_MIN/INT_MAX, sizes past 4 GiB); columns are found by
     the header's names, so an extra unknown column is tolerated; real
     /proc/net/unix lines (a path, a path with spaces, an abstract @name, no
     path, the listening flag, each type, an unhashed kernel address) give
     exact fields; malformed lines (empty, too few columns, letters where
     numbers belong, a number too large for its field, a header with
     unknown or missing columns, an extremely long line) give IPC_EFRAME.
     Every text is passed as a copy that ends at a PROT_NONE guard page, so
     a read past its terminator faults at once.
   - live scans: one object of each kind (System V queue, segment and
     semaphore set; a POSIX shm object; a listening path socket, an abstract
     datagram socket and socketpairs of each type) is found with the right
     attributes, removed, and no longer found. ipc_scan_process(getpid())
     finds the test's own pipe, FIFO, socket, POSIX shm object (open, then
     only mapped) and memfd (open, then only mapped). A pid that does not
     exist gives -ESRCH; a child exiting during the scan never crashes it; a
     process we may not read is skipped and counted; a callback's non-zero
     answer stops every scan and is its result; /dev/mqueue not mounted
     gives -ENOENT (checked against /proc/mounts).

   Every test records what it creates and its .fini removes it (raw system
   calls, not the library), also after a failed assertion or a crash.
   Every live test checks that the scans leak no descriptor.

   Build alone:
     gcc -std=c11 -g -O1 -Wall -Wextra -Wpedantic -Werror -DIPC_TEST_HOOKS -I. \
         -o /tmp/mon_unit tests/test_monitor.c tests/impl.c -lcriterion -pthread */
#define _GNU_SOURCE
#include "helpers.h"
#include "ipc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define MON_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MON_ASAN 1
#endif
#endif
#ifdef MON_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/* ==== assertions ========================================================== */

static const char *code_name(long long c) {
    return c < 0 && c >= INT_MIN ? ipc_strerror((int)c) : "-";
}

#define EQ(got, want)                                                                                                  \
    do {                                                                                                               \
        long long got_ = (long long)(got), want_ = (long long)(want);                                                  \
        cr_assert(got_ == want_, "%s is %lld (%s), expected %s = %lld (%s)", #got, got_, code_name(got_), #want,       \
                  want_, code_name(want_));                                                                            \
    } while (0)
#define STREQ(got, want)                                                                                               \
    do {                                                                                                               \
        const char *g_ = (got), *w_ = (want);                                                                          \
        cr_assert(strcmp(g_, w_) == 0, "%s is \"%s\", expected \"%s\"", #got, g_, w_);                                 \
    } while (0)

/* ==== what each test creates, removed by its .fini ======================== */

enum { REG_MAX = 32 };
static int reg_msg[REG_MAX], reg_shm[REG_MAX], reg_sem[REG_MAX]; /* -1: removed */
static int n_msg, n_shm, n_sem;
static char reg_shm_name[REG_MAX][64]; /* POSIX shm names */
static int n_shm_name;
static char reg_path[REG_MAX][160]; /* socket files, FIFOs */
static int n_path;
static char tmp_dir[64]; /* "" when none */
static pid_t reg_owner;
static int seq;
static fdset_snap fd_start;

/* Raw system calls only; async-signal-safe (it also runs on a crash). */
static void reg_cleanup(void) {
    int i;
    if (getpid() != reg_owner) return;
    for (i = 0; i < n_msg; i++)
        if (reg_msg[i] >= 0) msgctl(reg_msg[i], IPC_RMID, NULL);
    for (i = 0; i < n_shm; i++)
        if (reg_shm[i] >= 0) shmctl(reg_shm[i], IPC_RMID, NULL);
    for (i = 0; i < n_sem; i++)
        if (reg_sem[i] >= 0) semctl(reg_sem[i], 0, IPC_RMID);
    for (i = 0; i < n_shm_name; i++)
        shm_unlink(reg_shm_name[i]);
    for (i = 0; i < n_path; i++)
        unlink(reg_path[i]);
    if (tmp_dir[0]) rmdir(tmp_dir);
    n_msg = n_shm = n_sem = n_shm_name = n_path = 0;
    tmp_dir[0] = 0;
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
#ifdef MON_ASAN
        if (sigs[i] != SIGABRT) continue;
#endif
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_crash;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        sigaction(sigs[i], &sa, NULL);
    }
#ifdef MON_ASAN
    __sanitizer_set_death_callback(reg_cleanup);
#endif
}
static void t_init(void) {
    n_msg = n_shm = n_sem = n_shm_name = n_path = 0;
    tmp_dir[0] = 0;
    reg_owner = getpid();
    crash_cleanup_install();
    fdset_take(&fd_start);
}
static void t_fini(void) {
    reg_cleanup();
}

#define MON_TEST(name) Test(monitor, name, .init = t_init, .fini = t_fini, .timeout = 20)
#define PARSE_TEST(name) Test(monitor_parse, name, .timeout = 20)

#define FD_CHECK()                                                                                                     \
    do {                                                                                                               \
        int leaked_ = fdset_leaked(&fd_start);                                                                         \
        cr_assert(leaked_ == -1, "descriptor %d leaked", leaked_);                                                     \
    } while (0)

static void forget(int *ids, int n, int id) {
    int i;
    for (i = 0; i < n; i++)
        if (ids[i] == id) ids[i] = -1;
}
static const char *temp_dir(void) {
    if (!tmp_dir[0]) {
        strcpy(tmp_dir, "/tmp/ipct-mon-XXXXXX");
        cr_assert(mkdtemp(tmp_dir) != NULL, "mkdtemp: %s", strerror(errno));
    }
    return tmp_dir;
}
/* A fresh path in the temp dir, unlinked after the test. */
static const char *temp_path(const char *what) {
    const char *d = temp_dir();
    cr_assert(n_path < REG_MAX);
    snprintf(reg_path[n_path], sizeof reg_path[0], "%s/%s-%d", d, what, ++seq);
    return reg_path[n_path++];
}
static const char *shm_new_name(void) {
    cr_assert(n_shm_name < REG_MAX);
    snprintf(reg_shm_name[n_shm_name], sizeof reg_shm_name[0], "/ipct-mon-%d-%d", (int)getpid(), ++seq);
    return reg_shm_name[n_shm_name++];
}

/* ==== parser helpers ====================================================== */

static const char HDR_MSG[] =
    "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      "
    "stime      rtime      ctime";
static const char HDR_SHM[] = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  "
                              "cgid      atime      dtime      ctime                   rss                  swap";
static const char HDR_SEM[] = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime";

/* Parses copies that end at a guard page (terminator included). */
static int parse_sysv(ipc_kind kind, const char *header, const char *line, ipc_object *o) {
    size_t hn = strlen(header) + 1, ln = strlen(line) + 1;
    char *h = (char *)guarded_copy(header, hn), *l = (char *)guarded_copy(line, ln);
    int rc;
    cr_assert(h && l);
    memset(o, 0xA5, sizeof *o);
    rc = ipc_parse_sysvipc(kind, h, l, o);
    guarded_free(h, hn);
    guarded_free(l, ln);
    if (rc == 0) cr_assert(memchr(o->name, 0, sizeof o->name) != NULL, "name not terminated");
    return rc;
}
static int parse_unix(const char *line, ipc_object *o) {
    size_t ln = strlen(line) + 1;
    char *l = (char *)guarded_copy(line, ln);
    int rc;
    cr_assert(l);
    memset(o, 0xA5, sizeof *o);
    rc = ipc_parse_net_unix(l, o);
    guarded_free(l, ln);
    if (rc == 0) cr_assert(memchr(o->name, 0, sizeof o->name) != NULL, "name not terminated");
    return rc;
}
/* A malloc'd string of n copies of c. */
static char *repeat(char c, size_t n) {
    char *s = (char *)malloc(n + 1);
    cr_assert(s);
    memset(s, c, n);
    s[n] = 0;
    return s;
}

/* ==== parsers: /proc/sysvipc ============================================== */

PARSE_TEST(sysvipc_msg_line_gives_every_field) {
    ipc_object o;
    EQ(parse_sysv(IPC_KIND_SYSV_MSG, HDR_MSG,
                  "         0     622640   600         100          1 12628 12630  1000  1001     0     0 "
                  "1795621300 1795621301 1795621296",
                  &o),
       0);
    EQ(o.kind, IPC_KIND_SYSV_MSG);
    EQ(o.key, 0);
    EQ(o.id, 622640);
    EQ(o.mode, 0600);
    EQ(o.bytes, 100);
    EQ(o.count, 1);
    EQ(o.pid[0], 12628);
    EQ(o.pid[1], 12630);
    EQ(o.uid, 1000);
    EQ(o.gid, 1001);
    STREQ(o.name, "");
}

PARSE_TEST(sysvipc_shm_line_with_negative_key_and_large_size) {
    ipc_object o;
    EQ(parse_sysv(IPC_KIND_SYSV_SHM, HDR_SHM,
                  "-559038737         42   640           68719476736 12628 12631      3  1000  1001  1000  1000 "
                  "1795621300          0 1795621296                  4096                     0",
                  &o),
       0);
    EQ(o.kind, IPC_KIND_SYSV_SHM);
    EQ(o.key, (int)0xDEADBEEFu);
    EQ(o.id, 42);
    EQ(o.mode, 0640);
    EQ(o.bytes, 68719476736LL); /* 64 GiB: past 32 bits */
    EQ(o.count, 3);
    EQ(o.pid[0], 12628);
    EQ(o.pid[1], 12631);
    EQ(o.uid, 1000);
    EQ(o.gid, 1001);
}

PARSE_TEST(sysvipc_shm_marked_for_removal_keeps_permission_bits) {
    ipc_object o; /* SHM_DEST (01000) shows in perms as 1600 */
    EQ(parse_sysv(IPC_KIND_SYSV_SHM, HDR_SHM,
                  "         0         43  1600                  4096 12628 12628      1     0     0     0     0 "
                  "1795621300          0 1795621296                  4096                     0",
                  &o),
       0);
    EQ(o.mode & 0777, 0600);
    EQ(o.count, 1);
}

PARSE_TEST(sysvipc_sem_line_gives_count) {
    ipc_object o;
    EQ(parse_sysv(IPC_KIND_SYSV_SEM, HDR_SEM,
                  "      4660          7   600          3     0     0     0     0          0 1795621296", &o),
       0);
    EQ(o.kind, IPC_KIND_SYSV_SEM);
    EQ(o.key, 4660);
    EQ(o.id, 7);
    EQ(o.mode, 0600);
    EQ(o.count, 3);
    EQ(o.bytes, -1);
    EQ(o.uid, 0);
}

PARSE_TEST(sysvipc_key_extremes) {
    ipc_object o;
    EQ(parse_sysv(IPC_KIND_SYSV_SEM, HDR_SEM,
                  "2147483647          1   600          1     0     0     0     0          0 1", &o),
       0);
    EQ(o.key, INT_MAX);
    EQ(parse_sysv(IPC_KIND_SYSV_SEM, HDR_SEM,
                  "-2147483648          1   600          1     0     0     0     0          0 1", &o),
       0);
    EQ(o.key, INT_MIN);
    EQ(parse_sysv(IPC_KIND_SYSV_SEM, HDR_SEM, "-1          1   600          1     0     0     0     0          0 1",
                  &o),
       0);
    EQ(o.key, -1);
}

PARSE_TEST(sysvipc_accepts_trailing_newline) {
    ipc_object o;
    EQ(parse_sysv(IPC_KIND_SYSV_SEM, HDR_SEM,
                  "      4660          7   600          3     0     0     0     0          0 1\n", &o),
       0);
    EQ(o.id, 7);
    EQ(o.count, 3);
}

PARSE_TEST(sysvipc_columns_found_by_header_names) {
    ipc_object o; /* an older kernel's shm table (no rss, swap), and a column
                     a newer one might add, in the middle */
    EQ(parse_sysv(
           IPC_KIND_SYSV_SHM,
           "       key      shmid perms       size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime    "
           "  ctime",
           "      1234          5   600      10000   100   101      2     7     8     0     0          0          0 1",
           &o),
       0);
    EQ(o.key, 1234);
    EQ(o.id, 5);
    EQ(o.bytes, 10000);
    EQ(o.count, 2);
    EQ(o.uid, 7);
    EQ(o.gid, 8);
    EQ(parse_sysv(IPC_KIND_SYSV_SEM,
                  "       key      semid  future perms      nsems   uid   gid  cuid  cgid      otime      ctime",
                  "      4660          7      99   600          3    10    11     0     0          0 1", &o),
       0);
    EQ(o.id, 7);
    EQ(o.mode, 0600);
    EQ(o.count, 3);
    EQ(o.uid, 10);
}

PARSE_TEST(sysvipc_header_without_key_or_id_is_eframe) {
    ipc_object o;
    static const char line[] = "      4660          7   600          3     0     0     0     0          0 1";
    EQ(parse_sysv(IPC_KIND_SYSV_SEM,
                  "       foo      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime", line, &o),
       IPC_EFRAME);
    EQ(parse_sysv(IPC_KIND_SYSV_SEM,
                  "       key        bar perms      nsems   uid   gid  cuid  cgid      otime      ctime", line, &o),
       IPC_EFRAME);
    EQ(parse_sysv(IPC_KIND_SYSV_SEM,
                  "         a          b     c          d     e     f     g     h          i          j", line, &o),
       IPC_EFRAME);
    EQ(parse_sysv(IPC_KIND_SYSV_SEM, "", line, &o), IPC_EFRAME);
    /* another table's header: msg has msqid, not semid */
    EQ(parse_sysv(IPC_KIND_SYSV_SEM, HDR_MSG,
                  "         0     622640   600           0          0     0     0     0     0     0     0 0 0 1", &o),
       IPC_EFRAME);
}

PARSE_TEST(sysvipc_malformed_lines_are_eframe) {
    static const struct {
        const char *why, *line;
    } bad[] = {
        {"empty", ""},
        {"blanks", "     \t  "},
        {"too few columns", "      4660          7   600"},
        {"one column short", "      4660          7   600          3     0     0     0     0          0"},
        {"one column more", "      4660          7   600          3     0     0     0     0          0 1 2"},
        {"letters in key", "      46x0          7   600          3     0     0     0     0          0 1"},
        {"letters in id", "      4660       seven   600          3     0     0     0     0          0 1"},
        {"8 in perms (octal)", "      4660          7   680          3     0     0     0     0          0 1"},
        {"hex in nsems", "      4660          7   600        0x3     0     0     0     0          0 1"},
        {"key over INT_MAX", "2147483648          7   600          3     0     0     0     0          0 1"},
        {"key under INT_MIN", "-2147483649          7   600          3     0     0     0     0          0 1"},
        {"id over INT_MAX", "      4660 2147483648   600          3     0     0     0     0          0 1"},
        {"negative id", "      4660         -7   600          3     0     0     0     0          0 1"},
        {"uid over 32 bits", "      4660          7   600          3 4294967296     0     0     0          0 1"},
        {"nsems past int64", "      4660          7   600 99999999999999999999     0     0     0     0          0 1"},
        {"negative nsems", "      4660          7   600         -3     0     0     0     0          0 1"},
        {"perms past 12 bits", "      4660          7 7777777          3     0     0     0     0          0 1"},
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipc_object o;
        int rc = parse_sysv(IPC_KIND_SYSV_SEM, HDR_SEM, bad[i].line, &o);
        cr_expect(rc == IPC_EFRAME, "%s (\"%s\"): %d (%s), expected IPC_EFRAME", bad[i].why, bad[i].line, rc,
                  code_name(rc));
    }
}

PARSE_TEST(sysvipc_negative_byte_count_is_eframe) {
    ipc_object o;
    EQ(parse_sysv(IPC_KIND_SYSV_MSG, HDR_MSG,
                  "         0     622640   600          -5          1 12628 12630  1000  1001     0     0 1 1 1", &o),
       IPC_EFRAME);
    EQ(parse_sysv(IPC_KIND_SYSV_SHM, HDR_SHM, "         0         43   600 -1 1 1 1 0 0 0 0 1 0 1 4096 0", &o),
       IPC_EFRAME);
}

PARSE_TEST(sysvipc_extremely_long_line_is_eframe) {
    ipc_object o;
    char *digits = repeat('7', 65536), *junk = repeat('x', 65536), *blanks = repeat(' ', 65536);
    char *longline = (char *)malloc(65536 + 200);
    cr_assert(longline);
    EQ(parse_sysv(IPC_KIND_SYSV_SEM, HDR_SEM, digits, &o), IPC_EFRAME);
    EQ(parse_sysv(IPC_KIND_SYSV_SEM, HDR_SEM, junk, &o), IPC_EFRAME);
    EQ(parse_sysv(IPC_KIND_SYSV_SEM, HDR_SEM, blanks, &o), IPC_EFRAME);
    snprintf(longline, 65536 + 200, "      4660          7   600          3     0     0     0     0          0 %s",
             digits);
    EQ(parse_sysv(IPC_KIND_SYSV_SEM, HDR_SEM, longline, &o), IPC_EFRAME);
    /* a long header: nothing to match a line against */
    EQ(parse_sysv(IPC_KIND_SYSV_SEM, junk,
                  "      4660          7   600          3     0     0     0     0          0 1", &o),
       IPC_EFRAME);
    free(digits);
    free(junk);
    free(blanks);
    free(longline);
}

/* ==== parsers: /proc/net/unix ============================================= */

PARSE_TEST(net_unix_listening_stream_with_path) {
    ipc_object o;
    EQ(parse_unix("000000004b719a49: 00000002 00000000 00010000 0001 01 123456 /run/ipct/sock", &o), 0);
    EQ(o.kind, IPC_KIND_UNIX_SOCKET);
    STREQ(o.name, "/run/ipct/sock");
    EQ(o.sock_type, SOCK_STREAM);
    EQ(o.listening, 1);
    EQ(o.sock_state, 1); /* the kernel's SS_UNCONNECTED, printed as St */
    EQ(o.inode, 123456);
    EQ(o.id, -1);
}

PARSE_TEST(net_unix_abstract_name) {
    ipc_object o;
    EQ(parse_unix("000000007a3e4c11: 00000002 00000000 00000000 0002 01    99 @ipct-abs-1", &o), 0);
    STREQ(o.name, "@ipct-abs-1");
    EQ(o.sock_type, SOCK_DGRAM);
    EQ(o.listening, 0);
    EQ(o.inode, 99);
}

PARSE_TEST(net_unix_without_path) {
    ipc_object o;
    EQ(parse_unix("000000004b719a49: 00000003 00000000 00000000 0001 03   437", &o), 0);
    STREQ(o.name, "");
    EQ(o.sock_type, SOCK_STREAM);
    EQ(o.listening, 0);
    EQ(o.sock_state, 3); /* SS_CONNECTED */
    EQ(o.inode, 437);
    EQ(parse_unix("000000004b719a49: 00000003 00000000 00000000 0001 03   437 ", &o), 0);
    STREQ(o.name, "");
}

PARSE_TEST(net_unix_each_type) {
    static const struct {
        const char *line;
        int type;
    } t[] = {
        {"0000000011111111: 00000002 00000000 00000000 0001 01 1001 /tmp/s", SOCK_STREAM},
        {"0000000011111111: 00000002 00000000 00000000 0002 01 1002 /tmp/s", SOCK_DGRAM},
        {"0000000011111111: 00000002 00000000 00000000 0005 01 1005 /tmp/s", SOCK_SEQPACKET},
    };
    size_t i;
    for (i = 0; i < 3; i++) {
        ipc_object o;
        EQ(parse_unix(t[i].line, &o), 0);
        EQ(o.sock_type, t[i].type);
        EQ(o.inode, 1001 + (i == 2 ? 4 : i));
    }
}

PARSE_TEST(net_unix_path_with_spaces_and_newline) {
    ipc_object o;
    EQ(parse_unix("000000004b719a49: 00000002 00000000 00010000 0001 01 7 /tmp/a dir/my sock\n", &o), 0);
    STREQ(o.name, "/tmp/a dir/my sock");
    EQ(o.inode, 7);
}

PARSE_TEST(net_unix_longest_real_path) {
    ipc_object o; /* sun_path holds 107 characters and a NUL */
    char *path = repeat('p', 107), line[256];
    path[0] = '/';
    snprintf(line, sizeof line, "000000004b719a49: 00000002 00000000 00010000 0001 01 7 %s", path);
    EQ(parse_unix(line, &o), 0);
    STREQ(o.name, path);
    free(path);
}

/* With kernel.kptr_restrict = 1 a reader with CAP_SYSLOG (root on most
   distributions) sees real kernel addresses in Num, ffff... on x86-64:
   above INT64_MAX. Such a line is as valid as a hashed one. */
PARSE_TEST(net_unix_accepts_unhashed_kernel_address) {
    ipc_object o;
    EQ(parse_unix("ffff9a0c43a1b000: 00000002 00000000 00010000 0001 01 123456 /run/ipct/sock", &o), 0);
    STREQ(o.name, "/run/ipct/sock");
    EQ(o.inode, 123456);
    EQ(parse_unix("0000000000000000: 00000002 00000000 00010000 0001 01 123457 /run/ipct/sock", &o), 0);
    EQ(o.inode, 123457);
}

PARSE_TEST(net_unix_malformed_lines_are_eframe) {
    static const struct {
        const char *why, *line;
    } bad[] = {
        {"empty", ""},
        {"blanks", "    "},
        {"the header", "Num       RefCount Protocol Flags    Type St Inode Path"},
        {"no colon after Num", "000000004b719a49 00000002 00000000 00010000 0001 01 7 /tmp/s"},
        {"a lone colon", ": 00000002 00000000 00010000 0001 01 7 /tmp/s"},
        {"too few columns", "000000004b719a49: 00000002 00000000 00010000 0001 01"},
        {"only Num", "000000004b719a49:"},
        {"letters in RefCount", "000000004b719a49: 0000000g 00000000 00010000 0001 01 7 /tmp/s"},
        {"letters in Type", "000000004b719a49: 00000002 00000000 00010000 zz01 01 7 /tmp/s"},
        {"letters in Inode", "000000004b719a49: 00000002 00000000 00010000 0001 01 7a /tmp/s"},
        {"negative Inode", "000000004b719a49: 00000002 00000000 00010000 0001 01 -7 /tmp/s"},
        {"Inode past 64 bits", "000000004b719a49: 00000002 00000000 00010000 0001 01 99999999999999999999999 /tmp/s"},
        {"Flags past 32 bits", "000000004b719a49: 00000002 00000000 100010000 0001 01 7 /tmp/s"},
        {"Type past 16 bits", "000000004b719a49: 00000002 00000000 00010000 10001 01 7 /tmp/s"},
        {"St past 8 bits", "000000004b719a49: 00000002 00000000 00010000 0001 101 7 /tmp/s"},
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipc_object o;
        int rc = parse_unix(bad[i].line, &o);
        cr_expect(rc == IPC_EFRAME, "%s (\"%s\"): %d (%s), expected IPC_EFRAME", bad[i].why, bad[i].line, rc,
                  code_name(rc));
    }
}

PARSE_TEST(net_unix_extremely_long_line_is_eframe) {
    ipc_object o;
    char *junk = repeat('x', 65536), *path = repeat('p', 65536), *line = (char *)malloc(65536 + 100);
    cr_assert(line);
    EQ(parse_unix(junk, &o), IPC_EFRAME);
    path[0] = '/';
    snprintf(line, 65536 + 100, "000000004b719a49: 00000002 00000000 00010000 0001 01 7 %s", path);
    EQ(parse_unix(line, &o), IPC_EFRAME);
    free(junk);
    free(path);
    free(line);
}

/* A name that does not fit name[] is not cut short: the record would name
   another object. (The kernel prints at most 108 characters of path.) */
PARSE_TEST(net_unix_path_longer_than_name_is_eframe) {
    ipc_object o;
    char *path = repeat('p', sizeof o.name + 10), line[512];
    path[0] = '/';
    snprintf(line, sizeof line, "000000004b719a49: 00000002 00000000 00010000 0001 01 7 %s", path);
    EQ(parse_unix(line, &o), IPC_EFRAME);
    free(path);
}

PARSE_TEST(kind_names_are_distinct_and_never_null) {
    int k, j;
    for (k = IPC_KIND_SYSV_MSG; k <= IPC_KIND_MEMFD; k++) {
        const char *n = ipc_kind_name((ipc_kind)k);
        cr_assert(n && *n, "kind %d has no name", k);
        for (j = IPC_KIND_SYSV_MSG; j < k; j++)
            cr_assert(strcmp(n, ipc_kind_name((ipc_kind)j)) != 0);
    }
    cr_assert(ipc_kind_name((ipc_kind)0) != NULL);
    cr_assert(ipc_kind_name((ipc_kind)99) != NULL);
}

/* ==== live scans ========================================================== */

/* Looks for one object: every criterion set must match. */
typedef struct finder {
    ipc_kind kind;       /* 0: any */
    int id;              /* -1: any */
    const char *name;    /* NULL: any */
    const char *name_in; /* NULL: any; else a substring of name */
    unsigned long inode; /* 0: any */
    int fd;              /* -2: any */
    int found, calls, bad_names, stop_at;
    ipc_object obj;
} finder;
static void finder_init(finder *f, ipc_kind kind) {
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->id = -1;
    f->fd = -2;
}
static int find_cb(const ipc_object *o, void *arg) {
    finder *f = (finder *)arg;
    f->calls++;
    if (!memchr(o->name, 0, sizeof o->name)) {
        f->bad_names++;
        return 0;
    }
    if (f->kind && o->kind != f->kind) return 0;
    if (f->id != -1 && o->id != f->id) return 0;
    if (f->name && strcmp(o->name, f->name) != 0) return 0;
    if (f->name_in && !strstr(o->name, f->name_in)) return 0;
    if (f->inode && o->inode != f->inode) return 0;
    if (f->fd != -2 && o->fd != f->fd) return 0;
    if (!f->found++) f->obj = *o;
    return 0;
}
typedef int (*scan_fn)(ipc_object_fn, void *, unsigned *);
static void scan(scan_fn s, finder *f) {
    unsigned skipped = 0;
    int rc = s(find_cb, f, &skipped);
    EQ(rc, 0);
    EQ(f->bad_names, 0);
}
static pid_t scan_pid;
static int scan_self(ipc_object_fn fn, void *arg, unsigned *skipped) {
    return ipc_scan_process(scan_pid, fn, arg, skipped);
}
static void scan_process(finder *f) {
    scan_pid = getpid();
    scan(scan_self, f);
}

MON_TEST(sysv_queue_found_with_attributes_then_gone) {
    finder f;
    char msg[100];
    int id = ipc_sysv_open(IPC_PRIVATE, IPC_O_CREATE, 0);
    ipc_sysv_info info;
    cr_assert(id >= 0, "ipc_sysv_open: %s", ipc_strerror(id));
    reg_msg[n_msg++] = id;
    memset(msg, 'm', sizeof msg);
    EQ(ipc_sysv_send(id, 1, msg, sizeof msg, 0), 0);
    EQ(ipc_sysv_stat(id, &info), 0);
    finder_init(&f, IPC_KIND_SYSV_MSG);
    f.id = id;
    scan(ipc_scan_sysv, &f);
    EQ(f.found, 1);
    EQ(f.obj.key, 0);
    EQ(f.obj.mode, 0600);
    EQ(f.obj.uid, getuid());
    EQ(f.obj.gid, getgid());
    EQ(f.obj.bytes, 100);
    EQ(f.obj.count, 1);
    EQ(f.obj.pid[0], getpid());
    cr_assert(f.obj.capacity == -1 || f.obj.capacity == (int64_t)info.max_bytes, "capacity %lld",
              (long long)f.obj.capacity);
    EQ(ipc_sysv_remove(id), 0);
    forget(reg_msg, n_msg, id);
    finder_init(&f, IPC_KIND_SYSV_MSG);
    f.id = id;
    scan(ipc_scan_sysv, &f);
    EQ(f.found, 0);
    FD_CHECK();
}

MON_TEST(sysv_segment_found_with_negative_key_then_gone) {
    finder f;
    key_t key = 0;
    int id = -1, i;
    void *at;
    for (i = 0; i < 1000 && id < 0; i++) { /* a key negative in decimal, unused */
        key = (key_t)(int32_t)(0x80000000u | ((uint32_t)getpid() << 8) | (uint32_t)i);
        id = shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0600);
        cr_assert(id >= 0 || errno == EEXIST, "shmget: %s", strerror(errno));
    }
    cr_assert(id >= 0);
    reg_shm[n_shm++] = id;
    cr_assert(key < 0);
    at = shmat(id, NULL, SHM_RDONLY);
    cr_assert(at != (void *)-1, "shmat: %s", strerror(errno));
    finder_init(&f, IPC_KIND_SYSV_SHM);
    f.id = id;
    scan(ipc_scan_sysv, &f);
    EQ(f.found, 1);
    EQ(f.obj.key, key);
    EQ(f.obj.mode, 0600);
    EQ(f.obj.uid, getuid());
    EQ(f.obj.bytes, 10000);
    EQ(f.obj.count, 1);
    EQ(f.obj.pid[0], getpid());
    shmdt(at);
    EQ(shmctl(id, IPC_RMID, NULL), 0);
    forget(reg_shm, n_shm, id);
    finder_init(&f, IPC_KIND_SYSV_SHM);
    f.id = id;
    scan(ipc_scan_sysv, &f);
    EQ(f.found, 0);
    FD_CHECK();
}

MON_TEST(sysv_semaphore_set_found_then_gone) {
    finder f;
    int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    cr_assert(id >= 0, "semget: %s", strerror(errno));
    reg_sem[n_sem++] = id;
    finder_init(&f, IPC_KIND_SYSV_SEM);
    f.id = id;
    scan(ipc_scan_sysv, &f);
    EQ(f.found, 1);
    EQ(f.obj.key, 0);
    EQ(f.obj.mode, 0600);
    EQ(f.obj.uid, getuid());
    EQ(f.obj.count, 3);
    EQ(semctl(id, 0, IPC_RMID), 0);
    forget(reg_sem, n_sem, id);
    finder_init(&f, IPC_KIND_SYSV_SEM);
    f.id = id;
    scan(ipc_scan_sysv, &f);
    EQ(f.found, 0);
    FD_CHECK();
}

MON_TEST(posix_shm_found_with_attributes_then_gone) {
    finder f;
    struct stat st;
    const char *name = shm_new_name();
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    cr_assert(fd >= 0, "shm_open: %s", strerror(errno));
    EQ(ftruncate(fd, 12345), 0);
    EQ(fstat(fd, &st), 0);
    finder_init(&f, IPC_KIND_POSIX_SHM);
    f.name = name;
    scan(ipc_scan_posix_shm, &f);
    EQ(f.found, 1);
    EQ(f.obj.bytes, 12345);
    EQ(f.obj.mode, 0600);
    EQ(f.obj.uid, getuid());
    EQ(f.obj.inode, st.st_ino);
    EQ(shm_unlink(name), 0);
    close(fd);
    finder_init(&f, IPC_KIND_POSIX_SHM);
    f.name = name;
    scan(ipc_scan_posix_shm, &f);
    EQ(f.found, 0);
    FD_CHECK();
}

static int mqueue_mounted(void) {
    FILE *m = fopen("/proc/mounts", "re");
    char line[1024];
    int found = 0;
    cr_assert(m);
    while (fgets(line, sizeof line, m))
        if (strstr(line, " /dev/mqueue mqueue ")) found = 1;
    fclose(m);
    return found;
}
MON_TEST(posix_mq_scan_enoent_unless_mounted) {
    finder f;
    finder_init(&f, IPC_KIND_POSIX_MQ);
    if (!mqueue_mounted()) {
        EQ(ipc_scan_posix_mq(find_cb, &f, NULL), -ENOENT);
        EQ(f.calls, 0);
    } else {
        char name[64];
        ipc_mq q;
        snprintf(name, sizeof name, "/ipct-mon-%d-%d", (int)getpid(), ++seq);
        EQ(ipc_mq_open(&q, name, IPC_O_CREATE | IPC_O_EXCL, 0, 4, 64), 0);
        EQ(ipc_mq_send(&q, "x", 1, 0, 0), 0);
        f.name = name;
        scan(ipc_scan_posix_mq, &f);
        ipc_mq_unlink(name);
        ipc_mq_close(&q);
        EQ(f.found, 1);
        EQ(f.obj.count, 1);
        EQ(f.obj.capacity, 4);
        EQ(f.obj.mode, 0600);
    }
    FD_CHECK();
}

static unsigned long ino_of(int fd) {
    struct stat st;
    cr_assert(fstat(fd, &st) == 0);
    return (unsigned long)st.st_ino;
}

MON_TEST(unix_listening_path_socket_found_then_gone) {
    finder f;
    struct sockaddr_un a;
    const char *path = temp_path("sock");
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unsigned long ino;
    cr_assert(s >= 0);
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strcpy(a.sun_path, path);
    EQ(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    EQ(listen(s, 4), 0);
    ino = ino_of(s);
    finder_init(&f, IPC_KIND_UNIX_SOCKET);
    f.name = path;
    scan(ipc_scan_unix_sockets, &f);
    EQ(f.found, 1);
    EQ(f.obj.sock_type, SOCK_STREAM);
    EQ(f.obj.listening, 1);
    EQ(f.obj.inode, ino);
    close(s);
    unlink(path);
    finder_init(&f, IPC_KIND_UNIX_SOCKET);
    f.inode = ino;
    scan(ipc_scan_unix_sockets, &f);
    EQ(f.found, 0);
    FD_CHECK();
}

MON_TEST(unix_abstract_socket_found_then_gone) {
    finder f;
    struct sockaddr_un a;
    char name[64];
    socklen_t len;
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    unsigned long ino;
    cr_assert(s >= 0);
    snprintf(name, sizeof name, "@ipct-abs-%d-%d", (int)getpid(), ++seq);
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path + 1, name + 1, strlen(name) - 1);
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
    EQ(bind(s, (struct sockaddr *)&a, len), 0);
    ino = ino_of(s);
    finder_init(&f, IPC_KIND_UNIX_SOCKET);
    f.name = name;
    scan(ipc_scan_unix_sockets, &f);
    EQ(f.found, 1);
    EQ(f.obj.sock_type, SOCK_DGRAM);
    EQ(f.obj.listening, 0);
    EQ(f.obj.inode, ino);
    close(s);
    finder_init(&f, IPC_KIND_UNIX_SOCKET);
    f.name = name;
    scan(ipc_scan_unix_sockets, &f);
    EQ(f.found, 0);
    FD_CHECK();
}

MON_TEST(unix_socketpairs_of_each_type_found_by_inode) {
    static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
    size_t i;
    for (i = 0; i < 3; i++) {
        finder f;
        int sv[2];
        EQ(socketpair(AF_UNIX, types[i] | SOCK_CLOEXEC, 0, sv), 0);
        finder_init(&f, IPC_KIND_UNIX_SOCKET);
        f.inode = ino_of(sv[0]);
        scan(ipc_scan_unix_sockets, &f);
        close(sv[0]);
        close(sv[1]);
        EQ(f.found, 1);
        EQ(f.obj.sock_type, types[i]);
        EQ(f.obj.listening, 0);
        STREQ(f.obj.name, "");
    }
    FD_CHECK();
}

MON_TEST(process_scan_finds_own_pipe) {
    finder f;
    int p[2];
    char want[64];
    unsigned long ino;
    EQ(pipe2(p, O_CLOEXEC), 0);
    ino = ino_of(p[0]);
    snprintf(want, sizeof want, "pipe:[%lu]", ino);
    finder_init(&f, IPC_KIND_PIPE);
    f.fd = p[0];
    scan_process(&f);
    EQ(f.found, 1);
    STREQ(f.obj.name, want);
    EQ(f.obj.inode, ino);
    EQ(f.obj.holder, getpid());
    finder_init(&f, IPC_KIND_PIPE);
    f.fd = p[1];
    scan_process(&f);
    EQ(f.found, 1);
    STREQ(f.obj.name, want);
    close(p[0]);
    close(p[1]);
    finder_init(&f, IPC_KIND_PIPE);
    f.inode = ino;
    scan_process(&f);
    EQ(f.found, 0);
    FD_CHECK();
}

MON_TEST(process_scan_finds_own_fifo) {
    finder f;
    const char *path = temp_path("fifo");
    int fd;
    EQ(mkfifo(path, 0600), 0);
    fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    cr_assert(fd >= 0, "open fifo: %s", strerror(errno));
    finder_init(&f, IPC_KIND_FIFO);
    f.fd = fd;
    scan_process(&f);
    EQ(f.found, 1);
    STREQ(f.obj.name, path);
    EQ(f.obj.inode, ino_of(fd));
    EQ(f.obj.mode, 0600);
    close(fd);
    finder_init(&f, IPC_KIND_FIFO);
    f.name = path;
    scan_process(&f);
    EQ(f.found, 0);
    FD_CHECK();
}

MON_TEST(process_scan_finds_own_socket) {
    finder f, g;
    struct sockaddr_un a;
    const char *path = temp_path("psock");
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(s >= 0);
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strcpy(a.sun_path, path);
    EQ(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    EQ(listen(s, 1), 0);
    finder_init(&f, IPC_KIND_SOCKET);
    f.fd = s;
    scan_process(&f);
    EQ(f.found, 1);
    EQ(f.obj.inode, ino_of(s));
    /* the same inode names it in a unix scan */
    finder_init(&g, IPC_KIND_UNIX_SOCKET);
    g.inode = f.obj.inode;
    scan(ipc_scan_unix_sockets, &g);
    EQ(g.found, 1);
    STREQ(g.obj.name, path);
    close(s);
    FD_CHECK();
}

/* A process scan may name a POSIX shm object "/name" (as the /dev/shm scan
   does) or by its path "/dev/shm/name"; either way, with its inode. */
static void expect_shm_name(const char *got, const char *name) {
    char path[128];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    cr_assert(!strcmp(got, name) || !strcmp(got, path), "name \"%s\", expected \"%s\" or \"%s\"", got, name, path);
}

MON_TEST(process_scan_finds_posix_shm_open_then_only_mapped) {
    finder f;
    const char *name = shm_new_name();
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    unsigned long ino;
    void *p;
    cr_assert(fd >= 0, "shm_open: %s", strerror(errno));
    EQ(ftruncate(fd, 8192), 0);
    ino = ino_of(fd);
    finder_init(&f, IPC_KIND_POSIX_SHM);
    f.fd = fd;
    scan_process(&f);
    EQ(f.found, 1);
    expect_shm_name(f.obj.name, name);
    EQ(f.obj.inode, ino);
    EQ(f.obj.holder, getpid());
    p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    cr_assert(p != MAP_FAILED);
    close(fd);
    finder_init(&f, IPC_KIND_POSIX_SHM);
    f.inode = ino;
    scan_process(&f);
    EQ(f.found, 1);
    EQ(f.obj.fd, -1);
    expect_shm_name(f.obj.name, name);
    EQ(f.obj.holder, getpid());
    munmap(p, 8192);
    finder_init(&f, IPC_KIND_POSIX_SHM);
    f.inode = ino;
    scan_process(&f);
    EQ(f.found, 0);
    EQ(shm_unlink(name), 0);
    FD_CHECK();
}

MON_TEST(process_scan_finds_memfd_open_then_only_mapped) {
    finder f;
    char name[64];
    int fd;
    unsigned long ino;
    void *p;
    snprintf(name, sizeof name, "ipct-memfd-%d", (int)getpid());
    fd = memfd_create(name, MFD_CLOEXEC);
    cr_assert(fd >= 0, "memfd_create: %s", strerror(errno));
    EQ(ftruncate(fd, 4096), 0);
    ino = ino_of(fd);
    finder_init(&f, IPC_KIND_MEMFD);
    f.fd = fd;
    scan_process(&f);
    EQ(f.found, 1);
    cr_assert(strstr(f.obj.name, name), "name \"%s\"", f.obj.name);
    EQ(f.obj.inode, ino);
    p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    cr_assert(p != MAP_FAILED);
    close(fd);
    finder_init(&f, IPC_KIND_MEMFD);
    f.inode = ino;
    scan_process(&f);
    EQ(f.found, 1);
    EQ(f.obj.fd, -1);
    cr_assert(strstr(f.obj.name, name), "name \"%s\"", f.obj.name);
    munmap(p, 4096);
    FD_CHECK();
}

MON_TEST(process_scan_of_missing_pid_is_esrch) {
    finder f;
    pid_t pid = fork_child();
    if (pid == 0) _exit(0);
    assert_child_ok(pid, 5000, "child");
    cr_assert(kill(pid, 0) < 0 && errno == ESRCH, "pid %d reused", (int)pid);
    finder_init(&f, 0);
    EQ(ipc_scan_process(pid, find_cb, &f, NULL), -ESRCH);
    EQ(ipc_scan_process(0, find_cb, &f, NULL), -ESRCH);
    EQ(ipc_scan_process(-1, find_cb, &f, NULL), -ESRCH);
    FD_CHECK();
}

/* The child holds many pipes and exits while the parent scans it, in every
   phase: before its fds are listed, between readdir and readlink, during
   the maps walk, as a zombie, and once reaped. */
static int slow_cb(const ipc_object *o, void *arg) {
    (void)arg;
    cr_assert(memchr(o->name, 0, sizeof o->name) != NULL);
    return 0;
}
MON_TEST(process_scan_of_exiting_child_does_not_crash) {
    int round;
    for (round = 0; round < 30; round++) {
        int st, rc, scans = 0, reaped = 0;
        pid_t pid = fork_child();
        if (pid == 0) {
            int i, p[2];
            for (i = 0; i < 60; i++)
                if (pipe(p) < 0) break;
            sleep_ms(round % 4);
            _exit(0);
        }
        for (;;) {
            unsigned skipped = 0;
            rc = ipc_scan_process(pid, slow_cb, NULL, &skipped);
            scans++;
            cr_assert(rc == 0 || rc == -ESRCH, "round %d scan %d: %d (%s)", round, scans, rc, code_name(rc));
            if (rc == -ESRCH) break;
            if (!reaped && waitpid(pid, &st, WNOHANG) == pid) reaped = 1;
            cr_assert(scans < 100000, "the scan never saw the child go");
        }
        if (!reaped) EQ(waitpid(pid, &st, 0), pid);
    }
    FD_CHECK();
}

/* Another uid may not read our /proc/PID/fd: skipped and counted. */
MON_TEST(process_scan_skips_and_counts_what_it_may_not_read) {
    pid_t parent = getpid(), pid;
    int p[2];
    if (getuid() != 0) cr_skip_test("needs root to change uid");
    EQ(pipe2(p, O_CLOEXEC), 0); /* something to hold */
    pid = fork_child();
    if (pid == 0) {
        unsigned skipped = 0;
        int rc;
        if (setgid(65534) < 0 || setuid(65534) < 0) _exit(77);
        rc = ipc_scan_process(parent, slow_cb, NULL, &skipped);
        if (rc != 0) {
            fprintf(stderr, "test_monitor.c: scan of an unreadable process: %d (%s), expected 0\n", rc, code_name(rc));
            _exit(1);
        }
        if (skipped < 1) {
            fprintf(stderr, "test_monitor.c: nothing counted as skipped\n");
            _exit(2);
        }
        _exit(0);
    }
    assert_child_ok(pid, 10000, "unprivileged scanner");
    close(p[0]);
    close(p[1]);
    FD_CHECK();
}

/* fn's non-zero answer stops the scan at once and is its result. */
static int stop_cb(const ipc_object *o, void *arg) {
    int *calls = (int *)arg;
    (void)o;
    return ++*calls == 1 ? 42 : -77;
}
MON_TEST(callback_nonzero_stops_every_scan) {
    int p[2], calls, s, q, sem;
    const char *name = shm_new_name();
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    cr_assert(fd >= 0);
    close(fd);
    EQ(pipe2(p, O_CLOEXEC), 0);
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert(s >= 0);
    q = ipc_sysv_open(IPC_PRIVATE, IPC_O_CREATE, 0);
    cr_assert(q >= 0);
    reg_msg[n_msg++] = q;
    sem = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600); /* two tables: the second must not be read */
    cr_assert(sem >= 0);
    reg_sem[n_sem++] = sem;

    calls = 0;
    EQ(ipc_scan_process(getpid(), stop_cb, &calls, NULL), 42);
    EQ(calls, 1);
    calls = 0;
    EQ(ipc_scan_sysv(stop_cb, &calls, NULL), 42);
    EQ(calls, 1);
    calls = 0;
    EQ(ipc_scan_unix_sockets(stop_cb, &calls, NULL), 42);
    EQ(calls, 1);
    calls = 0;
    EQ(ipc_scan_posix_shm(stop_cb, &calls, NULL), 42);
    EQ(calls, 1);
    close(p[0]);
    close(p[1]);
    close(s);
    FD_CHECK();
}
