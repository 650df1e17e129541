/* ipc.c - the `ipc` tool: a look at the machine's live IPC objects.

   Usage: ipc stat [--kind K[,K...]] [--pid PID] [--name SUBSTR] [--json]
          ipc --help | ipc stat --help

   One subcommand for now, stat; send, recv, rm and bench come later (see
   DESIGN.md, "Command-line tool ipc"). stat shows in one place what takes
   ipcs, ls /dev/mqueue, ls /dev/shm, ss -x and a walk of /proc/PID/fd and
   /proc/PID/maps, through ipc.h's scans (section 6, monitoring):

       ipc stat                          every System V queue, segment and
                                         semaphore set, POSIX queue and shm
                                         object, and Unix socket
       ipc stat --kind sysv-msg,unix     only those kinds
       ipc stat --pid 1234               what process 1234 holds: pipes,
                                         FIFOs, sockets, queues, shared memory
                                         (open or mapped), memfds, by fd
       ipc stat --name /jobs --json      scripts: JSON Lines

   The table has one section per kind: a title line, then aligned columns
   (sizes human-readable: 512, 16.0K, 1.5M). Kinds, as --kind takes them:
   sysv-msg, sysv-shm, sysv-sem, posix-mq, posix-shm, unix (the default
   six), and pipe, fifo, socket, memfd (found in processes: without --pid
   they come from a walk of every process, one row per descriptor or
   mapping); "sysv" and "posix" name the groups. --name keeps the objects
   whose name contains SUBSTR; a System V object has no name, so there SUBSTR
   is matched against its key as ipcs prints it (0x0000002a).

   RING (POSIX shm): for a region that holds an ipc.h ring (its header is
   valid), the records queued / the data capacity; "-" for any other.

   HOLDERS: the processes that have the object: for a POSIX queue, a POSIX
   shm object or a Unix socket, those with its inode open or mapped (a walk
   of every /proc/PID/fd and maps, with ipc_scan_process); for a System V queue,
   which no descriptor holds, those blocked in msgsnd or msgrcv on it (from
   /proc/PID/syscall). At most 8 pids are listed, then "+N" more.

   JSON: JSON Lines, one object per line (a stream is easier to filter with
   grep, head or a line-by-line reader than one array, and needs no memory
   for the whole). An object's line has "kind" (ipc_kind_name) and the
   fields of ipc_object by their names (name, key, id, uid, gid, mode, bytes,
   count, capacity, pid [2], inode, sock_type, sock_state, listening,
   holder, fd, ring), exact numbers (mode in decimal, key as an unsigned 32-bit
   number, -1 for unknown), plus "owner" (the user name) and, where
   computed, "holders" (the pids, all of them up to 8) and "nholders".
   With --pid a socket found in /proc/net/unix gets "path". Strings are
   escaped: quotes, backslashes, control characters as \u00XX, and a byte
   that is not part of valid UTF-8 as \u00XX too. Two lines without "kind":
   {"unavailable":"posix-mq","reason":"..."} when /dev/mqueue is not
   mounted (nothing is ever mounted), and always last {"skipped":N}, the
   /proc entries that could not be read (a process that exited during the
   walk, a file we may not read). The table says the latter on stderr as
   "(N entries could not be read)" when N > 0. N sums every walk: a
   process we may not read counts once per walk that met it.

   Memory: rows are buffered one kind at a time, at most ROWS_MAX (4096) at
   once, to measure the columns and find the holders; a kind with more rows
   prints in chunks of 4096, each measured on its own (a column can widen
   from one chunk to the next; the header is measured on the first). The
   scans themselves allocate nothing. A huge machine costs time, not memory:
   one walk of /proc per chunk of a kind with a HOLDERS column.

   Exit status: 0 success; 1 a scan failed (for another reason than
   /dev/mqueue not mounted), no such process, or stdout failed; 2 a usage
   error (an unknown kind or subcommand). Every failure prints one line on
   stderr. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };
enum { ROWS_MAX = 4096, HOLD_MAX = 8, NCOLS = 10, CELL = 320 };
#define KIND_LAST IPC_KIND_MEMFD
#define BIT(k) (1u << (k))
#define SYSTEM_KINDS                                                                                             \
    (BIT(IPC_KIND_SYSV_MSG) | BIT(IPC_KIND_SYSV_SHM) | BIT(IPC_KIND_SYSV_SEM) | BIT(IPC_KIND_POSIX_MQ) |         \
     BIT(IPC_KIND_POSIX_SHM) | BIT(IPC_KIND_UNIX_SOCKET))
#define ALL_KINDS (SYSTEM_KINDS | BIT(IPC_KIND_PIPE) | BIT(IPC_KIND_FIFO) | BIT(IPC_KIND_SOCKET) | BIT(IPC_KIND_MEMFD))

typedef struct row {
    ipc_object o;
    int nholders;             /* all of them; the first HOLD_MAX in holders */
    pid_t holders[HOLD_MAX];
    char path[sizeof ((ipc_object *)0)->name]; /* --pid: a socket's /proc/net/unix name */
    int unix_found;
} row;

/* One section: the rows of one kind (or of one process, with --pid). */
typedef struct stat_ctx {
    unsigned kinds;   /* BIT(kind) of the kinds to show */
    const char *name; /* --name, or NULL */
    pid_t pid;        /* --pid, or 0 */
    int json;
    unsigned skipped;
    int status;
    /* the section being filled */
    ipc_kind kind;    /* 0 for a --pid section */
    int walk;         /* rows from a walk of every process (pipe, fifo, socket, memfd) */
    int open;
    row *rows;
    size_t n, total;
    size_t *order;    /* row indexes by inode, for the holder walk */
    int width[NCOLS];
} stat_ctx;

/* ---- small helpers ------------------------------------------------------- */

/* The user name of uid (a small cache: getpwuid reads /etc/passwd). */
static const char *owner(uid_t uid, char *buf, size_t cap) {
    static struct {
        uid_t uid;
        char name[64];
        int used;
    } cache[16];
    static unsigned next;
    for (unsigned i = 0; i < 16; i++)
        if (cache[i].used && cache[i].uid == uid) return snprintf(buf, cap, "%s", cache[i].name), buf;
    struct passwd *pw = getpwuid(uid);
    unsigned i = next++ % 16;
    cache[i].used = 1;
    cache[i].uid = uid;
    if (pw && strlen(pw->pw_name) < sizeof cache[i].name) snprintf(cache[i].name, sizeof cache[i].name, "%s", pw->pw_name);
    else snprintf(cache[i].name, sizeof cache[i].name, "%lu", (unsigned long)uid);
    snprintf(buf, cap, "%s", cache[i].name);
    return buf;
}

/* 512, 16.0K, 1.5M; "-" for unknown. */
static void human(char *buf, size_t cap, int64_t v) {
    static const char unit[] = "KMGTPE";
    double d = (double)v;
    int u = -1;
    if (v < 0) {
        snprintf(buf, cap, "-");
        return;
    }
    if (v < 1024) {
        snprintf(buf, cap, "%lld", (long long)v);
        return;
    }
    while ((d >= 1024 || u < 0) && u < 5) d /= 1024, u++;
    if (d >= 1023.95 && u < 5) d /= 1024, u++; /* 1023.97K prints as 1.0M, not 1024.0K */
    snprintf(buf, cap, "%.1f%c", d, unit[u]);
}

static void number(char *buf, size_t cap, int64_t v) {
    if (v < 0) snprintf(buf, cap, "-");
    else snprintf(buf, cap, "%lld", (long long)v);
}

/* A name for the table: control characters as '?', so a row stays one line. */
static void printable(char *buf, size_t cap, const char *s, const char *none) {
    size_t i = 0;
    if (!*s) s = none;
    for (; *s && i + 1 < cap; s++) buf[i++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
    buf[i] = 0;
}

static void holders_cell(char *buf, size_t cap, const row *r) {
    size_t len = 0;
    int shown = r->nholders < HOLD_MAX ? r->nholders : HOLD_MAX;
    if (r->nholders == 0) {
        snprintf(buf, cap, "-");
        return;
    }
    buf[0] = 0;
    for (int i = 0; i < shown && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%d", i ? "," : "", (int)r->holders[i]);
    if (r->nholders > shown && len < cap) snprintf(buf + len, cap - len, " +%d", r->nholders - shown);
}

static const char *type_name(int t) {
    return t == SOCK_STREAM ? "stream" : t == SOCK_DGRAM ? "dgram" : t == SOCK_SEQPACKET ? "seqpacket" : "?";
}

/* The St column of /proc/net/unix is the kernel's socket_state. */
static const char *state_name(int s) {
    static const char *names[] = {"free", "unconnected", "connecting", "connected", "disconnecting"};
    return s >= 0 && s <= 4 ? names[s] : "?";
}

static int has_holders(ipc_kind k) {
    return k == IPC_KIND_SYSV_MSG || k == IPC_KIND_POSIX_MQ || k == IPC_KIND_POSIX_SHM || k == IPC_KIND_UNIX_SOCKET;
}

static const char *title(ipc_kind k) {
    switch (k) {
    case IPC_KIND_SYSV_MSG: return "System V message queues";
    case IPC_KIND_SYSV_SHM: return "System V shared memory segments";
    case IPC_KIND_SYSV_SEM: return "System V semaphore arrays";
    case IPC_KIND_POSIX_MQ: return "POSIX message queues";
    case IPC_KIND_POSIX_SHM: return "POSIX shared memory";
    case IPC_KIND_UNIX_SOCKET: return "Unix sockets";
    case IPC_KIND_PIPE: return "Pipes (every process)";
    case IPC_KIND_FIFO: return "FIFOs (every process)";
    case IPC_KIND_SOCKET: return "Sockets (every process)";
    case IPC_KIND_MEMFD: return "Memfds (every process)";
    }
    return "?";
}

/* ---- the table's columns --------------------------------------------------- */

/* The header and the cells of row r (r NULL: the header) for the section;
   returns the column count; right[i] says a column is right-aligned. */
static int cells(const stat_ctx *c, const row *r, char cell[NCOLS][CELL], int right[NCOLS]) {
    static const char *h_msg[] = {"KEY", "ID", "OWNER", "PERMS", "USED-BYTES", "MESSAGES", "CAPACITY", "LSPID", "LRPID", "HOLDERS"};
    static const char *h_shm[] = {"KEY", "ID", "OWNER", "PERMS", "SIZE", "ATTACHES", "CPID", "LPID"};
    static const char *h_sem[] = {"KEY", "ID", "OWNER", "PERMS", "NSEMS"};
    static const char *h_mq[] = {"NAME", "OWNER", "PERMS", "SIZE", "MESSAGES", "MAXMSG", "HOLDERS"};
    static const char *h_pshm[] = {"NAME", "OWNER", "PERMS", "SIZE", "RING", "HOLDERS"};
    static const char *h_unix[] = {"PATH", "TYPE", "STATE", "LISTENING", "INODE", "HOLDERS"};
    static const char *h_walk[] = {"PID", "FD", "NAME", "INODE", "OWNER", "SIZE"};
    static const char *h_pid[] = {"FD", "KIND", "NAME", "INODE", "OWNER", "PERMS", "SIZE", "DETAIL"};
    const char **h;
    const char *rt; /* right-aligned columns, as '1's */
    int n;
    const ipc_object *o = r ? &r->o : NULL;
    char own[64];
    if (c->pid) h = h_pid, n = 8, rt = "10010010";
    else if (c->walk) h = h_walk, n = 6, rt = "110101";
    else switch (c->kind) {
        case IPC_KIND_SYSV_MSG: h = h_msg, n = 10, rt = "0101111110"; break;
        case IPC_KIND_SYSV_SHM: h = h_shm, n = 8, rt = "01011111"; break;
        case IPC_KIND_SYSV_SEM: h = h_sem, n = 5, rt = "01011"; break;
        case IPC_KIND_POSIX_MQ: h = h_mq, n = 7, rt = "0011110"; break;
        case IPC_KIND_POSIX_SHM: h = h_pshm, n = 6, rt = "001100"; break;
        default: h = h_unix, n = 6, rt = "000010"; break;
        }
    for (int i = 0; i < n; i++) {
        right[i] = rt[i] == '1';
        if (!o) snprintf(cell[i], CELL, "%s", h[i]);
    }
    if (!o) return n;
    if (o->uid != (uid_t)-1) owner(o->uid, own, sizeof own);
    if (c->pid) {
        if (o->fd >= 0) snprintf(cell[0], CELL, "%d", o->fd);
        else snprintf(cell[0], CELL, "map");
        snprintf(cell[1], CELL, "%s", ipc_kind_name(o->kind));
        printable(cell[2], CELL, o->name, "-");
        snprintf(cell[3], CELL, "%lu", o->inode);
        snprintf(cell[4], CELL, "%s", o->fd >= 0 ? own : "-");
        if (o->fd >= 0) snprintf(cell[5], CELL, "%04o", o->mode);
        else snprintf(cell[5], CELL, "-");
        human(cell[6], CELL, o->bytes);
        cell[7][0] = 0;
        if (o->kind == IPC_KIND_SOCKET && r->unix_found) {
            char p[CELL];
            printable(p, sizeof p, r->path, "(unnamed)");
            snprintf(cell[7], CELL, "unix %s %s%s %.200s", type_name(o->sock_type), state_name(o->sock_state),
                     o->listening ? " listening" : "", p);
        } else if (o->kind == IPC_KIND_SYSV_SHM) {
            snprintf(cell[7], CELL, "key 0x%08x shmid %lu", (unsigned)o->key, o->inode);
        }
        if (!cell[7][0]) snprintf(cell[7], CELL, "-");
        return n;
    }
    if (c->walk) {
        snprintf(cell[0], CELL, "%d", (int)o->holder);
        if (o->fd >= 0) snprintf(cell[1], CELL, "%d", o->fd);
        else snprintf(cell[1], CELL, "map");
        printable(cell[2], CELL, o->name, "-");
        snprintf(cell[3], CELL, "%lu", o->inode);
        snprintf(cell[4], CELL, "%s", o->fd >= 0 ? own : "-");
        human(cell[5], CELL, o->bytes);
        return n;
    }
    switch (c->kind) {
    case IPC_KIND_SYSV_MSG:
    case IPC_KIND_SYSV_SHM:
    case IPC_KIND_SYSV_SEM:
        snprintf(cell[0], CELL, "0x%08x", (unsigned)o->key);
        snprintf(cell[1], CELL, "%d", o->id);
        snprintf(cell[2], CELL, "%s", own);
        snprintf(cell[3], CELL, "%o", o->mode);
        if (c->kind == IPC_KIND_SYSV_SEM) {
            number(cell[4], CELL, o->count);
        } else {
            human(cell[4], CELL, o->bytes);
            number(cell[5], CELL, o->count);
            if (c->kind == IPC_KIND_SYSV_MSG) {
                human(cell[6], CELL, o->capacity);
                snprintf(cell[7], CELL, "%d", (int)o->pid[0]);
                snprintf(cell[8], CELL, "%d", (int)o->pid[1]);
                holders_cell(cell[9], CELL, r);
            } else {
                snprintf(cell[6], CELL, "%d", (int)o->pid[0]);
                snprintf(cell[7], CELL, "%d", (int)o->pid[1]);
            }
        }
        break;
    case IPC_KIND_POSIX_MQ:
    case IPC_KIND_POSIX_SHM:
        printable(cell[0], CELL, o->name, "-");
        snprintf(cell[1], CELL, "%s", own);
        snprintf(cell[2], CELL, "%04o", o->mode);
        human(cell[3], CELL, o->bytes);
        if (c->kind == IPC_KIND_POSIX_MQ) {
            number(cell[4], CELL, o->count);
            number(cell[5], CELL, o->capacity);
            holders_cell(cell[6], CELL, r);
        } else { /* an ipc.h ring: records queued / data capacity */
            char cap[CELL / 2];
            human(cap, sizeof cap, o->capacity);
            if (o->ring) snprintf(cell[4], CELL, "%lld/%s", (long long)o->count, cap);
            else snprintf(cell[4], CELL, "-");
            holders_cell(cell[5], CELL, r);
        }
        break;
    default:
        printable(cell[0], CELL, o->name, "(unnamed)");
        snprintf(cell[1], CELL, "%s", type_name(o->sock_type));
        snprintf(cell[2], CELL, "%s", state_name(o->sock_state));
        snprintf(cell[3], CELL, "%s", o->listening ? "yes" : "no");
        snprintf(cell[4], CELL, "%lu", o->inode);
        holders_cell(cell[5], CELL, r);
        break;
    }
    return n;
}

static void print_cells(const stat_ctx *c, char cell[NCOLS][CELL], const int right[NCOLS], int n) {
    for (int i = 0; i < n; i++) {
        int last = i == n - 1;
        if (right[i]) printf("%*s", c->width[i], cell[i]);
        else if (last) printf("%s", cell[i]);
        else printf("%-*s", c->width[i], cell[i]);
        putchar(last ? '\n' : ' ');
    }
}

/* ---- JSON Lines ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
static int utf8_len(const unsigned char *s) {
    int n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
    if (!n) return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0; /* overlong, surrogate */
    if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))) return 0; /* overlong, > U+10FFFF */
    return n;
}

static void json_string(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    putchar('"');
    while (*s) {
        int n;
        if (*s == '"' || *s == '\\') printf("\\%c", *s++);
        else if (*s < 0x20 || *s == 0x7f) printf("\\u%04x", *s++);
        else if (*s < 0x80) putchar(*s++);
        else if ((n = utf8_len(s)) > 0) fwrite(s, 1, (size_t)n, stdout), s += n;
        else printf("\\u%04x", *s++); /* a stray byte: as the code point of the same value */
    }
    putchar('"');
}

static void json_row(const stat_ctx *c, const row *r) {
    const ipc_object *o = &r->o;
    char own[64];
    printf("{\"kind\":\"%s\",\"name\":", ipc_kind_name(o->kind));
    json_string(o->name);
    printf(",\"key\":%u,\"id\":%d,\"uid\":%lu,\"gid\":%lu,\"owner\":", (unsigned)o->key, o->id, (unsigned long)o->uid,
           (unsigned long)o->gid);
    json_string(owner(o->uid, own, sizeof own));
    printf(",\"mode\":%u,\"bytes\":%lld,\"count\":%lld,\"capacity\":%lld,\"pid\":[%d,%d],\"inode\":%lu", o->mode,
           (long long)o->bytes, (long long)o->count, (long long)o->capacity, (int)o->pid[0], (int)o->pid[1], o->inode);
    printf(",\"sock_type\":%d,\"sock_state\":%d,\"listening\":%d,\"holder\":%d,\"fd\":%d,\"ring\":%d", o->sock_type,
           o->sock_state, o->listening, (int)o->holder, o->fd, o->ring);
    if (!c->pid && !c->walk && has_holders(c->kind)) {
        int shown = r->nholders < HOLD_MAX ? r->nholders : HOLD_MAX;
        printf(",\"holders\":[");
        for (int i = 0; i < shown; i++) printf("%s%d", i ? "," : "", (int)r->holders[i]);
        printf("],\"nholders\":%d", r->nholders);
    }
    if (c->pid && r->unix_found) {
        printf(",\"path\":");
        json_string(r->path);
    }
    printf("}\n");
}

/* ---- holders: a walk of every process ---------------------------------------- */

static stat_ctx *sort_ctx; /* qsort has no argument */
static int by_inode(const void *a, const void *b) {
    unsigned long x = sort_ctx->rows[*(const size_t *)a].o.inode, y = sort_ctx->rows[*(const size_t *)b].o.inode;
    return x < y ? -1 : x > y;
}

/* The buffered rows with this inode (order sorted by inode): first index
   into order, or -1. */
static long find_inode(stat_ctx *c, unsigned long inode) {
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->rows[c->order[mid]].o.inode < inode) lo = mid + 1;
        else hi = mid;
    }
    return lo < c->n && c->rows[c->order[lo]].o.inode == inode ? (long)lo : -1;
}

static void add_holder(row *r, pid_t pid) {
    int shown = r->nholders < HOLD_MAX ? r->nholders : HOLD_MAX;
    for (int i = 0; i < shown; i++)
        if (r->holders[i] == pid) return;
    if (r->nholders < HOLD_MAX) r->holders[r->nholders] = pid;
    r->nholders++;
}

typedef struct walk_arg {
    stat_ctx *c;
    ipc_kind want; /* the process-scan kind that holds this section's objects */
    pid_t last_pid; /* per row, a pid is added once: see seen */
} walk_arg;

static int holder_found(const ipc_object *o, void *arg) {
    walk_arg *w = arg;
    stat_ctx *c = w->c;
    long i;
    if (o->kind != w->want || (i = find_inode(c, o->inode)) < 0) return 0;
    for (; (size_t)i < c->n && c->rows[c->order[i]].o.inode == o->inode; i++) {
        row *r = &c->rows[c->order[i]];
        /* A process may hold one object twice (an fd and a mapping, two
           fds): count it once. Its objects come together, so the last pid
           added is the one to compare with beyond the listed ones. */
        int shown = r->nholders < HOLD_MAX ? r->nholders : HOLD_MAX, dup = 0;
        for (int j = 0; j < shown; j++) dup |= r->holders[j] == o->holder;
        if (!dup && r->nholders > HOLD_MAX && w->last_pid == o->holder) dup = 1;
        if (!dup) add_holder(r, o->holder);
    }
    return 0;
}

/* Calls fn for every process but this one; counts the ones that cannot be
   opened in c->skipped. */
static int each_process(stat_ctx *c, int (*fn)(stat_ctx *c, pid_t pid, void *arg), void *arg) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    int rc = 0;
    if (!d) return -errno;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char *end;
        long pid;
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid > INT_MAX || pid == getpid()) continue;
        rc = fn(c, (pid_t)pid, arg);
    }
    closedir(d);
    return rc;
}

static int holders_of_process(stat_ctx *c, pid_t pid, void *arg) {
    walk_arg *w = arg;
    int rc;
    w->last_pid = 0;
    rc = ipc_scan_process(pid, holder_found, w, &c->skipped);
    if (rc < 0) c->skipped++; /* gone (-ESRCH) or not ours to read */
    return 0;
}

/* A process blocked in msgsnd or msgrcv: /proc/PID/syscall says
   "NR ARG1 ..." with the queue id in ARG1. */
static int waiter_of_process(stat_ctx *c, pid_t pid, void *arg) {
    char path[48], buf[256];
    long nr;
    unsigned long qid;
    FILE *f;
    (void)arg;
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    if (!(f = fopen(path, "re"))) {
        c->skipped++;
        return 0;
    }
    if (!fgets(buf, sizeof buf, f)) {
        c->skipped += ferror(f) != 0;
        fclose(f);
        return 0;
    }
    fclose(f);
    if (sscanf(buf, "%ld %lx", &nr, &qid) != 2) return 0; /* "running" */
#if defined(SYS_msgrcv) && defined(SYS_msgsnd)
    if (nr != SYS_msgrcv && nr != SYS_msgsnd) return 0;
#else
    return 0;
#endif
    for (size_t i = 0; i < c->n; i++)
        if (c->rows[i].o.id == (int)qid) add_holder(&c->rows[i], pid);
    return 0;
}

static void find_holders(stat_ctx *c) {
    walk_arg w = {c, (ipc_kind)0, 0};
    if (c->n == 0 || c->pid || c->walk || !has_holders(c->kind)) return;
    if (c->kind == IPC_KIND_SYSV_MSG) {
        each_process(c, waiter_of_process, NULL);
        return;
    }
    for (size_t i = 0; i < c->n; i++) c->order[i] = i;
    sort_ctx = c;
    qsort(c->order, c->n, sizeof *c->order, by_inode);
    w.want = c->kind == IPC_KIND_POSIX_MQ ? IPC_KIND_POSIX_MQ
             : c->kind == IPC_KIND_POSIX_SHM ? IPC_KIND_POSIX_SHM
                                            : IPC_KIND_SOCKET;
    each_process(c, holders_of_process, &w);
}

/* --pid: a socket's entry in /proc/net/unix. */
static int unix_found(const ipc_object *o, void *arg) {
    stat_ctx *c = arg;
    long i = find_inode(c, o->inode);
    for (; i >= 0 && (size_t)i < c->n && c->rows[c->order[i]].o.inode == o->inode; i++) {
        row *r = &c->rows[c->order[i]];
        if (r->o.kind != IPC_KIND_SOCKET) continue;
        r->unix_found = 1;
        r->o.sock_type = o->sock_type;
        r->o.sock_state = o->sock_state;
        r->o.listening = o->listening;
        memcpy(r->path, o->name, sizeof r->path);
    }
    return 0;
}

static void find_unix(stat_ctx *c) {
    int any = 0;
    for (size_t i = 0; i < c->n; i++) any |= c->rows[i].o.kind == IPC_KIND_SOCKET;
    if (!any) return;
    for (size_t i = 0; i < c->n; i++) c->order[i] = i;
    sort_ctx = c;
    qsort(c->order, c->n, sizeof *c->order, by_inode);
    ipc_scan_unix_sockets(unix_found, c, &c->skipped); /* a failure leaves DETAIL empty */
}

/* ---- sections ------------------------------------------------------------------ */

static void section_title(stat_ctx *c) {
    if (c->pid) {
        char path[48], comm[64] = "";
        FILE *f;
        snprintf(path, sizeof path, "/proc/%d/comm", (int)c->pid);
        if ((f = fopen(path, "re")) != NULL) {
            if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = 0;
            fclose(f);
        }
        char p[80];
        printable(p, sizeof p, comm, "?");
        printf("Process %d (%s)\n", (int)c->pid, p);
    } else {
        printf("%s\n", title(c->kind));
    }
}

/* Prints the buffered rows (measuring them first) and empties the buffer. */
static void flush_rows(stat_ctx *c) {
    char cell[NCOLS][CELL];
    int right[NCOLS], n;
    if (c->n == 0) return;
    if (c->pid) find_unix(c);
    else find_holders(c);
    if (c->json) {
        for (size_t i = 0; i < c->n; i++) json_row(c, &c->rows[i]);
    } else {
        if (c->total == 0) { /* the header, measured with the first chunk */
            n = cells(c, NULL, cell, right);
            for (int j = 0; j < n; j++) c->width[j] = (int)strlen(cell[j]);
        }
        for (size_t i = 0; i < c->n; i++) {
            n = cells(c, &c->rows[i], cell, right);
            for (int j = 0; j < n; j++)
                if ((int)strlen(cell[j]) > c->width[j]) c->width[j] = (int)strlen(cell[j]);
        }
        if (c->total == 0) {
            n = cells(c, NULL, cell, right);
            print_cells(c, cell, right, n);
        }
        for (size_t i = 0; i < c->n; i++) {
            n = cells(c, &c->rows[i], cell, right);
            print_cells(c, cell, right, n);
        }
    }
    c->total += c->n;
    c->n = 0;
}

static void section_begin(stat_ctx *c, ipc_kind kind, int walk) {
    c->kind = kind;
    c->walk = walk;
    c->open = 1;
    c->n = c->total = 0;
    memset(c->width, 0, sizeof c->width);
    if (!c->json) section_title(c);
}

static void section_end(stat_ctx *c) {
    if (!c->open) return;
    flush_rows(c);
    if (!c->json) {
        if (c->total == 0) printf("  (none)\n");
        putchar('\n');
    }
    c->open = 0;
}

static int wanted(const stat_ctx *c, const ipc_object *o) {
    char key[16];
    const char *name = o->name;
    if (!(c->kinds & BIT(o->kind))) return 0;
    if (!c->name) return 1;
    if (o->kind == IPC_KIND_SYSV_MSG || o->kind == IPC_KIND_SYSV_SHM || o->kind == IPC_KIND_SYSV_SEM) {
        snprintf(key, sizeof key, "0x%08x", (unsigned)o->key); /* no name: the key, as ipcs prints it */
        name = key;
    }
    return strstr(name, c->name) != NULL;
}

static void add_row(stat_ctx *c, const ipc_object *o) {
    row *r = &c->rows[c->n++];
    memset(r, 0, sizeof *r);
    r->o = *o;
    if (c->n == ROWS_MAX) flush_rows(c);
}

/* Scan callback for the system-wide kinds: sections follow the scan's
   order (msg, shm, sem within ipc_scan_sysv). */
static int found(const ipc_object *o, void *arg) {
    stat_ctx *c = arg;
    if (!(c->kinds & BIT(o->kind))) return 0;
    if (!c->open || c->kind != o->kind) {
        /* the kinds in between that had nothing (sysv: msg, shm, sem) */
        for (ipc_kind k = c->open ? c->kind + 1 : o->kind; k < o->kind; k++) {
            section_end(c);
            if (c->kinds & BIT(k)) section_begin(c, k, 0);
        }
        section_end(c);
        section_begin(c, o->kind, 0);
    }
    if (wanted(c, o)) add_row(c, o);
    return 0;
}

/* Scan callback for --pid and for the walks of every process. */
static int found_in_process(const ipc_object *o, void *arg) {
    stat_ctx *c = arg;
    if (c->walk && o->kind != c->kind) return 0;
    if (wanted(c, o)) add_row(c, o);
    return 0;
}

static int walk_one(stat_ctx *c, pid_t pid, void *arg) {
    (void)arg;
    if (ipc_scan_process(pid, found_in_process, c, &c->skipped) < 0) c->skipped++;
    return 0;
}

static void scan_failed(stat_ctx *c, const char *what, int rc) {
    fflush(stdout);
    fprintf(stderr, "ipc stat: %s: %s\n", what, ipc_strerror(rc));
    c->status = EXIT_FAIL;
}

/* The sections of one system-wide scan: kinds first..last, whichever are
   wanted, each printed even when it has no rows. */
static void run_scan(stat_ctx *c, int (*scan)(ipc_object_fn, void *, unsigned *), ipc_kind first, ipc_kind last,
                     const char *what) {
    int rc;
    unsigned mask = 0;
    for (ipc_kind k = first; k <= last; k++) mask |= BIT(k);
    if (!(c->kinds & mask)) return;
    rc = scan(found, c, &c->skipped);
    if (rc == -ENOENT && first == IPC_KIND_POSIX_MQ) {
        section_end(c);
        if (c->json) printf("{\"unavailable\":\"posix-mq\",\"reason\":\"/dev/mqueue not mounted\"}\n");
        else printf("POSIX message queues: /dev/mqueue not mounted\n\n");
        return;
    }
    /* the wanted kinds of this scan after the last one that had a row */
    for (ipc_kind k = c->open && c->kind >= first && c->kind <= last ? c->kind + 1 : first; k <= last; k++) {
        section_end(c);
        if (c->kinds & BIT(k)) section_begin(c, k, 0);
    }
    section_end(c);
    if (rc < 0) scan_failed(c, what, rc);
}

static int do_stat(stat_ctx *c) {
    c->rows = malloc(ROWS_MAX * sizeof *c->rows);
    c->order = malloc(ROWS_MAX * sizeof *c->order);
    if (!c->rows || !c->order) {
        fprintf(stderr, "ipc stat: %s\n", strerror(ENOMEM));
        return EXIT_FAIL;
    }
    if (c->pid) {
        char dir[32];
        struct stat st;
        int rc = -ESRCH;
        snprintf(dir, sizeof dir, "/proc/%d", (int)c->pid);
        if (stat(dir, &st) == 0) { /* the title only for a process that is there */
            section_begin(c, (ipc_kind)0, 0);
            rc = ipc_scan_process(c->pid, found_in_process, c, &c->skipped);
        }
        if (rc == -ESRCH) {
            fflush(stdout);
            fprintf(stderr, "ipc stat: process %d: %s\n", (int)c->pid, ipc_strerror(rc));
            c->status = EXIT_FAIL;
            c->open = 0;
        } else {
            section_end(c);
            if (rc < 0) {
                char what[48];
                snprintf(what, sizeof what, "process %d", (int)c->pid);
                scan_failed(c, what, rc);
            }
        }
    } else {
        run_scan(c, ipc_scan_sysv, IPC_KIND_SYSV_MSG, IPC_KIND_SYSV_SEM, "/proc/sysvipc");
        run_scan(c, ipc_scan_posix_mq, IPC_KIND_POSIX_MQ, IPC_KIND_POSIX_MQ, "/dev/mqueue");
        run_scan(c, ipc_scan_posix_shm, IPC_KIND_POSIX_SHM, IPC_KIND_POSIX_SHM, "/dev/shm");
        run_scan(c, ipc_scan_unix_sockets, IPC_KIND_UNIX_SOCKET, IPC_KIND_UNIX_SOCKET, "/proc/net/unix");
        for (ipc_kind k = IPC_KIND_PIPE; k <= KIND_LAST; k++) {
            if (!(c->kinds & BIT(k))) continue;
            section_begin(c, k, 1);
            int rc = each_process(c, walk_one, NULL);
            section_end(c);
            if (rc < 0) scan_failed(c, "/proc", rc);
        }
    }
    if (c->json) printf("{\"skipped\":%u}\n", c->skipped);
    free(c->rows);
    free(c->order);
    if (fflush(stdout) == EOF || ferror(stdout)) {
        fprintf(stderr, "ipc stat: stdout: %s\n", strerror(errno ? errno : EIO));
        return EXIT_FAIL;
    }
    if (!c->json && c->skipped > 0) fprintf(stderr, "(%u entries could not be read)\n", c->skipped);
    return c->status;
}

/* ---- main -------------------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f, "usage: ipc stat [--kind K[,K...]] [--pid PID] [--name SUBSTR] [--json]\n"
               "The live IPC objects on this machine (System V, POSIX queues and shm, Unix sockets),\n"
               "or what one process holds. Only the stat subcommand exists so far (send, recv,\n"
               "rm and bench come later).\n"
               "stat: one table per kind, aligned, sizes human-readable.\n"
               "  -k, --kind K,...   only these kinds: sysv-msg, sysv-shm, sysv-sem, posix-mq,\n"
               "                     posix-shm, unix (the default), pipe, fifo, socket, memfd\n"
               "                     (from every process), or the groups sysv and posix\n"
               "  -p, --pid PID      what process PID holds, with fd numbers ('map': mapped)\n"
               "  -n, --name SUBSTR  objects whose name (System V: key, 0x%%08x) contains SUBSTR\n"
               "  -j, --json         JSON Lines: one object per line, exact numbers, then a last\n"
               "                     line {\"skipped\":N}\n"
               "Unreadable /proc entries are skipped and counted (table: on stderr).\n"
               "Exit status: 0 ok, 1 a scan failed, 2 usage error.\n");
}

/* Adds the kinds of a --kind list to *mask; -1 for an unknown one. */
static int parse_kinds(char *list, unsigned *mask, const char **bad) {
    for (char *save = NULL, *k = strtok_r(list, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        unsigned m = 0;
        if (!strcmp(k, "sysv")) m = BIT(IPC_KIND_SYSV_MSG) | BIT(IPC_KIND_SYSV_SHM) | BIT(IPC_KIND_SYSV_SEM);
        else if (!strcmp(k, "posix")) m = BIT(IPC_KIND_POSIX_MQ) | BIT(IPC_KIND_POSIX_SHM);
        else
            for (ipc_kind i = IPC_KIND_SYSV_MSG; i <= KIND_LAST; i++)
                if (!strcmp(k, ipc_kind_name(i))) m = BIT(i);
        if (!m) return *bad = k, -1;
        *mask |= m;
    }
    return 0;
}

static int stat_main(int argc, char *argv[]) {
    static const struct option longopts[] = {{"kind", required_argument, NULL, 'k'},
                                              {"pid", required_argument, NULL, 'p'},
                                              {"name", required_argument, NULL, 'n'},
                                              {"json", no_argument, NULL, 'j'},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    stat_ctx c;
    int opt;
    memset(&c, 0, sizeof c);
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "k:p:n:jh", longopts, NULL)) != -1) {
        const char *arg = argv[optind - 1], *bad = NULL;
        char *end;
        long v;
        switch (opt) {
        case 'h': usage(stdout); return 0;
        case 'k':
            if (!*optarg || parse_kinds(optarg, &c.kinds, &bad) < 0) {
                fprintf(stderr, "ipc stat: unknown kind '%s' (sysv-msg, sysv-shm, sysv-sem, posix-mq, posix-shm, "
                                "unix, pipe, fifo, socket, memfd, sysv, posix)\n", bad ? bad : optarg);
                return EXIT_USAGE;
            }
            break;
        case 'p':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (*optarg < '1' || *optarg > '9' || *end || errno || v > INT_MAX) {
                fprintf(stderr, "ipc stat: --pid wants a process id, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            c.pid = (pid_t)v;
            break;
        case 'n': c.name = optarg; break;
        case 'j': c.json = 1; break;
        default:
            if (optopt && strchr("kpn", optopt)) fprintf(stderr, "ipc stat: %s needs an argument (try --help)\n", arg);
            else fprintf(stderr, "ipc stat: unknown option '%s' (try --help)\n", arg);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ipc stat: unexpected argument '%s' (try --help)\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (!c.kinds) c.kinds = c.pid ? ALL_KINDS : SYSTEM_KINDS;
    return do_stat(&c);
}

int main(int argc, char *argv[]) {
    if (argc < 2) {
        fprintf(stderr, "ipc: wants a subcommand: stat (try --help)\n");
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "stat")) return stat_main(argc - 1, argv + 1);
    fprintf(stderr, "ipc: unknown subcommand '%s' (only stat so far; try --help)\n", argv[1]);
    return EXIT_USAGE;
}
