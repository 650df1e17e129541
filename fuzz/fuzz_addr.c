/* Fuzzes the address parser of section 5, ipc_addr_parse.

   Input layout: the whole input is the address text. It is parsed twice:
   as an exact-size NUL-terminated heap copy of every byte (the parse sees
   the text up to the first NUL), and, when the input holds NULs, as a copy
   with every NUL cut out (so the bytes after a NUL are parsed too). Each
   copy ends at its terminator, so ASan sees a read past it.

   Invariants (CHECK aborts):
   - the return value is 0, -EINVAL or -ENAMETOOLONG, never anything else;
   - on 0 the fields are consistent: the scheme is in range; name is
     NUL-terminated within IPC_ADDR_NAME_MAX; fd >= 0 exactly for fd:,
     -1 otherwise; codec is one of the three; 1 <= max <= 2^31-1;
     0 <= cap, msgsize <= 2^30; mode <= 0777; prio < 32768; type >= 0;
     stdio and fd have an empty name; fifo a non-empty one; unix schemes a
     name ipc_unix_addr_set takes; mq and shm one ipc_mq_name_check takes;
     sysv: key != 0 xor (name non-empty and 1 <= proj <= 255);
   - a round trip: the text rebuilt from the fields (scheme:name?options, in
     a fixed order) parses to the same fields;
   - parsing is deterministic: a second parse of the same text gives the
     same answer and the same fields. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include "fuzz_common.h"

#include <errno.h>
#include <stdint.h>

static ipc_addr a1, a2, a3; /* 4 KiB each: static, not on the stack */

static char *copy_z(const uint8_t *p, size_t n, int cut_nul) {
    char *s = (char *)malloc(n + 1);
    size_t k = 0;
    CHECK(s != NULL);
    for (size_t i = 0; i < n; i++)
        if (!cut_nul || p[i]) s[k++] = (char)p[i];
    s[k] = '\0';
    return s;
}

/* The fields a parse defines, compared (name up to its terminator). */
static int same_addr(const ipc_addr *a, const ipc_addr *b) {
    return a->scheme == b->scheme && strcmp(a->name, b->name) == 0 && a->fd == b->fd && a->key == b->key &&
           a->proj == b->proj && a->codec == b->codec && a->max == b->max && a->cap == b->cap &&
           a->msgsize == b->msgsize && a->mode == b->mode && a->prio == b->prio && a->type == b->type;
}

static void check_fields(const ipc_addr *a) {
    size_t n;
    CHECK(a->scheme >= IPC_SCHEME_STDIO && a->scheme <= IPC_SCHEME_SHM);
    CHECK(strcmp(ipc_scheme_name(a->scheme), "?") != 0);
    CHECK(memchr(a->name, '\0', sizeof a->name) != NULL);
    n = strlen(a->name);
    CHECK(n < IPC_ADDR_NAME_MAX);
    CHECK(strchr(a->name, '?') == NULL);
    if (a->scheme == IPC_SCHEME_FD)
        CHECK(a->fd >= 0);
    else
        CHECK(a->fd == -1);
    CHECK(a->codec == IPC_LEN32 || a->codec == IPC_VARINT || a->codec == IPC_COBS);
    CHECK(a->max >= 1 && a->max <= (size_t)INT32_MAX);
    CHECK(a->cap >= 0 && a->cap <= (1l << 30));
    CHECK(a->msgsize >= 0 && a->msgsize <= (1l << 30));
    CHECK(a->mode <= 0777);
    CHECK(a->prio < 32768);
    CHECK(a->type >= 0);
    if (a->scheme != IPC_SCHEME_SYSV) CHECK(a->key == 0 && a->proj == 0);
    switch (a->scheme) {
    case IPC_SCHEME_STDIO:
    case IPC_SCHEME_FD: CHECK(n == 0); break;
    case IPC_SCHEME_FIFO: CHECK(n > 0); break;
    case IPC_SCHEME_UNIX:
    case IPC_SCHEME_UNIX_DGRAM:
    case IPC_SCHEME_UNIX_SEQPACKET: {
        ipc_unix_addr ua;
        CHECK(ipc_unix_addr_set(&ua, a->name) == 0);
        break;
    }
    case IPC_SCHEME_MQ:
    case IPC_SCHEME_SHM: CHECK(ipc_mq_name_check(a->name) == 0); break;
    case IPC_SCHEME_SYSV:
        CHECK((a->key != 0) != (n > 0 && a->proj >= 1 && a->proj <= 255));
        if (a->key != 0) CHECK(n == 0 && a->proj == 0);
        break;
    }
}

/* scheme:name?frame=..&max=..[&cap=..][&msgsize=..]&mode=..&prio=..[&type=..] */
static char *rebuild(const ipc_addr *a) {
    size_t cap = strlen(a->name) + 256;
    char *s = (char *)malloc(cap);
    int k;
    CHECK(s != NULL);
    switch (a->scheme) {
    case IPC_SCHEME_FD: k = snprintf(s, cap, "fd:%d", a->fd); break;
    case IPC_SCHEME_SYSV:
        if (a->key != 0)
            k = snprintf(s, cap, "sysv:0x%x", (unsigned)(uint32_t)a->key);
        else
            k = snprintf(s, cap, "sysv:%s#%d", a->name, a->proj);
        break;
    default: k = snprintf(s, cap, "%s:%s", ipc_scheme_name(a->scheme), a->name); break;
    }
    CHECK(k > 0 && (size_t)k < cap);
    k += snprintf(s + k, cap - (size_t)k, "?frame=%s&max=%zu", ipc_codec_name(a->codec), a->max);
    if (a->cap) k += snprintf(s + k, cap - (size_t)k, "&cap=%ld", a->cap);
    if (a->msgsize) k += snprintf(s + k, cap - (size_t)k, "&msgsize=%ld", a->msgsize);
    k += snprintf(s + k, cap - (size_t)k, "&mode=0%o&prio=%u", a->mode, a->prio);
    if (a->type) k += snprintf(s + k, cap - (size_t)k, "&type=%ld", a->type);
    CHECK((size_t)k < cap);
    return s;
}

static void one(const char *text) {
    int rc = ipc_addr_parse(&a1, text), rc2;
    CHECK(rc == 0 || rc == -EINVAL || rc == -ENAMETOOLONG);
    memset(&a2, 0x5A, sizeof a2);
    rc2 = ipc_addr_parse(&a2, text);
    CHECK(rc2 == rc);
    if (rc != 0) return;
    CHECK(same_addr(&a1, &a2));
    check_fields(&a1);
    {
        char *again = rebuild(&a1);
        memset(&a3, 0xA5, sizeof a3);
        rc = ipc_addr_parse(&a3, again);
        if (rc != 0 || !same_addr(&a1, &a3)) fprintf(stderr, "round trip of \"%.300s\" via \"%.300s\": %d\n", text, again, rc);
        CHECK(rc == 0);
        CHECK(same_addr(&a1, &a3));
        free(again);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = copy_z(data, size, 0);
    one(text);
    free(text);
    if (memchr(data, 0, size)) {
        text = copy_z(data, size, 1);
        one(text);
        free(text);
    }
    return 0;
}
