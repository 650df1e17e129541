/* sysv_jobs.h - the messages sysv_dispatch and sysv_worker exchange.

   One System V message queue carries three kinds of message. The message
   type (mtype) says who it is for:

       type W (1..MAX_WORKERS)  a job or the stop for worker W
       type ACK_TYPE            a worker's acknowledgement, for the dispatcher

   A job is a job_header then len payload bytes; a stop is a job_header
   alone, with kind JOB_STOP and seq = the number of jobs the worker was
   sent; an acknowledgement is a job_ack. The messages never leave the
   machine, so the fields are plain structs in host byte order, as in TLPI's
   svmsg_file.h. Included by both programs, like that header. */
#ifndef SYSV_JOBS_H
#define SYSV_JOBS_H

#include <stddef.h>
#include <stdint.h>

#define JOBS_PROJ 'J'               /* ftok project id: key = ftok(PATH, 'J') */
#define MAX_WORKERS 1000            /* worker numbers are 1..MAX_WORKERS */
#define ACK_TYPE (MAX_WORKERS + 1L) /* above every worker's type */
#define JOB_MAX 65536               /* the largest message a worker takes */

enum { JOB_WORK = 1, JOB_STOP = 2 };

typedef struct job_header {
    uint32_t kind; /* JOB_WORK or JOB_STOP */
    uint32_t seq;  /* work: 1, 2, ... for each worker; stop: jobs sent to it */
    uint32_t len;  /* payload bytes after the header (0 for a stop) */
    uint32_t crc;  /* CRC-32 of the payload */
} job_header;

typedef struct job_ack {
    uint32_t worker; /* who is answering */
    uint32_t intact; /* jobs that arrived in order and intact */
    uint32_t ok;     /* 1: every job did, and the stop's count agreed */
} job_ack;

/* CRC-32 (IEEE 802.3, reflected, as zlib computes it), a bit at a time:
   jobs are small and this keeps the header free of a table. */
static inline uint32_t job_crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

#endif /* SYSV_JOBS_H */
