/* Fuzzes the /proc text parsers behind the monitoring scans (section 6):
   ipc_parse_sysvipc (one data line of /proc/sysvipc/msg|shm|sem, columns
   named by a header line) and ipc_parse_net_unix (one line of
   /proc/net/unix).

   Input layout:
     byte 0   bits 0-1: the parser: 0 msg, 1 shm, 2 sem, 3 net/unix
              bit 2:    sysvipc only: use the kernel's real header for the
                        kind and the whole rest as the data line (reaches
                        deep field parsing fast); else bytes 1-2 split
     bytes 1-2 (sysvipc without bit 2) little-endian split offset, modulo
              the rest's length + 1: header = rest[0..split),
              line = rest[split..)
     rest     the text
   Each text is passed as an exact-size NUL-terminated heap copy, so ASan
   sees a read past the terminator.

   Invariants (CHECK aborts):
   - the return value is 0 or IPC_EFRAME, never anything else;
   - on 0: the kind is the one asked for (IPC_KIND_UNIX_SOCKET for
     net/unix), name is NUL-terminated within its array (obj is filled with
     0xA5 first, so a missing terminator shows), bytes, count and capacity
     are >= -1, listening is 0 or 1;
   - parsing is deterministic: a second parse of the same text gives the
     same answer and, on 0, the same record. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include "fuzz_common.h"

static const char *const real_header[3] = {
    "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      "
    "ctime",
    "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      "
    "dtime "
    "     ctime                   rss                  swap",
    "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime",
};

static char *copy_z(const uint8_t *p, size_t n) {
    char *s = (char *)malloc(n + 1);
    CHECK(s != NULL);
    if (n) memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void check_obj(const ipc_object *o, ipc_kind want) {
    CHECK(o->kind == want);
    CHECK(memchr(o->name, '\0', sizeof o->name) != NULL);
    CHECK(o->bytes >= -1);
    CHECK(o->count >= -1);
    CHECK(o->capacity >= -1);
    if (want == IPC_KIND_UNIX_SOCKET) CHECK(o->listening == 0 || o->listening == 1);
}

/* The fields a parse defines, compared (name up to its terminator). */
static int same_obj(const ipc_object *a, const ipc_object *b) {
    return a->kind == b->kind && strcmp(a->name, b->name) == 0 && a->key == b->key && a->id == b->id &&
           a->uid == b->uid && a->gid == b->gid && a->mode == b->mode && a->bytes == b->bytes && a->count == b->count &&
           a->capacity == b->capacity && a->pid[0] == b->pid[0] && a->pid[1] == b->pid[1] && a->inode == b->inode &&
           a->sock_type == b->sock_type && a->sock_state == b->sock_state && a->listening == b->listening;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in = {data, size, 0};
    uint8_t sel = fz_byte(&in);
    unsigned which = sel & 3;
    ipc_object o1, o2;
    int rc1, rc2;

    memset(&o1, 0xA5, sizeof o1);
    memset(&o2, 0x5A, sizeof o2);
    if (which == 3) {
        char *line = copy_z(in.p + in.pos, fz_left(&in));
        rc1 = ipc_parse_net_unix(line, &o1);
        rc2 = ipc_parse_net_unix(line, &o2);
        free(line);
        CHECK(rc1 == 0 || rc1 == IPC_EFRAME);
        CHECK(rc2 == rc1);
        if (rc1 == 0) {
            check_obj(&o1, IPC_KIND_UNIX_SOCKET);
            CHECK(same_obj(&o1, &o2));
        }
        return 0;
    } else {
        ipc_kind kind = (ipc_kind)(IPC_KIND_SYSV_MSG + (int)which);
        char *header, *line;
        if (sel & 4) {
            header = copy_z((const uint8_t *)real_header[which], strlen(real_header[which]));
            line = copy_z(in.p + in.pos, fz_left(&in));
        } else {
            size_t split = fz_u16(&in), left = fz_left(&in);
            split %= left + 1;
            header = copy_z(in.p + in.pos, split);
            line = copy_z(in.p + in.pos + split, left - split);
        }
        rc1 = ipc_parse_sysvipc(kind, header, line, &o1);
        rc2 = ipc_parse_sysvipc(kind, header, line, &o2);
        free(header);
        free(line);
        CHECK(rc1 == 0 || rc1 == IPC_EFRAME);
        CHECK(rc2 == rc1);
        if (rc1 == 0) {
            check_obj(&o1, kind);
            CHECK(same_obj(&o1, &o2));
        }
    }
    return 0;
}
