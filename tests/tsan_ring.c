/* ThreadSanitizer stress of the shared-memory ring (section 4 of ipc.h):
   threads stand in for processes.

   Each scenario moves about 100 000 self-checking records of random sizes
   (8..700 bytes) through one small anonymous ring (capacity 4096), using
   reserve/commit for some records and peek/release for some receives, while
   a monitor thread reads ipc_ring_stat all along:
     spsc_blocking   one producer, one consumer, futex waits
     spsc_spin       the same with IPC_RING_SPIN
     multi_3         three producers (IPC_RING_MULTI) and one consumer
   The consumer checks every byte, per-producer order (nothing lost,
   duplicated or reordered), and that the stream ends with IPC_EOF once
   every producer has closed.

   Every thread works on its own copy of the ring handle, made before any
   role was used -- exactly what fork() gives a child -- so all of them
   share one mapping and TSan sees every access to it. A copy's close
   leaves its role but must not unmap the region the others still use: its
   shm.addr / shm.fd are cleared first; the original handle unmaps at the
   end.

   Output: one line per scenario, then "N passed, N failed"; the exit
   status is non-zero when a scenario failed. A TSan report fails the run
   (TSAN_OPTIONS=halt_on_error=1).

   Build and run:
     clang -std=c11 -g -O1 -fsanitize=thread -Wall -Wextra -Wpedantic -Werror -I. \
         -o /tmp/tsan tests/tsan_ring.c -pthread
     TSAN_OPTIONS=halt_on_error=1 /tmp/tsan */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { CAPACITY = 4096, TOTAL = 100000, MIN_LEN = 8, MAX_LEN = 700, MAX_PRODUCERS = 4, WAIT_MS = 20000 };

typedef struct scenario {
    const char *name;
    int flags;
    int producers;
} scenario;

typedef struct run {
    ipc_ring base; /* created, no role used yet */
    int producers;
    uint32_t per_producer;
    int stop_monitor; /* atomic */
    char error[256];  /* the first failure, written under lock */
    pthread_mutex_t lock;
} run;

typedef struct worker {
    run *run;
    int id;
} worker;

static void fail(run *rn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(run *rn, const char *fmt, ...) {
    va_list ap;
    pthread_mutex_lock(&rn->lock);
    if (!rn->error[0]) {
        va_start(ap, fmt);
        vsnprintf(rn->error, sizeof rn->error, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&rn->lock);
}
static int failed(run *rn) {
    int f;
    pthread_mutex_lock(&rn->lock);
    f = rn->error[0] != 0;
    pthread_mutex_unlock(&rn->lock);
    return f;
}

static uint64_t xs(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return *s = x;
}

/* A record: producer id (u32), sequence (u32), then bytes derived from both. */
static void rec_fill(uint8_t *p, uint32_t len, uint32_t id, uint32_t seq) {
    uint32_t i;
    memcpy(p, &id, 4);
    memcpy(p + 4, &seq, 4);
    for (i = 8; i < len; i++)
        p[i] = (uint8_t)(seq * 131u + id * 17u + i * 7u);
}
static int rec_ok(const uint8_t *p, uint32_t len, uint32_t id, uint32_t seq) {
    uint32_t i;
    for (i = 8; i < len; i++)
        if (p[i] != (uint8_t)(seq * 131u + id * 17u + i * 7u)) return 0;
    return 1;
}

/* A copy's close: leave the role, keep the shared mapping. */
static int close_copy(ipc_ring *r) {
    r->shm.addr = NULL;
    r->shm.size = 0;
    r->shm.fd = -1;
    return ipc_ring_close(r);
}

static void *producer(void *arg) {
    worker *w = (worker *)arg;
    run *rn = w->run;
    ipc_ring r = rn->base; /* what fork() would give */
    uint8_t buf[MAX_LEN];
    uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(w->id + 1);
    uint32_t seq;
    int rc;
    for (seq = 0; seq < rn->per_producer && !failed(rn); seq++) {
        uint32_t len = MIN_LEN + (uint32_t)(xs(&rng) % (MAX_LEN - MIN_LEN + 1));
        if (seq % 7 == 3) { /* zero copy: reserve more, commit what is used */
            void *where;
            if ((rc = ipc_ring_reserve(&r, len + (seq % 3) * 8, &where, WAIT_MS)) != 0) {
                fail(rn, "producer %d: reserve %u: %s", w->id, seq, ipc_strerror(rc));
                break;
            }
            rec_fill((uint8_t *)where, len, (uint32_t)w->id, seq);
            if ((rc = ipc_ring_commit(&r, len)) != 0) {
                fail(rn, "producer %d: commit %u: %s", w->id, seq, ipc_strerror(rc));
                break;
            }
        } else {
            rec_fill(buf, len, (uint32_t)w->id, seq);
            if ((rc = ipc_ring_send(&r, buf, len, WAIT_MS)) != 0) {
                fail(rn, "producer %d: send %u: %s", w->id, seq, ipc_strerror(rc));
                break;
            }
        }
    }
    if ((rc = close_copy(&r)) != 0) fail(rn, "producer %d: close: %s", w->id, ipc_strerror(rc));
    return NULL;
}

static void *consumer(void *arg) {
    worker *w = (worker *)arg;
    run *rn = w->run;
    ipc_ring r = rn->base;
    uint8_t buf[MAX_LEN];
    uint32_t next[MAX_PRODUCERS] = {0}, k = 0;
    ssize_t n;
    int p;
    for (;;) {
        const uint8_t *rec;
        uint32_t id, seq;
        if (k % 5 == 2) { /* zero copy */
            const void *where;
            n = ipc_ring_peek(&r, &where, WAIT_MS);
            rec = (const uint8_t *)where;
        } else {
            n = ipc_ring_recv(&r, buf, sizeof buf, WAIT_MS);
            rec = buf;
        }
        if (n < 0) break;
        if (n < MIN_LEN || n > MAX_LEN) {
            fail(rn, "consumer: a %zd-byte record", n);
            break;
        }
        memcpy(&id, rec, 4);
        memcpy(&seq, rec + 4, 4);
        if (id >= (uint32_t)rn->producers || seq != next[id] || !rec_ok(rec, (uint32_t)n, id, seq)) {
            fail(rn, "consumer: record %u: producer %u seq %u (expected %u), %zd bytes%s", k, id, seq,
                 id < MAX_PRODUCERS ? next[id] : 0, n, rec_ok(rec, (uint32_t)n, id, seq) ? "" : ", bytes differ");
            break;
        }
        if (k % 5 == 2 && ipc_ring_release(&r) != 0) {
            fail(rn, "consumer: release failed");
            break;
        }
        next[id]++;
        k++;
    }
    if (n != IPC_EOF) fail(rn, "consumer: ended with %s after %u records", ipc_strerror((int)n), k);
    for (p = 0; p < rn->producers; p++)
        if (next[p] != rn->per_producer)
            fail(rn, "consumer: producer %d delivered %u of %u records", p, next[p], rn->per_producer);
    if (close_copy(&r) != 0) fail(rn, "consumer: close failed");
    return NULL;
}

static void *monitor(void *arg) {
    run *rn = (run *)arg;
    while (!__atomic_load_n(&rn->stop_monitor, __ATOMIC_ACQUIRE)) {
        ipc_ring_info i;
        if (ipc_ring_stat(&rn->base, &i) != 0) {
            fail(rn, "monitor: stat failed");
            break;
        }
        if (i.capacity != CAPACITY || i.used > CAPACITY || i.high_water > CAPACITY) {
            fail(rn, "monitor: capacity %zu used %zu high_water %zu", i.capacity, i.used, i.high_water);
            break;
        }
        usleep(200);
    }
    return NULL;
}

static int run_scenario(const scenario *sc) {
    run rn;
    worker ws[MAX_PRODUCERS + 1];
    pthread_t th[MAX_PRODUCERS + 1], mon;
    ipc_ring_info info;
    int64_t t0 = ipc_now_ns();
    int i, rc;
    memset(&rn, 0, sizeof rn);
    pthread_mutex_init(&rn.lock, NULL);
    rn.producers = sc->producers;
    rn.per_producer = (uint32_t)(TOTAL / sc->producers);
    if ((rc = ipc_ring_open(&rn.base, NULL, IPC_O_CREATE | sc->flags, 0, CAPACITY)) != 0) {
        printf("FAIL %s: ipc_ring_open: %s\n", sc->name, ipc_strerror(rc));
        return 0;
    }
    pthread_create(&mon, NULL, monitor, &rn);
    for (i = 0; i <= sc->producers; i++) {
        ws[i].run = &rn, ws[i].id = i;
        pthread_create(&th[i], NULL, i < sc->producers ? producer : consumer, &ws[i]);
    }
    for (i = 0; i <= sc->producers; i++)
        pthread_join(th[i], NULL);
    __atomic_store_n(&rn.stop_monitor, 1, __ATOMIC_RELEASE);
    pthread_join(mon, NULL);
    if (!rn.error[0] && ipc_ring_stat(&rn.base, &info) == 0) {
        uint64_t total = (uint64_t)rn.per_producer * (uint64_t)sc->producers;
        if (info.sent != total || info.received != total || info.depth != 0 || info.used != 0 || info.producers != 0 ||
            info.consumer != 0)
            fail(&rn, "final stat: sent %llu received %llu depth %llu used %zu producers %d consumer %d",
                 (unsigned long long)info.sent, (unsigned long long)info.received, (unsigned long long)info.depth,
                 info.used, info.producers, (int)info.consumer);
    }
    ipc_ring_close(&rn.base);
    pthread_mutex_destroy(&rn.lock);
    if (rn.error[0]) {
        printf("FAIL %s: %s\n", sc->name, rn.error);
        return 0;
    }
    printf("ok   %s: %u records from %d producer(s) in %lld ms\n", sc->name, rn.per_producer * (uint32_t)sc->producers,
           sc->producers, (long long)((ipc_now_ns() - t0) / 1000000));
    return 1;
}

int main(void) {
    static const scenario scenarios[] = {
        {"spsc_blocking", 0, 1},
        {"spsc_spin", IPC_RING_SPIN, 1},
        {"multi_3", IPC_RING_MULTI, 3},
    };
    int passed = 0, failed_n = 0;
    size_t i;
    alarm(300); /* a hang ends the run (and counts as a failure) */
    for (i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        if (run_scenario(&scenarios[i]))
            passed++;
        else
            failed_n++;
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed_n);
    return failed_n ? 1 : 0;
}
