/* Unit tests for ipc_addr_parse and ipc_scheme_name (section 5 of ipc.h):
   the address grammar of DESIGN.md ("Addresses") and the "names and
   addresses" row of TESTING.md.

   Valid addresses are a table: each row is the text and every field the
   parse must give (the defaults spelled out: fd -1, codec IPC_LEN32, max
   IPC_MAX_FRAME, mode 0600). Bad addresses are a table too: each row is the
   text and the one documented code (-EINVAL or -ENAMETOOLONG). Lengths that
   matter (sun_path 107/108/109, NAME_MAX, IPC_ADDR_NAME_MAX) are built at
   run time. Every bad input is also checked for side effects: the name it
   holds must not exist afterwards (as a path, in /dev/shm, as a POSIX
   queue), and /dev/shm and /dev/mqueue hold the same number of entries. */
#define _GNU_SOURCE
#include "ipc.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ==== expected fields ===================================================== */

typedef struct want {
    ipc_scheme scheme;
    const char *name;
    int fd;
    key_t key;
    int proj;
    ipc_codec codec;
    size_t max;
    long cap, msgsize;
    unsigned mode, prio;
    long type;
} want;

#define DFD (-1)
#define DCODEC IPC_LEN32
#define DMAX ((size_t)IPC_MAX_FRAME)
#define DMODE 0600u
/* The defaults of every option, after the scheme, name, fd, key, proj. */
#define DOPTS DCODEC, DMAX, 0, 0, DMODE, 0, 0

static void assert_fields(const char *text, const ipc_addr *a, const want *w) {
    cr_assert_eq(a->scheme, w->scheme, "%.200s: scheme %d, want %d", text, (int)a->scheme, (int)w->scheme);
    cr_assert(memchr(a->name, 0, sizeof a->name) != NULL, "%s: name not NUL-terminated", text);
    cr_assert_str_eq(a->name, w->name, "%.200s: name \"%.200s\", want \"%.200s\"", text, a->name, w->name);
    cr_assert_eq(a->fd, w->fd, "%s: fd %d, want %d", text, a->fd, w->fd);
    cr_assert_eq(a->key, w->key, "%s: key %#x, want %#x", text, (unsigned)a->key, (unsigned)w->key);
    cr_assert_eq(a->proj, w->proj, "%s: proj %d, want %d", text, a->proj, w->proj);
    cr_assert_eq(a->codec, w->codec, "%s: codec %d, want %d", text, (int)a->codec, (int)w->codec);
    cr_assert_eq(a->max, w->max, "%s: max %zu, want %zu", text, a->max, w->max);
    cr_assert_eq(a->cap, w->cap, "%s: cap %ld, want %ld", text, a->cap, w->cap);
    cr_assert_eq(a->msgsize, w->msgsize, "%s: msgsize %ld, want %ld", text, a->msgsize, w->msgsize);
    cr_assert_eq(a->mode, w->mode, "%s: mode %o, want %o", text, a->mode, w->mode);
    cr_assert_eq(a->prio, w->prio, "%s: prio %u, want %u", text, a->prio, w->prio);
    cr_assert_eq(a->type, w->type, "%s: type %ld, want %ld", text, a->type, w->type);
}

/* Parses text into a heap ipc_addr (4 KiB of name: kept off the stack of
   Criterion's worker) that was filled with garbage first. */
static int parse(const char *text, ipc_addr **out) {
    ipc_addr *a = (ipc_addr *)malloc(sizeof *a);
    cr_assert_not_null(a);
    memset(a, 0xA5, sizeof *a);
    *out = a;
    return ipc_addr_parse(a, text);
}

static void expect_ok(const char *text, const want *w) {
    ipc_addr *a;
    int rc = parse(text, &a);
    cr_assert_eq(rc, 0, "%.200s: rc %d (%s), want 0", text, rc, strerror(-rc));
    assert_fields(text, a, w);
    free(a);
}

/* ==== side effects ======================================================== */

static long count_entries(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    long n = 0;
    if (!d) return -1; /* not mounted: nothing to compare */
    while ((e = readdir(d)) != NULL) n++;
    closedir(d);
    return n;
}

/* The name part of an address text ("unix:/x?y" -> "/x"), or "" . */
static void name_of(const char *text, char *out, size_t cap) {
    const char *c = strchr(text, ':'), *q;
    size_t n;
    out[0] = 0;
    if (!c) return;
    c++;
    q = strchr(c, '?');
    n = q ? (size_t)(q - c) : strlen(c);
    if (n >= cap) n = cap - 1;
    memcpy(out, c, n);
    out[n] = 0;
}

/* Nothing named by text exists: no file, no /dev/shm entry, no queue. */
static void assert_nothing_named(const char *text) {
    char name[IPC_ADDR_NAME_MAX + 64], path[IPC_ADDR_NAME_MAX + 128];
    struct stat st;
    char *hash;
    name_of(text, name, sizeof name);
    if (!strstr(name, "ipc_addr_t_")) return; /* only the test's own names can be new */
    if ((hash = strrchr(name, '#')) != NULL && !strncmp(text, "sysv:", 5)) *hash = 0;
    cr_assert(stat(name, &st) != 0, "%s: \"%s\" exists after a failed parse", text, name);
    if (name[0] == '/' && !strchr(name + 1, '/') && strlen(name) < 200) {
        mqd_t q;
        snprintf(path, sizeof path, "/dev/shm%s", name);
        cr_assert(stat(path, &st) != 0, "%s: %s exists after a failed parse", text, path);
        q = mq_open(name, O_RDONLY);
        if (q != (mqd_t)-1) mq_close(q);
        cr_assert(q == (mqd_t)-1, "%s: a queue %s exists after a failed parse", text, name);
    }
}

static void expect_err(const char *text, int code) {
    long shm0 = count_entries("/dev/shm"), mq0 = count_entries("/dev/mqueue");
    ipc_addr *a;
    int rc = parse(text, &a);
    free(a);
    cr_assert_eq(rc, code, "%.200s: rc %d (%s), want %d (%s)", text, rc, strerror(-rc), code, strerror(-code));
    cr_assert_eq(count_entries("/dev/shm"), shm0, "%.200s: /dev/shm changed", text);
    cr_assert_eq(count_entries("/dev/mqueue"), mq0, "%.200s: /dev/mqueue changed", text);
    assert_nothing_named(text);
}

/* ==== valid addresses ===================================================== */

typedef struct ok_row {
    const char *text;
    want w;
} ok_row;

static const ok_row ok_rows[] = {
    /* stdio, both spellings, with and without options */
    {"-", {IPC_SCHEME_STDIO, "", DFD, 0, 0, DOPTS}},
    {"stdio:", {IPC_SCHEME_STDIO, "", DFD, 0, 0, DOPTS}},
    {"-?frame=cobs", {IPC_SCHEME_STDIO, "", DFD, 0, 0, IPC_COBS, DMAX, 0, 0, DMODE, 0, 0}},
    {"stdio:?frame=varint&max=100", {IPC_SCHEME_STDIO, "", DFD, 0, 0, IPC_VARINT, 100, 0, 0, DMODE, 0, 0}},
    {"-?frame=len32", {IPC_SCHEME_STDIO, "", DFD, 0, 0, IPC_LEN32, DMAX, 0, 0, DMODE, 0, 0}},
    /* fd */
    {"fd:0", {IPC_SCHEME_FD, "", 0, 0, 0, DOPTS}},
    {"fd:3", {IPC_SCHEME_FD, "", 3, 0, 0, DOPTS}},
    {"fd:007", {IPC_SCHEME_FD, "", 7, 0, 0, DOPTS}},
    {"fd:2147483647", {IPC_SCHEME_FD, "", INT_MAX, 0, 0, DOPTS}},
    {"fd:5?frame=varint", {IPC_SCHEME_FD, "", 5, 0, 0, IPC_VARINT, DMAX, 0, 0, DMODE, 0, 0}},
    /* fifo: any non-empty path */
    {"fifo:/tmp/f", {IPC_SCHEME_FIFO, "/tmp/f", DFD, 0, 0, DOPTS}},
    {"fifo:rel/f", {IPC_SCHEME_FIFO, "rel/f", DFD, 0, 0, DOPTS}},
    {"fifo:/tmp/a&b#c", {IPC_SCHEME_FIFO, "/tmp/a&b#c", DFD, 0, 0, DOPTS}},
    {"fifo:/tmp/f?mode=0644&max=1", {IPC_SCHEME_FIFO, "/tmp/f", DFD, 0, 0, DCODEC, 1, 0, 0, 0644, 0, 0}},
    /* unix, the three kinds, paths and abstract names */
    {"unix:/tmp/s", {IPC_SCHEME_UNIX, "/tmp/s", DFD, 0, 0, DOPTS}},
    {"unix:rel.sock", {IPC_SCHEME_UNIX, "rel.sock", DFD, 0, 0, DOPTS}},
    {"unix:@name", {IPC_SCHEME_UNIX, "@name", DFD, 0, 0, DOPTS}},
    {"unix:@name?frame=cobs", {IPC_SCHEME_UNIX, "@name", DFD, 0, 0, IPC_COBS, DMAX, 0, 0, DMODE, 0, 0}},
    {"unix:@@", {IPC_SCHEME_UNIX, "@@", DFD, 0, 0, DOPTS}},
    {"unix-dgram:/tmp/d", {IPC_SCHEME_UNIX_DGRAM, "/tmp/d", DFD, 0, 0, DOPTS}},
    {"unix-dgram:@d?msgsize=4096", {IPC_SCHEME_UNIX_DGRAM, "@d", DFD, 0, 0, DCODEC, DMAX, 0, 4096, DMODE, 0, 0}},
    {"unix-seqpacket:/tmp/q", {IPC_SCHEME_UNIX_SEQPACKET, "/tmp/q", DFD, 0, 0, DOPTS}},
    {"unix-seqpacket:@q", {IPC_SCHEME_UNIX_SEQPACKET, "@q", DFD, 0, 0, DOPTS}},
    /* mq */
    {"mq:/q", {IPC_SCHEME_MQ, "/q", DFD, 0, 0, DOPTS}},
    {"mq:/q?cap=10&msgsize=8192&prio=5&mode=0640",
     {IPC_SCHEME_MQ, "/q", DFD, 0, 0, DCODEC, DMAX, 10, 8192, 0640, 5, 0}},
    {"mq:/q?prio=0", {IPC_SCHEME_MQ, "/q", DFD, 0, 0, DOPTS}},
    {"mq:/q?prio=32767", {IPC_SCHEME_MQ, "/q", DFD, 0, 0, DCODEC, DMAX, 0, 0, DMODE, 32767, 0}},
    {"mq:/a.b-c_d", {IPC_SCHEME_MQ, "/a.b-c_d", DFD, 0, 0, DOPTS}},
    /* sysv: keys (base 0: hex with 0x, decimal) and path#proj */
    {"sysv:0x1234", {IPC_SCHEME_SYSV, "", DFD, 0x1234, 0, DOPTS}},
    {"sysv:0X1234", {IPC_SCHEME_SYSV, "", DFD, 0x1234, 0, DOPTS}},
    {"sysv:4660", {IPC_SCHEME_SYSV, "", DFD, 4660, 0, DOPTS}},
    {"sysv:010", {IPC_SCHEME_SYSV, "", DFD, 10, 0, DOPTS}}, /* decimal: a leading 0 is not octal */
    {"sysv:1", {IPC_SCHEME_SYSV, "", DFD, 1, 0, DOPTS}},
    {"sysv:0xffffffff", {IPC_SCHEME_SYSV, "", DFD, (key_t)-1, 0, DOPTS}},
    {"sysv:0x1234?type=7", {IPC_SCHEME_SYSV, "", DFD, 0x1234, 0, DCODEC, DMAX, 0, 0, DMODE, 0, 7}},
    {"sysv:/tmp#1", {IPC_SCHEME_SYSV, "/tmp", DFD, 0, 1, DOPTS}},
    {"sysv:/tmp#255", {IPC_SCHEME_SYSV, "/tmp", DFD, 0, 255, DOPTS}},
    {"sysv:/tmp#65?type=9223372036854775807",
     {IPC_SCHEME_SYSV, "/tmp", DFD, 0, 65, DCODEC, DMAX, 0, 0, DMODE, 0, LONG_MAX}},
    {"sysv:/a#b#7", {IPC_SCHEME_SYSV, "/a#b", DFD, 0, 7, DOPTS}}, /* the last '#' splits */
    /* shm */
    {"shm:/r", {IPC_SCHEME_SHM, "/r", DFD, 0, 0, DOPTS}},
    {"shm:/r?cap=1073741824", {IPC_SCHEME_SHM, "/r", DFD, 0, 0, DCODEC, DMAX, 1 << 30, 0, DMODE, 0, 0}},
    {"shm:/r?cap=1&msgsize=1", {IPC_SCHEME_SHM, "/r", DFD, 0, 0, DCODEC, DMAX, 1, 1, DMODE, 0, 0}},
    /* every option at once, in another order; limits */
    {"unix:/tmp/s?type=1&prio=2&mode=0&msgsize=3&cap=4&max=5&frame=varint",
     {IPC_SCHEME_UNIX, "/tmp/s", DFD, 0, 0, IPC_VARINT, 5, 4, 3, 0, 2, 1}},
    {"fifo:/f?max=2147483647", {IPC_SCHEME_FIFO, "/f", DFD, 0, 0, DCODEC, 2147483647u, 0, 0, DMODE, 0, 0}},
    {"fifo:/f?mode=777", {IPC_SCHEME_FIFO, "/f", DFD, 0, 0, DCODEC, DMAX, 0, 0, 0777, 0, 0}},
    {"fifo:/f?mode=0777", {IPC_SCHEME_FIFO, "/f", DFD, 0, 0, DCODEC, DMAX, 0, 0, 0777, 0, 0}},
    {"fifo:/f?msgsize=1073741824", {IPC_SCHEME_FIFO, "/f", DFD, 0, 0, DCODEC, DMAX, 0, 1 << 30, DMODE, 0, 0}},
    /* an option a mechanism has no use for is accepted */
    {"fd:1?prio=3&type=4&cap=5", {IPC_SCHEME_FD, "", 1, 0, 0, DCODEC, DMAX, 5, 0, DMODE, 3, 4}},
};

Test(addr, valid_addresses_give_exact_fields, .timeout = 10) {
    for (size_t i = 0; i < sizeof ok_rows / sizeof *ok_rows; i++) expect_ok(ok_rows[i].text, &ok_rows[i].w);
}

Test(addr, embedded_nul_ends_the_text, .timeout = 10) {
    static const char text[] = "unix:@ab\0cd";
    want w = {IPC_SCHEME_UNIX, "@ab", DFD, 0, 0, DOPTS};
    expect_ok(text, &w);
}

/* ==== bad addresses (fixed text) ========================================== */

typedef struct bad_row {
    const char *text;
    int code;
} bad_row;

#define BAD(t) {t, -EINVAL}

static const bad_row bad_rows[] = {
    /* the text itself */
    BAD(""), BAD("unix"), BAD("/tmp/x"), BAD("nosuch:/x"), BAD("UNIX:/ipc_addr_t_a"), BAD("unix :/ipc_addr_t_a"),
    BAD(" unix:/ipc_addr_t_a"), BAD("-x"), BAD("--"), BAD("-:"), BAD(":"), BAD(":/ipc_addr_t_a"), BAD("mqx:/ipc_addr_t_a"),
    BAD("unix-:/ipc_addr_t_a"), BAD("std:"), BAD("stdio:x"), BAD("stdio:/ipc_addr_t_a"),
    /* empty names */
    BAD("fifo:"), BAD("unix:"), BAD("unix:@"), BAD("unix-dgram:"), BAD("unix-dgram:@"), BAD("unix-seqpacket:"),
    BAD("unix-seqpacket:@"), BAD("mq:"), BAD("shm:"), BAD("sysv:"), BAD("fd:"), BAD("fifo:?mode=0600"),
    BAD("unix:?frame=cobs"),
    /* mq and shm names: one leading '/', no other, not empty */
    BAD("mq:ipc_addr_t_q"), BAD("mq:/"), BAD("mq:/ipc_addr_t_q/x"), BAD("mq://ipc_addr_t_q"), BAD("mq:/ipc_addr_t_q/"),
    BAD("shm:ipc_addr_t_r"), BAD("shm:/"), BAD("shm:/ipc_addr_t_r/x"), BAD("shm://ipc_addr_t_r"),
    BAD("shm:/ipc_addr_t_r/"),
    /* fd */
    BAD("fd:-1"), BAD("fd:abc"), BAD("fd:2147483648"), BAD("fd:99999999999999999999"), BAD("fd:+1"), BAD("fd: 1"),
    BAD("fd:1 "), BAD("fd:0x1"), BAD("fd:1a"), BAD("fd:/dev/null"),
    /* sysv */
    BAD("sysv:0"), BAD("sysv:0x0"), BAD("sysv:00"), BAD("sysv:0x100000000"), BAD("sysv:4294967296"),
    BAD("sysv:-1"), BAD("sysv:+1"), BAD("sysv: 1"), BAD("sysv:0x"), BAD("sysv:0xg"), BAD("sysv:12ab"),
    BAD("sysv:/ipc_addr_t_s"), BAD("sysv:/ipc_addr_t_s#0"), BAD("sysv:/ipc_addr_t_s#256"),
    BAD("sysv:/ipc_addr_t_s#"), BAD("sysv:/ipc_addr_t_s#-1"), BAD("sysv:/ipc_addr_t_s#+1"),
    BAD("sysv:/ipc_addr_t_s# 1"), BAD("sysv:/ipc_addr_t_s#0x10"), BAD("sysv:/ipc_addr_t_s#1x"), BAD("sysv:#1"),
    BAD("sysv:#"),
    /* option syntax */
    BAD("unix:/ipc_addr_t_a?"), BAD("unix:/ipc_addr_t_a?&"), BAD("unix:/ipc_addr_t_a?max=1&"),
    BAD("unix:/ipc_addr_t_a?&max=1"), BAD("unix:/ipc_addr_t_a?max=1&&cap=1"), BAD("unix:/ipc_addr_t_a?max"),
    BAD("unix:/ipc_addr_t_a?=1"), BAD("unix:/ipc_addr_t_a?max=1?cap=1"), BAD("-?"), BAD("-?&"),
    /* unknown keys, case, duplicates */
    BAD("unix:/ipc_addr_t_a?foo=1"), BAD("unix:/ipc_addr_t_a?Frame=cobs"), BAD("unix:/ipc_addr_t_a?MAX=1"),
    BAD("unix:/ipc_addr_t_a?frames=cobs"), BAD("unix:/ipc_addr_t_a?fram=cobs"), BAD("unix:/ipc_addr_t_a? max=1"),
    BAD("unix:/ipc_addr_t_a?max =1"), BAD("unix:/ipc_addr_t_a?max=1&foo=2"),
    BAD("unix:/ipc_addr_t_a?max=1&max=1"), BAD("unix:/ipc_addr_t_a?frame=cobs&frame=cobs"),
    BAD("unix:/ipc_addr_t_a?cap=1&cap=2"), BAD("unix:/ipc_addr_t_a?msgsize=1&msgsize=1"),
    BAD("unix:/ipc_addr_t_a?mode=0600&mode=0600"), BAD("unix:/ipc_addr_t_a?prio=1&prio=1"),
    BAD("unix:/ipc_addr_t_a?type=1&type=1"), BAD("-?frame=cobs&max=9&frame=len32"),
    /* empty values */
    BAD("unix:/ipc_addr_t_a?frame="), BAD("unix:/ipc_addr_t_a?max="), BAD("unix:/ipc_addr_t_a?cap="),
    BAD("unix:/ipc_addr_t_a?msgsize="), BAD("unix:/ipc_addr_t_a?mode="), BAD("unix:/ipc_addr_t_a?prio="),
    BAD("unix:/ipc_addr_t_a?type="),
    /* frame */
    BAD("unix:/ipc_addr_t_a?frame=COBS"), BAD("unix:/ipc_addr_t_a?frame=cob"), BAD("unix:/ipc_addr_t_a?frame=cobs "),
    BAD("unix:/ipc_addr_t_a?frame=len32x"), BAD("unix:/ipc_addr_t_a?frame=varint1"),
    BAD("unix:/ipc_addr_t_a?frame=0"), BAD("unix:/ipc_addr_t_a?frame=1"),
    /* max: 1..2^31-1, decimal digits only */
    BAD("unix:/ipc_addr_t_a?max=0"), BAD("unix:/ipc_addr_t_a?max=2147483648"), BAD("unix:/ipc_addr_t_a?max=-1"),
    BAD("unix:/ipc_addr_t_a?max=+1"), BAD("unix:/ipc_addr_t_a?max= 1"), BAD("unix:/ipc_addr_t_a?max=1 "),
    BAD("unix:/ipc_addr_t_a?max=0x10"), BAD("unix:/ipc_addr_t_a?max=1e3"), BAD("unix:/ipc_addr_t_a?max=1k"),
    BAD("unix:/ipc_addr_t_a?max=99999999999999999999999"),
    /* cap and msgsize: 1..2^30 */
    BAD("mq:/ipc_addr_t_q?cap=0"), BAD("mq:/ipc_addr_t_q?cap=1073741825"), BAD("mq:/ipc_addr_t_q?cap=4294967296"),
    BAD("mq:/ipc_addr_t_q?cap=9223372036854775807"), BAD("mq:/ipc_addr_t_q?cap=9223372036854775808"),
    BAD("mq:/ipc_addr_t_q?cap=-1"), BAD("mq:/ipc_addr_t_q?cap=+10"), BAD("mq:/ipc_addr_t_q?cap= 10"),
    BAD("mq:/ipc_addr_t_q?cap=0x10"), BAD("mq:/ipc_addr_t_q?cap=10 "), BAD("shm:/ipc_addr_t_r?cap=0"),
    BAD("shm:/ipc_addr_t_r?cap=2147483648"), BAD("mq:/ipc_addr_t_q?msgsize=0"),
    BAD("mq:/ipc_addr_t_q?msgsize=1073741825"), BAD("mq:/ipc_addr_t_q?msgsize=-8"),
    BAD("mq:/ipc_addr_t_q?msgsize=0x100"),
    /* mode: octal 0..0777 */
    BAD("mq:/ipc_addr_t_q?mode=1000"), BAD("mq:/ipc_addr_t_q?mode=01000"), BAD("mq:/ipc_addr_t_q?mode=0800"),
    BAD("mq:/ipc_addr_t_q?mode=8"), BAD("mq:/ipc_addr_t_q?mode=0x1ff"), BAD("mq:/ipc_addr_t_q?mode=-1"),
    BAD("mq:/ipc_addr_t_q?mode=+600"), BAD("mq:/ipc_addr_t_q?mode= 600"), BAD("mq:/ipc_addr_t_q?mode=rw"),
    BAD("mq:/ipc_addr_t_q?mode=0o600"), BAD("mq:/ipc_addr_t_q?mode=4294967296"),
    /* prio: 0..32767 */
    BAD("mq:/ipc_addr_t_q?prio=32768"), BAD("mq:/ipc_addr_t_q?prio=65536"), BAD("mq:/ipc_addr_t_q?prio=-1"),
    BAD("mq:/ipc_addr_t_q?prio=+1"), BAD("mq:/ipc_addr_t_q?prio=0x10"), BAD("mq:/ipc_addr_t_q?prio=1 "),
    /* type: 1..LONG_MAX */
    BAD("sysv:0x1234?type=0"), BAD("sysv:0x1234?type=-1"), BAD("sysv:0x1234?type=+1"),
    BAD("sysv:0x1234?type=0x10"), BAD("sysv:0x1234?type=9223372036854775808"), BAD("sysv:0x1234?type= 1"),
};

Test(addr, bad_addresses_give_documented_code_and_no_side_effect, .timeout = 30) {
    for (size_t i = 0; i < sizeof bad_rows / sizeof *bad_rows; i++) expect_err(bad_rows[i].text, bad_rows[i].code);
}

Test(addr, null_text_is_einval, .timeout = 10) {
    ipc_addr *a = (ipc_addr *)malloc(sizeof *a);
    cr_assert_not_null(a);
    cr_assert_eq(ipc_addr_parse(a, NULL), -EINVAL);
    free(a);
}

/* ==== lengths ============================================================= */

/* prefix + body, where body is fill repeated so that body has n bytes (body
   starts with lead, which counts), + suffix. Heap; free it. */
static char *mk(const char *prefix, const char *lead, size_t n, char fill, const char *suffix) {
    size_t pl = strlen(prefix), ll = strlen(lead), sl = strlen(suffix);
    char *s = (char *)malloc(pl + n + sl + 1);
    cr_assert_not_null(s);
    cr_assert(ll <= n);
    memcpy(s, prefix, pl);
    memcpy(s + pl, lead, ll);
    memset(s + pl + ll, fill, n - ll);
    memcpy(s + pl + n, suffix, sl + 1);
    return s;
}

static void ok_name(const char *prefix, const char *lead, size_t n, ipc_scheme scheme) {
    char *text = mk(prefix, lead, n, 'x', "");
    want w = {scheme, text + strlen(prefix), DFD, 0, 0, DOPTS};
    expect_ok(text, &w);
    free(text);
}
static void bad_name(const char *prefix, const char *lead, size_t n, const char *suffix, int code) {
    char *text = mk(prefix, lead, n, 'x', suffix);
    expect_err(text, code);
    free(text);
}

/* sun_path holds 108 bytes: a path of 107 and its NUL, or the abstract 0
   and 107 bytes of name. */
Test(addr, sun_path_107_108_109, .timeout = 10) {
    static const char *const schemes[] = {"unix:", "unix-dgram:", "unix-seqpacket:"};
    static const ipc_scheme ids[] = {IPC_SCHEME_UNIX, IPC_SCHEME_UNIX_DGRAM, IPC_SCHEME_UNIX_SEQPACKET};
    for (int i = 0; i < 3; i++) {
        ok_name(schemes[i], "/tmp/ipc_addr_t_sun_", 107, ids[i]);
        bad_name(schemes[i], "/tmp/ipc_addr_t_sun_", 108, "", -ENAMETOOLONG);
        bad_name(schemes[i], "/tmp/ipc_addr_t_sun_", 109, "", -ENAMETOOLONG);
        bad_name(schemes[i], "/tmp/ipc_addr_t_sun_", 108, "?frame=cobs", -ENAMETOOLONG);
        /* "@" + 107 bytes fills sun_path exactly; one more is too long */
        ok_name(schemes[i], "@ipc_addr_t_abs_", 1 + 107, ids[i]);
        bad_name(schemes[i], "@ipc_addr_t_abs_", 1 + 108, "", -ENAMETOOLONG);
        bad_name(schemes[i], "@ipc_addr_t_abs_", 1 + 109, "", -ENAMETOOLONG);
        /* relative paths count the same */
        ok_name(schemes[i], "ipc_addr_t_rel_", 107, ids[i]);
        bad_name(schemes[i], "ipc_addr_t_rel_", 108, "", -ENAMETOOLONG);
    }
}

/* mq and shm: "/" + 1..NAME_MAX (255) bytes. */
Test(addr, mq_shm_name_max, .timeout = 10) {
    ok_name("mq:", "/ipc_addr_t_q", 1 + NAME_MAX, IPC_SCHEME_MQ);
    ok_name("shm:", "/ipc_addr_t_r", 1 + NAME_MAX, IPC_SCHEME_SHM);
    ok_name("mq:", "/", 2, IPC_SCHEME_MQ);
    bad_name("mq:", "/ipc_addr_t_q", 1 + NAME_MAX + 1, "", -ENAMETOOLONG);
    bad_name("shm:", "/ipc_addr_t_r", 1 + NAME_MAX + 1, "", -ENAMETOOLONG);
    bad_name("mq:", "/ipc_addr_t_q", 1 + 1000, "?cap=1", -ENAMETOOLONG);
    /* a '/' inside is EINVAL, whatever the length */
    bad_name("mq:", "/ipc_addr_t_q/", 1 + NAME_MAX + 1, "", -EINVAL);
    bad_name("shm:", "/ipc_addr_t_r/", 50, "", -EINVAL);
}

/* The name part holds at most IPC_ADDR_NAME_MAX - 1 bytes. */
Test(addr, name_of_ipc_addr_name_max, .timeout = 10) {
    ok_name("fifo:", "/tmp/ipc_addr_t_f", IPC_ADDR_NAME_MAX - 1, IPC_SCHEME_FIFO);
    bad_name("fifo:", "/tmp/ipc_addr_t_f", IPC_ADDR_NAME_MAX, "", -ENAMETOOLONG);
    bad_name("fifo:", "/tmp/ipc_addr_t_f", IPC_ADDR_NAME_MAX + 1, "?mode=0600", -ENAMETOOLONG);
    {
        /* the name part counts the "#42": 4092 + 3 bytes */
        char *text = mk("sysv:", "/tmp/ipc_addr_t_s", IPC_ADDR_NAME_MAX - 4, 'x', "#42");
        want w = {IPC_SCHEME_SYSV, "", DFD, 0, 42, DOPTS};
        char *name = mk("", "/tmp/ipc_addr_t_s", IPC_ADDR_NAME_MAX - 4, 'x', "");
        w.name = name;
        expect_ok(text, &w);
        free(text);
        free(name);
    }
    {
        char *text = mk("sysv:", "/tmp/ipc_addr_t_s", IPC_ADDR_NAME_MAX - 3, 'x', "#42");
        expect_err(text, -ENAMETOOLONG);
        free(text);
    }
    bad_name("unix:", "/tmp/ipc_addr_t_u", IPC_ADDR_NAME_MAX, "", -ENAMETOOLONG);
    bad_name("mq:", "/ipc_addr_t_q", IPC_ADDR_NAME_MAX, "", -ENAMETOOLONG);
    bad_name("fd:", "1", IPC_ADDR_NAME_MAX, "", -ENAMETOOLONG);
    /* a long option value is only EINVAL */
    {
        char *text = mk("fifo:/tmp/ipc_addr_t_f?max=", "1", 5000, '0', "");
        expect_err(text, -EINVAL);
        free(text);
    }
}

/* ==== ipc_scheme_name ===================================================== */

Test(addr, scheme_names, .timeout = 10) {
    static const struct {
        ipc_scheme s;
        const char *name, *sample;
    } rows[] = {
        {IPC_SCHEME_STDIO, "stdio", ""},
        {IPC_SCHEME_FD, "fd", "3"},
        {IPC_SCHEME_FIFO, "fifo", "/f"},
        {IPC_SCHEME_UNIX, "unix", "/s"},
        {IPC_SCHEME_UNIX_DGRAM, "unix-dgram", "/s"},
        {IPC_SCHEME_UNIX_SEQPACKET, "unix-seqpacket", "@s"},
        {IPC_SCHEME_MQ, "mq", "/q"},
        {IPC_SCHEME_SYSV, "sysv", "0x1"},
        {IPC_SCHEME_SHM, "shm", "/r"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        char text[64];
        ipc_addr *a;
        int rc;
        cr_assert_str_eq(ipc_scheme_name(rows[i].s), rows[i].name);
        /* the name is what addresses spell: "NAME:sample" parses to it */
        snprintf(text, sizeof text, "%s:%s", rows[i].name, rows[i].sample);
        rc = parse(text, &a);
        cr_assert_eq(rc, 0, "%s: rc %d", text, rc);
        cr_assert_eq(a->scheme, rows[i].s, "%s", text);
        free(a);
    }
    cr_assert_str_eq(ipc_scheme_name((ipc_scheme)0), "?");
    cr_assert_str_eq(ipc_scheme_name((ipc_scheme)(IPC_SCHEME_SHM + 1)), "?");
    cr_assert_str_eq(ipc_scheme_name((ipc_scheme)100), "?");
    cr_assert_str_eq(ipc_scheme_name((ipc_scheme)-1), "?");
    cr_assert_str_eq(ipc_scheme_name((ipc_scheme)INT_MIN), "?");
}
