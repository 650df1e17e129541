/* sysv_worker.c - take one worker's jobs off a System V queue and check them.

   Usage: sysv_worker [-q] [--timeout MS] PATH W
          sysv_worker [-q] [--timeout MS] --id QID W

   The other half of sysv_dispatch. Attaches to the dispatcher's queue, by
   its key ftok(PATH, 'J') (ipc_sysv_key) or by its queue id QID (how the
   dispatcher starts the workers it forks), and receives only the messages
   of type W, its worker number: ipc_sysv_recv(qid, W, ...) is msgrcv with
   msgtyp = W, so several workers share one queue, each takes only its own
   jobs, and a worker's jobs come out in the order they went in. Every job
   is checked (see sysv_jobs.h): its sequence number must be the last one
   plus one, its length must be what its header says, and the CRC-32 must
   match the payload. The worker prints "worker W job SEQ ok" for each, or
   with -q one summary line at the end, "worker W: N of M jobs ok".

   The last message is the stop, with the number of jobs the dispatcher
   sent; the worker compares it with what it got, answers with an
   acknowledgement (type ACK_TYPE: the count, and whether all was well),
   and exits. A job that fails its check is reported on stderr and the
   worker goes on to the stop: it keeps draining its jobs, so the
   dispatcher is never left waiting for room in a queue nobody empties.

   A worker started before the dispatcher waits for the queue to appear:
   System V says nothing when a queue is created, so it looks again every
   10 ms. It never creates the queue itself; only the dispatcher does, so
   the dispatcher's removal leaves nothing behind.

   The TLPI idioms this replaces: the receive buffer declared as a struct
   with a long mtype in front, and msgrcv's msgsz that must leave the mtype
   out; here the payload goes to a plain buffer and the type, if wanted,
   to a long of its own. And msgrcv has no timeout (the usual workaround is
   an alarm() whose signal interrupts it): ipc_sysv_recv takes one, and a
   queue removed while we wait is -EIDRM either way, blocked in msgrcv or
   between two IPC_NOWAIT tries of the timed form.

   --timeout MS bounds every wait: for the queue to appear, for each
   message, for room for the acknowledgement; when one runs out the worker
   exits with status 3.

   Exit status: 0 all the jobs arrived, in order and intact, as many as the
   stop said; 1 a failure (a bad job, the queue removed, ...); 2 a usage
   error; 3 a wait ran out. Every failure prints one line on stderr. */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"
#include "sysv_jobs.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3 };

#define ATTACH_POLL_MS 10 /* how often a worker looks for a queue not made yet */

static long worker; /* our number: the message type we take */

/* The exit status for a failed wait: 3 when it ran out of time. */
static int status_for(long rc) {
    return rc == -ETIMEDOUT || rc == -EAGAIN ? EXIT_TIMEOUT : EXIT_FAIL;
}

/* msgget without IPC_CREAT until the queue of key exists, or the deadline
   passes. Returns the queue id, or -ETIMEDOUT (-EAGAIN for timeout 0) or
   another -errno. */
static int attach(key_t key, int timeout_ms) {
    int64_t deadline = ipc_deadline(timeout_ms);
    for (;;) {
        int qid = ipc_sysv_open(key, 0, 0), left;
        if (qid != -ENOENT) return qid;
        if ((left = ipc_deadline_left_ms(deadline)) == 0) return ipc_deadline_error(deadline);
        if (left < 0 || left > ATTACH_POLL_MS) left = ATTACH_POLL_MS;
        struct timespec ts = {0, left * 1000000L};
        nanosleep(&ts, NULL); /* EINTR: look again early */
    }
}

/* A job that fails its check: one line on stderr. */
static void bad_job(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sysv_worker: worker %ld: ", worker);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: sysv_worker [-q] [--timeout MS] PATH W\n"
            "       sysv_worker [-q] [--timeout MS] --id QID W\n"
            "Worker W (1..%d) of sysv_dispatch: takes the messages of type W off the queue\n"
            "keyed by ftok(PATH, 'J') (waiting for it to appear) or with id QID, checks each\n"
            "job, and acknowledges to the dispatcher after the stop message.\n"
            "  -i, --id QID       the queue's id instead of PATH\n"
            "  -q, --quiet        one summary line instead of a line per job\n"
            "  -t, --timeout MS   give up when a wait lasts MS ms (exit 3)\n"
            "Exit status: 0 every job arrived intact, 1 failure, 2 usage error, 3 timeout.\n",
            MAX_WORKERS);
}

/* A decimal number in [lo, hi], or -1 when s is not one. */
static int parse_number(const char *s, unsigned long lo, unsigned long hi, unsigned long *out) {
    char *end;
    unsigned long v;
    if (*s < '0' || *s > '9') return -1; /* strtoul would accept " -5" */
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int main(int argc, char *argv[]) {
    static const struct option longopts[] = {
        {"id", required_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned long v;
    int timeout_ms = -1, quiet = 0, qid = -1, opt, rc;

    opterr = 0; /* we print our own one-line message */
    while ((opt = getopt_long(argc, argv, "i:t:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'i':
            if (parse_number(optarg, 0, INT_MAX, &v) < 0) {
                fprintf(stderr, "sysv_worker: --id wants a queue id (as ipcs -q shows it), not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            qid = (int)v;
            break;
        case 't':
            if (parse_number(optarg, 0, INT_MAX, &v) < 0) {
                fprintf(stderr, "sysv_worker: --timeout wants milliseconds (0..%d), not '%s'\n", INT_MAX, optarg);
                return EXIT_USAGE;
            }
            timeout_ms = (int)v;
            break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            if (optopt == 'i' || optopt == 't')
                fprintf(stderr, "sysv_worker: %s needs an argument (try --help)\n", argv[optind - 1]);
            else
                fprintf(stderr, "sysv_worker: unknown option '%s' (try --help)\n", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    /* PATH W, or W alone after --id. */
    int want = qid < 0 ? 2 : 1;
    if (argc - optind != want) {
        if (argc - optind > want)
            fprintf(stderr, "sysv_worker: unexpected argument '%s' (try --help)\n", argv[optind + want]);
        else
            fprintf(stderr, "sysv_worker: %s (try --help)\n",
                    qid < 0 ? "wants PATH and a worker number" : "wants a worker number");
        return EXIT_USAGE;
    }
    const char *path = qid < 0 ? argv[optind] : NULL;
    if (parse_number(argv[argc - 1], 1, MAX_WORKERS, &v) < 0) {
        fprintf(stderr, "sysv_worker: the worker number is 1..%d, not '%s'\n", MAX_WORKERS, argv[argc - 1]);
        return EXIT_USAGE;
    }
    worker = (long)v;

    /* One write per line, so that workers sharing a terminal or a pipe
       never cut into each other's lines. */
    if (setvbuf(stdout, NULL, _IOLBF, 0) != 0) {
        fprintf(stderr, "sysv_worker: worker %ld: setvbuf failed\n", worker);
        return EXIT_FAIL;
    }

    /* The queue: by key (waiting for the dispatcher to make it) or by id. */
    if (path) {
        key_t key;
        if ((rc = ipc_sysv_key(path, JOBS_PROJ, &key)) < 0) {
            fprintf(stderr, "sysv_worker: worker %ld: %s: %s\n", worker, path, ipc_strerror(rc));
            return EXIT_FAIL;
        }
        if ((qid = attach(key, timeout_ms)) < 0) {
            fprintf(stderr, "sysv_worker: worker %ld: no queue with key 0x%08x (%s): %s\n", worker, (unsigned)key, path,
                    ipc_strerror(qid));
            return status_for(qid);
        }
    } else {
        ipc_sysv_info info;
        if ((rc = ipc_sysv_stat(qid, &info)) < 0) {
            fprintf(stderr, "sysv_worker: worker %ld: queue %d: %s\n", worker, qid, ipc_strerror(rc));
            return EXIT_FAIL;
        }
    }

    uint8_t *buf = malloc(JOB_MAX);
    if (!buf) {
        fprintf(stderr, "sysv_worker: worker %ld: %s\n", worker, strerror(errno));
        return EXIT_FAIL;
    }

    /* Our jobs, up to the stop. */
    uint32_t expect = 1, intact = 0, sent = 0;
    int bad = 0, status = 0;
    for (;;) {
        job_header h;
        ssize_t n = ipc_sysv_recv(qid, worker, 0, NULL, buf, JOB_MAX, timeout_ms);
        if (n < 0) {
            if (n == -ETIMEDOUT || n == -EAGAIN)
                fprintf(stderr, "sysv_worker: worker %ld: no job for %d ms after job %u: %s\n", worker, timeout_ms,
                        expect - 1, ipc_strerror((int)n));
            else if (n == -EIDRM)
                fprintf(stderr, "sysv_worker: worker %ld: queue %d: %s (removed while we waited)\n", worker, qid,
                        ipc_strerror((int)n));
            else if (n == -E2BIG)
                fprintf(stderr, "sysv_worker: worker %ld: a message over %d bytes: %s\n", worker, JOB_MAX,
                        ipc_strerror((int)n));
            else
                fprintf(stderr, "sysv_worker: worker %ld: queue %d: %s\n", worker, qid, ipc_strerror((int)n));
            status = status_for(n);
            break;
        }
        if ((size_t)n < sizeof h) {
            bad_job("a message of %zd bytes, shorter than a job header (%zu)", n, sizeof h);
            bad = 1;
            continue;
        }
        memcpy(&h, buf, sizeof h);
        if (h.kind == JOB_STOP) {
            sent = h.seq;
            break;
        }
        if (h.kind != JOB_WORK) {
            bad_job("a message of unknown kind %u (after job %u)", h.kind, expect - 1);
            bad = 1;
            continue;
        }
        if (h.seq != expect)
            bad_job("job %u where job %u was due (lost, repeated or reordered)", h.seq, expect);
        else if (h.len != (size_t)n - sizeof h)
            bad_job("job %u: %zu payload bytes, its header says %u", h.seq, (size_t)n - sizeof h, h.len);
        else if (job_crc32(buf + sizeof h, h.len) != h.crc)
            bad_job("job %u: CRC-32 mismatch (payload damaged)", h.seq);
        else { /* intact */
            intact++;
            if (!quiet && printf("worker %ld job %u ok\n", worker, h.seq) < 0) {
                fprintf(stderr, "sysv_worker: worker %ld: stdout: %s\n", worker, strerror(errno));
                status = EXIT_FAIL;
                break;
            }
            expect++;
            continue;
        }
        bad = 1;
        expect = h.seq + 1; /* after a gap, count on from here: one loss, one complaint */
    }
    free(buf);
    if (status != 0) return status;

    /* The stop says how many jobs there were; tell the dispatcher. */
    if (intact != sent) {
        fprintf(stderr, "sysv_worker: worker %ld: the dispatcher sent %u jobs, %u arrived intact\n", worker, sent,
                intact);
        bad = 1;
    }
    job_ack ack = {(uint32_t)worker, intact, !bad};
    if ((rc = ipc_sysv_send(qid, ACK_TYPE, &ack, sizeof ack, timeout_ms)) < 0) {
        fprintf(stderr, "sysv_worker: worker %ld: acknowledgement: %s\n", worker, ipc_strerror(rc));
        return status_for(rc);
    }
    if (quiet && printf("worker %ld: %u of %u jobs ok\n", worker, intact, sent) < 0) {
        fprintf(stderr, "sysv_worker: worker %ld: stdout: %s\n", worker, strerror(errno));
        return EXIT_FAIL;
    }
    return bad ? EXIT_FAIL : 0;
}
