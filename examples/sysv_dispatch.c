/* sysv_dispatch.c - hand out jobs to workers over one System V message queue.

   Usage: sysv_dispatch [-w WORKERS] [-n JOBS] [-s SIZE] [-q] [--timeout MS] [PATH]

   Creates a message queue and sends JOBS jobs to WORKERS workers, round
   robin: job i goes to worker i % WORKERS + 1, and the message's type is
   that worker's number, so every worker takes its own jobs off the one
   queue (msgrcv's type selector) and never sees another's. Each job checks
   itself (see sysv_jobs.h): a sequence number counting that worker's jobs
   from 1, the payload length and a CRC-32 of SIZE pseudo-random payload
   bytes. After the jobs comes one stop message per worker, saying how many
   jobs it was sent. The counterpart is sysv_worker. Two ways to run it:

   - Without PATH the queue is private (IPC_PRIVATE) and the dispatcher
     forks the workers itself, each running "sysv_worker --id QID W" (the
     sysv_worker in this program's directory, or the one on $PATH when it
     was run by name alone). It waits for their exit statuses, then reads
     the acknowledgements they left.

         sysv_dispatch -w 3 -n 30

   - With PATH the key is ftok(PATH, 'J') (ipc_sysv_key) and the workers
     are started separately, before or after the dispatcher, with the same
     PATH. A worker's last act is an acknowledgement, a message of type
     ACK_TYPE saying how many jobs arrived intact; the dispatcher waits
     for one from each worker. (An acknowledgement rather than a --remove
     option: the dispatcher knows when everyone is done and that they
     succeeded, and nobody else has to clean up.)

         touch /tmp/jobs
         sysv_dispatch -w 2 /tmp/jobs & sysv_worker /tmp/jobs 1 & sysv_worker /tmp/jobs 2

   Either way the dispatcher removes the queue at the end, after a failure
   too; a worker still waiting on it then wakes with -EIDRM. It creates the
   queue with IPC_O_EXCL: a queue already under the key belongs to another
   run (or a dead one's leftover, for ipcrm -Q), and is neither shared nor
   removed.

   The TLPI idioms this replaces: a struct with a long mtype in front of the
   payload, and msgsnd's msgsz that must count the payload but not the
   mtype (sizeof(msg) - sizeof(long)); ipc_sysv_send takes the type and
   the payload apart. System V has no timed msgsnd (the usual workaround is
   an alarm() whose signal interrupts it); ipc_sysv_send takes a timeout. A full queue (kernel.msgmnb
   bytes, 16 KiB by default) is backpressure: the dispatcher waits for the
   workers to make room. With forked workers it looks up every SLICE_MS
   while it waits, so a worker that died (and will never make room) stops
   the run at once instead of leaving it waiting.

   --timeout MS bounds every wait: for room in the queue, for the forked
   workers to finish, for each acknowledgement. When one runs out the
   dispatcher removes the queue and exits with status 3.

   Exit status: 0 every worker got all its jobs, in order and intact; 1 a
   failure; 2 a usage error; 3 a wait ran out. Every failure prints one
   line on stderr (one per worker that failed). */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"
#include "sysv_jobs.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3 };

#define SLICE_MS 100 /* with forked workers, a wait for room looks up this often */

typedef struct worker {
    pid_t pid;  /* forked and not reaped yet; 0 otherwise */
    int reaped; /* forked and exited, with this wait status: */
    int status;
    uint32_t sent; /* jobs sent to it */
    int stopped;   /* its stop message is queued */
    int acked;     /* its acknowledgement arrived: */
    job_ack ack;
} worker;

typedef struct dispatch {
    int qid;
    int forked; /* the workers are our children */
    int nworkers;
    int timeout_ms;
    worker *w; /* w[1..nworkers]: w[0] is unused, so w[n] is worker n */
} dispatch;

/* The exit status for a failed wait: 3 when it ran out of time. */
static int status_for(long rc) {
    return rc == -ETIMEDOUT || rc == -EAGAIN ? EXIT_TIMEOUT : EXIT_FAIL;
}

/* A wait status in words. */
static const char *describe(int status, char *buf, size_t len) {
    if (WIFEXITED(status))
        snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d, %s", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "wait status 0x%x", (unsigned)status);
    return buf;
}

/* Job seq for worker w: the header, then size pseudo-random bytes. Returns
   the message's length. */
static size_t make_job(uint8_t *m, int w, uint32_t seq, size_t size) {
    job_header h = {JOB_WORK, seq, (uint32_t)size, 0};
    uint8_t *payload = m + sizeof h;
    uint32_t x = ((uint32_t)w * 2654435761u ^ seq * 40503u) | 1; /* xorshift32: any non-zero seed */
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        payload[i] = (uint8_t)(x >> 24);
    }
    h.crc = job_crc32(payload, size);
    memcpy(m, &h, sizeof h);
    return sizeof h + size;
}

/* ---- forked workers ------------------------------------------------------ */

/* In the child: becomes "sysv_worker --id QID [--timeout MS] [-q] W", the
   sysv_worker in this program's directory when argv[0] names one, else the
   one on $PATH. Returns only if the exec failed. */
static void exec_worker(const char *self, int qid, int w, int timeout_ms, int quiet) {
    char id[16], num[16], ms[16], path[PATH_MAX];
    char *args[8];
    int n = 0;
    const char *slash = strrchr(self, '/');
    snprintf(id, sizeof id, "%d", qid);
    snprintf(num, sizeof num, "%d", w);
    snprintf(ms, sizeof ms, "%d", timeout_ms);
    args[n++] = "sysv_worker";
    args[n++] = "--id";
    args[n++] = id;
    if (timeout_ms >= 0) {
        args[n++] = "--timeout";
        args[n++] = ms;
    }
    if (quiet) args[n++] = "-q";
    args[n++] = num;
    args[n] = NULL;
    if (slash && snprintf(path, sizeof path, "%.*s/sysv_worker", (int)(slash - self), self) < (int)sizeof path)
        execv(path, args);
    else
        execvp("sysv_worker", args);
}

/* Reaps the forked workers that have exited, waiting until all have or the
   deadline passes. SIGCHLD is blocked (since before the first fork), so a
   child that exits between waitpid and sigtimedwait leaves its signal
   pending and the wait returns at once: no lost wake-up and no polling.
   Returns 0 when every worker is reaped, else -EAGAIN (deadline TRY),
   -ETIMEDOUT or -errno. */
static int reap(dispatch *d, int64_t deadline) {
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    for (;;) {
        int status, live = 0, left;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            for (int i = 1; i <= d->nworkers; i++)
                if (d->w[i].pid == pid) {
                    d->w[i].pid = 0;
                    d->w[i].reaped = 1;
                    d->w[i].status = status;
                }
        if (pid < 0 && errno != ECHILD && errno != EINTR) return -errno;
        for (int i = 1; i <= d->nworkers; i++)
            live += d->w[i].pid != 0;
        if (live == 0) return 0;
        if ((left = ipc_deadline_left_ms(deadline)) == 0) return ipc_deadline_error(deadline);
        struct timespec ts = {left / 1000, (left % 1000) * 1000000L};
        if (sigtimedwait(&chld, NULL, left < 0 ? NULL : &ts) < 0 && errno != EAGAIN && errno != EINTR) return -errno;
    }
}

/* ---- sending ------------------------------------------------------------- */

/* ipc_sysv_send to worker w, waiting up to timeout_ms for room. With
   forked workers the wait goes in SLICE_MS slices, and between two of them
   a worker that exited before its stop message was queued is noticed: its
   jobs would stay queued and the room it was to make would never come.
   Returns 0, a negative code, or the number of a worker that died (> 0). */
static int send_to(dispatch *d, int w, const void *m, size_t n) {
    int64_t deadline = ipc_deadline(d->timeout_ms);
    if (!d->forked) return ipc_sysv_send(d->qid, w, m, n, d->timeout_ms);
    for (;;) {
        int left = ipc_deadline_left_ms(deadline), rc;
        rc = ipc_sysv_send(d->qid, w, m, n, left < 0 || left > SLICE_MS ? SLICE_MS : left);
        if (rc != -ETIMEDOUT && rc != -EAGAIN) return rc;
        if ((rc = reap(d, IPC_DEADLINE_TRY)) < 0 && rc != -EAGAIN) return rc;
        for (int i = 1; i <= d->nworkers; i++)
            if (d->w[i].reaped && !d->w[i].stopped) return i;
        if (ipc_deadline_left_ms(deadline) == 0) return ipc_deadline_error(deadline);
    }
}

/* Reports a failed send_to; returns the exit status for it. */
static int send_failed(const dispatch *d, int rc, const char *what, int w, size_t n) {
    char how[80];
    if (rc > 0) {
        fprintf(stderr, "sysv_dispatch: worker %d ended before its stop message (%s)\n", rc,
                describe(d->w[rc].status, how, sizeof how));
        return EXIT_FAIL;
    }
    if (rc == -ETIMEDOUT)
        fprintf(stderr, "sysv_dispatch: %s for worker %d: %s (the queue stayed full for %d ms)\n", what, w,
                ipc_strerror(rc), d->timeout_ms);
    else
        fprintf(stderr, "sysv_dispatch: %s for worker %d (%zu bytes): %s\n", what, w, n, ipc_strerror(rc));
    return status_for(rc);
}

/* ---- the end: acknowledgements, verdict, cleanup ------------------------- */

/* Takes the workers' acknowledgements off the queue. Forked workers have
   all exited by now: whatever they sent is there, and the try form (0)
   takes it. Separate workers are waited for, up to timeout_ms each. */
static int collect_acks(dispatch *d) {
    for (int got = 0; got < d->nworkers; got++) {
        job_ack a;
        ssize_t n = ipc_sysv_recv(d->qid, ACK_TYPE, 0, NULL, &a, sizeof a, d->forked ? 0 : d->timeout_ms);
        if (n == -EAGAIN && d->forked) return 0; /* the verdict names who is missing */
        if (n < 0) {
            int w = 1;
            while (d->w[w].acked)
                w++;
            fprintf(stderr, "sysv_dispatch: no acknowledgement from worker %d (%d of %d in): %s\n", w, got, d->nworkers,
                    ipc_strerror((int)n));
            return status_for(n);
        }
        if (n != sizeof a || a.worker < 1 || a.worker > (uint32_t)d->nworkers || d->w[a.worker].acked) {
            fprintf(stderr, "sysv_dispatch: a malformed acknowledgement (%zd bytes, worker %u)\n", n,
                    n >= 4 ? a.worker : 0);
            return EXIT_FAIL;
        }
        d->w[a.worker].acked = 1;
        d->w[a.worker].ack = a;
    }
    return 0;
}

/* One line per worker on stdout, and one on stderr for each that failed.
   Returns 0 when every worker got every job. */
static int verdict(const dispatch *d) {
    int status = 0;
    for (int i = 1; i <= d->nworkers; i++) {
        const worker *w = &d->w[i];
        char how[80];
        if (d->forked && !(WIFEXITED(w->status) && WEXITSTATUS(w->status) == 0)) {
            fprintf(stderr, "sysv_dispatch: worker %d failed (%s)\n", i, describe(w->status, how, sizeof how));
            status = EXIT_FAIL;
        } else if (!w->acked) {
            fprintf(stderr, "sysv_dispatch: worker %d exited without an acknowledgement\n", i);
            status = EXIT_FAIL;
        } else if (!w->ack.ok || w->ack.intact != w->sent) {
            fprintf(stderr, "sysv_dispatch: worker %d: %u of %u jobs arrived in order and intact\n", i, w->ack.intact,
                    w->sent);
            status = EXIT_FAIL;
        }
        if (w->acked && printf("worker %d acknowledged %u of %u jobs\n", i, w->ack.intact, w->sent) < 0) {
            fprintf(stderr, "sysv_dispatch: stdout: %s\n", strerror(errno));
            return EXIT_FAIL;
        }
    }
    return status;
}

/* Whatever happened: no forked worker left running, no queue left behind.
   Returns 0, or EXIT_FAIL when the queue could not be removed. */
static int finish(dispatch *d) {
    for (int i = 1; i <= d->nworkers; i++) {
        if (d->w[i].pid <= 0) continue;
        if (kill(d->w[i].pid, SIGKILL) < 0) /* it failed, or we did: it may be waiting on us */
            fprintf(stderr, "sysv_dispatch: kill worker %d: %s\n", i, strerror(errno));
        while (waitpid(d->w[i].pid, NULL, 0) < 0 && errno == EINTR)
            ;
        d->w[i].pid = 0;
    }
    if (d->qid < 0) return 0;
    int rc = ipc_sysv_remove(d->qid);
    if (rc < 0) {
        fprintf(stderr, "sysv_dispatch: removing queue %d: %s\n", d->qid, ipc_strerror(rc));
        return EXIT_FAIL;
    }
    if (printf("queue %d removed\n", d->qid) < 0) {
        fprintf(stderr, "sysv_dispatch: stdout: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: sysv_dispatch [-w WORKERS] [-n JOBS] [-s SIZE] [-q] [--timeout MS] [PATH]\n"
            "Sends JOBS self-checking jobs, round robin, to WORKERS workers over one System V\n"
            "message queue (message type = worker number), then a stop for each; removes the\n"
            "queue when every worker is done.\n"
            "  PATH               key the queue with ftok(PATH, 'J'); start the workers yourself:\n"
            "                     sysv_worker PATH 1, sysv_worker PATH 2, ... (they acknowledge)\n"
            "                     without PATH: a private queue, the workers forked here\n"
            "  -w, --workers N    number of workers, 1..%d (default 3)\n"
            "  -n, --jobs N       number of jobs (default 30)\n"
            "  -s, --size BYTES   payload bytes per job, 0..%zu (default 100)\n"
            "  -q, --quiet        forked workers print a summary, not a line per job\n"
            "  -t, --timeout MS   give up when a wait lasts MS ms (exit 3)\n"
            "Exit status: 0 every job arrived intact, 1 failure, 2 usage error, 3 timeout.\n",
            MAX_WORKERS, JOB_MAX - sizeof(job_header));
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
        {"workers", required_argument, NULL, 'w'},
        {"jobs", required_argument, NULL, 'n'},
        {"size", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned long nworkers = 3, njobs = 30, size = 100, v;
    int timeout_ms = -1, quiet = 0, opt;

    opterr = 0; /* we print our own one-line message */
    while ((opt = getopt_long(argc, argv, "w:n:s:t:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'w':
            if (parse_number(optarg, 1, MAX_WORKERS, &nworkers) < 0) {
                fprintf(stderr, "sysv_dispatch: -w wants a worker count (1..%d), not '%s'\n", MAX_WORKERS, optarg);
                return EXIT_USAGE;
            }
            break;
        case 'n':
            if (parse_number(optarg, 0, UINT32_MAX, &njobs) < 0) {
                fprintf(stderr, "sysv_dispatch: -n wants a job count, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 's':
            if (parse_number(optarg, 0, JOB_MAX - sizeof(job_header), &size) < 0) {
                fprintf(stderr, "sysv_dispatch: -s wants a size (0..%zu), not '%s'\n", JOB_MAX - sizeof(job_header),
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 't':
            if (parse_number(optarg, 0, INT_MAX, &v) < 0) {
                fprintf(stderr, "sysv_dispatch: --timeout wants milliseconds (0..%d), not '%s'\n", INT_MAX, optarg);
                return EXIT_USAGE;
            }
            timeout_ms = (int)v;
            break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            if (optopt && strchr("wnst", optopt))
                fprintf(stderr, "sysv_dispatch: %s needs an argument (try --help)\n", argv[optind - 1]);
            else
                fprintf(stderr, "sysv_dispatch: unknown option '%s' (try --help)\n", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    const char *path = optind < argc ? argv[optind++] : NULL;
    if (optind < argc) {
        fprintf(stderr, "sysv_dispatch: unexpected argument '%s' (try --help)\n", argv[optind]);
        return EXIT_USAGE;
    }

    dispatch d = {.qid = -1, .forked = path == NULL, .nworkers = (int)nworkers, .timeout_ms = timeout_ms};
    uint8_t *msg = malloc(sizeof(job_header) + size);
    if (!msg || !(d.w = calloc(nworkers + 1, sizeof *d.w))) {
        fprintf(stderr, "sysv_dispatch: %s\n", strerror(errno));
        free(msg);
        return EXIT_FAIL;
    }

    /* The queue: private, or keyed by PATH; ours alone either way. */
    key_t key = IPC_PRIVATE;
    int rc;
    if (path && (rc = ipc_sysv_key(path, JOBS_PROJ, &key)) < 0) {
        fprintf(stderr, "sysv_dispatch: %s: %s\n", path, ipc_strerror(rc));
        free(d.w), free(msg);
        return EXIT_FAIL;
    }
    if ((d.qid = ipc_sysv_open(key, IPC_O_CREATE | IPC_O_EXCL, 0600)) < 0) {
        fprintf(stderr, "sysv_dispatch: key 0x%08x: %s%s\n", (unsigned)key, ipc_strerror(d.qid),
                d.qid == -EEXIST ? " (another run's queue, or a leftover: see ipcs -q)" : "");
        free(d.w), free(msg);
        return EXIT_FAIL;
    }
    if (path)
        printf("queue %d (key 0x%08x, %s): %lu jobs of %lu bytes for %lu workers\n", d.qid, (unsigned)key, path, njobs,
               size, nworkers);
    else
        printf("queue %d (private): %lu jobs of %lu bytes for %lu forked workers\n", d.qid, njobs, size, nworkers);

    /* Fork the workers. SIGCHLD stays blocked in us so that reap() can
       sleep in sigtimedwait; each child restores the mask it inherited. */
    int status = 0;
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (fflush(stdout) == EOF) { /* or each child would inherit the line above */
        fprintf(stderr, "sysv_dispatch: stdout: %s\n", strerror(errno));
        status = EXIT_FAIL;
    } else if (d.forked && sigprocmask(SIG_BLOCK, &chld, &old) < 0) {
        fprintf(stderr, "sysv_dispatch: sigprocmask: %s\n", strerror(errno));
        status = EXIT_FAIL;
    }
    for (int i = 1; d.forked && status == 0 && i <= d.nworkers; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "sysv_dispatch: fork: %s\n", strerror(errno));
            status = EXIT_FAIL;
        } else if (pid == 0) {
            sigprocmask(SIG_SETMASK, &old, NULL);
            exec_worker(argv[0], d.qid, i, timeout_ms, quiet);
            fprintf(stderr, "sysv_dispatch: worker %d: cannot run sysv_worker: %s\n", i, strerror(errno));
            _exit(127);
        } else {
            d.w[i].pid = pid;
        }
    }

    /* The jobs, round robin, then a stop for each worker. */
    for (unsigned long i = 0; status == 0 && i < njobs; i++) {
        int w = (int)(i % nworkers) + 1;
        char what[40];
        size_t n = make_job(msg, w, ++d.w[w].sent, size);
        snprintf(what, sizeof what, "job %u", d.w[w].sent);
        if ((rc = send_to(&d, w, msg, n)) != 0) status = send_failed(&d, rc, what, w, n);
    }
    for (int w = 1; status == 0 && w <= d.nworkers; w++) {
        job_header stop = {JOB_STOP, d.w[w].sent, 0, job_crc32(NULL, 0)};
        if ((rc = send_to(&d, w, &stop, sizeof stop)) != 0)
            status = send_failed(&d, rc, "the stop", w, sizeof stop);
        else
            d.w[w].stopped = 1;
    }

    /* Wait for the end: forked workers' exit, then everyone's verdict. */
    if (status == 0 && d.forked && (rc = reap(&d, ipc_deadline(timeout_ms))) < 0) {
        fprintf(stderr, "sysv_dispatch: waiting for the workers to finish: %s\n", ipc_strerror(rc));
        status = status_for(rc);
    }
    if (status == 0) status = collect_acks(&d);
    if (status == 0) status = verdict(&d);

    rc = finish(&d);
    if (status == 0) status = rc;
    if (fflush(stdout) == EOF && status == 0) {
        fprintf(stderr, "sysv_dispatch: stdout: %s\n", strerror(errno));
        status = EXIT_FAIL;
    }
    free(d.w);
    free(msg);
    return status;
}
