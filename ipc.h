/* ipc.h 0.1.0 - local inter-process communication for C, in one header.
   Public domain (Unlicense) or MIT, your choice: see the end of the file.

   USING IT
   In exactly one C file, before any #include:

       #define _GNU_SOURCE
       #define IPC_IMPLEMENTATION
       #include "ipc.h"

   Every other file just includes "ipc.h". Link with -pthread on old glibc.

   CONTENTS (declarations and implementation follow the same order)
       0. config & base      IPC_DEF, allocator, error codes, ipc_strerror,
                             monotonic deadlines, test hooks
       1. framing codecs     LEN32, VARINT, COBS: encoders and one
                             incremental decoder (no syscalls, fuzzed)
       2. robust I/O         write_all / writev_all / read_full with
                             timeouts, framed send/recv, a buffered framed
                             reader, a non-blocking sender with a bounded queue
       3. mechanisms         open flags (IPC_O_*), ipc_fd_queued, then one
                             section each:
          3a.                pipes: atomic frames from many writers
          3b.                FIFOs (named pipes), opened without clobbering
          3c.                System V message queues
          3d.                POSIX message queues
          3e.                Unix domain sockets: stream, datagram,
                             seqpacket, abstract names, fd passing, peer
                             credentials
          3f.                shared memory: shm_open, memfd, file, anonymous
       4. shm ring           bounded queue of records in shared memory:
                             lock-free SPSC, multi-producer, futex waits,
                             zero-copy, survives a peer's death
       5. channels           addresses ("unix:@name?frame=cobs") parsed
                             and checked; the channel calls come next
       6. monitoring         scans of live IPC objects (System V, POSIX MQ and
                             shm, unix sockets, one process's fds and maps)

   QUICK START: a parent and a child exchange framed messages over a pipe.
   (make test extracts this block, compiles it and runs it.)
   QUICKSTART-BEGIN
    #define _GNU_SOURCE
    #define IPC_IMPLEMENTATION
    #include "ipc.h"
    #include <stdio.h>
    #include <string.h>
    #include <sys/wait.h>
    #include <unistd.h>

    int main(void) {
        int fds[2];
        if (pipe(fds) < 0) return 1;
        if (fork() == 0) {                          // child: the sender
            close(fds[0]);
            const char *msgs[] = {"hello", "", "world"};  // "" is a message too
            for (int i = 0; i < 3; i++)
                if (ipc_send_frame(fds[1], IPC_LEN32, msgs[i], strlen(msgs[i]), 1000) < 0) _exit(1);
            _exit(0);
        }
        close(fds[1]);
        char buf[256];
        ssize_t n;
        while ((n = ipc_recv_frame(fds[0], IPC_LEN32, buf, sizeof buf, 1000)) >= 0)
            printf("got %zd bytes: '%.*s'\n", n, (int)n, buf);
        wait(NULL);
        return n == IPC_EOF ? 0 : 1;                // IPC_EOF: peer closed cleanly
    }
   QUICKSTART-END

   COMPILE-TIME OPTIONS
       IPC_STATIC        (set globally) every function is static: private to
                         the one file that includes the implementation.
       IPC_MALLOC(n), IPC_REALLOC(p,n), IPC_FREE(p)
                         (only in the implementation file) the allocator; all
                         three or none. Allocation happens only where a doc
                         comment says so, and is bounded by a limit you set.
       IPC_ASSERT(x)     (only in the implementation file) checks the caller's
                         side of a contract; defaults to assert(). A peer's bad
                         bytes never reach an assertion: they are error codes.
       IPC_TEST_HOOKS    (set globally) fault injection for tests: short
                         reads/writes, EINTR at call N, allocation failure at
                         call N, replaceable system calls. See ipc_test_hooks.
                         Never for production builds.
       IPC_UNIX_MAX_FDS  (set globally) descriptors one unix-socket message
                         may carry, sent or received; default 16.

   ERRORS
   Functions that can fail return int or ssize_t: >= 0 success, < 0 failure.
   A failure is -errno from the system (-EAGAIN, -ETIMEDOUT, -EPIPE, ...) or
   one of the library's own codes, all below -1000:
       IPC_EOF        end of stream: the peer closed at a frame boundary
       IPC_EFRAME     malformed frame (bad length field, bad COBS block)
       IPC_ETOOBIG    frame longer than the limit (raised before buffering it)
       IPC_ETRUNC     the stream ended inside a frame
       IPC_ECORRUPT   shared region fails validation
       IPC_EPEERDEAD  the peer process died
       IPC_EMQMSGMAX, IPC_EMQSIZEMAX, IPC_EMQQUEUESMAX, IPC_EMSGMAX,
       IPC_EMSGMNI    a kernel limit, named with its /proc/sys file
       IPC_EFDTRUNC   descriptors passed with a message were cut off
                      (MSG_CTRUNC) or not wanted; all of them were closed
   ipc_strerror() names every code. Nothing prints, nothing exits, nothing
   aborts on bad input, and errno is not part of the contract.

   TIMEOUTS
   Every call that can wait takes int timeout_ms: -1 waits forever, 0 never
   waits (a full or empty queue answers -EAGAIN), > 0 waits at most that long
   (then -ETIMEDOUT). The time is measured on CLOCK_MONOTONIC and a wait
   interrupted by a signal resumes with only the time that is left. The
   deadline covers the whole call: a frame trickled in a byte a second times
   out as a whole.

   WIRE FORMATS (byte-exact; other languages interoperate)
       LEN32   4-byte big-endian length (at most 2^31-1), then the payload.
               The bytes of Python's multiprocessing.connection send_bytes.
       VARINT  length as unsigned LEB128 (1..10 bytes), then the payload: the
               bytes of protobuf's writeDelimitedTo. The decoder refuses a
               non-canonical length (a last byte of 0x00 after the first, as
               in 80 00) and one over 64 bits (10th byte > 0x01): IPC_EFRAME.
       COBS    Consistent Overhead Byte Stuffing (Cheshire & Baker 1999), then
               one 0x00. Empty payload = 01 00; a payload ending in a run of
               exactly 254 non-zero bytes ends with that run's FF block. A
               lone 00 (no code byte) is IPC_EFRAME. After a malformed frame
               the decoder resynchronises at the next 0x00.
   Decoders take a maximum frame size (default IPC_MAX_FRAME, 16 MiB) and
   answer IPC_ETOOBIG as soon as a frame is known to exceed it. Decoding does
   not depend on how the bytes were split.

   THREADS AND PROCESSES
   No global state (outside IPC_TEST_HOOKS builds). A handle (ipc_decoder,
   ipc_reader, ipc_sender) belongs to one thread at a time. Writes that must
   not interleave with other writers on one pipe must fit in PIPE_BUF
   (ipc_pipe_send_frame). ipc_unix_listen sets the process-wide umask for
   the instant of bind(2): a file another thread creates in that instant
   gets the same umask.

   SIGPIPE
   Writes to a pipe or socket whose reader is gone return -EPIPE. Sockets use
   MSG_NOSIGNAL; other descriptors block SIGPIPE in the calling thread for the
   duration of the write and consume the one the write raised, so the
   application's signal dispositions are never changed.

   SYSTEM CALL MAP
       write/writev loop + poll   ipc_write_all, ipc_writev_all
       read loop + poll           ipc_read_full, ipc_read_some
       writev(header, payload)    ipc_send_frame
       read(header) + read(body)  ipc_recv_frame
       read(64 KiB) + decode      ipc_reader_next
       non-blocking queue + poll  ipc_sender_send / ipc_sender_flush
       ioctl FIONREAD             ipc_fd_queued
       pipe2(O_CLOEXEC)           ipc_pipe
       fcntl F_GET/SETPIPE_SZ     ipc_pipe_size / ipc_pipe_set_size
       write(<= PIPE_BUF)         ipc_pipe_send_frame
       mkfifo + open + fstat      ipc_fifo_open
       lstat + unlink             ipc_fifo_remove, ipc_unix_unlink
       ftok                       ipc_sysv_key
       msgget                     ipc_sysv_open
       msgsnd / msgrcv            ipc_sysv_send / ipc_sysv_recv (+ timeouts)
       msgrcv(MSG_COPY)           ipc_sysv_peek
       msgctl STAT / SET / RMID   ipc_sysv_stat / set_max_bytes / remove
       mq_open / close / unlink   ipc_mq_open / ipc_mq_close / ipc_mq_unlink
       mq_timedsend / receive     ipc_mq_send / ipc_mq_recv (monotonic)
       mq_getattr / mq_setattr    ipc_mq_stat / ipc_mq_set_nonblock
       mq_notify                  ipc_mq_notify_signal / _thread / _cancel
       read /proc/sys/fs/mqueue   ipc_mq_limits_read
       socket + bind + listen     ipc_unix_listen (stale socket replaced)
       accept4 + SO_PEERCRED      ipc_unix_accept
       socket + connect           ipc_unix_connect (waits for the listener)
       socketpair                 ipc_unix_pair
       sendmsg + SCM_RIGHTS       ipc_unix_send, ipc_unix_sendto
       recvmsg + cmsg walk        ipc_unix_recv, ipc_unix_take_cmsg
       getsockopt SO_PEERCRED     ipc_unix_peer
       SO_SNDBUF / SO_RCVBUF      ipc_unix_buffers / ipc_unix_set_buffers
       SO_PASSCRED                ipc_unix_set_passcred
       shm_open + mmap            ipc_shm_open (+ posix_fallocate)
       memfd_create + F_ADD_SEALS ipc_memfd_create, ipc_shm_attach_fd
       open + mmap / msync        ipc_file_map / ipc_shm_sync
       mmap(MAP_ANONYMOUS)        ipc_anon_map
       atomics + futex            ipc_ring_send / recv / reserve / peek
       ipcs / /proc/sysvipc       ipc_scan_sysv
       ls /dev/mqueue, /dev/shm   ipc_scan_posix_mq, ipc_scan_posix_shm
       ss -x / /proc/net/unix     ipc_scan_unix_sockets
       ls -l /proc/PID/fd, maps   ipc_scan_process

   KERNEL LIMITS THAT BITE
       POSIX MQ: 10 messages of 8 KiB (fs.mqueue.msg_max, msgsize_max) for
       any process without CAP_SYS_RESOURCE -- root included in containers;
       256 queues (queues_max). System V: a message of 8 KiB (kernel.msgmax),
       16 KiB a queue (kernel.msgmnb). Each is a named error code.
       Pipes: 64 KiB each; F_SETPIPE_SZ up to fs.pipe-max-size (1 MiB)
       without CAP_SYS_RESOURCE; writes up to PIPE_BUF (4096) are atomic.
       Unix sockets: a path of at most 107 bytes (sun_path is 108 with its
       NUL), an abstract name of at most 107 after the '@'; a datagram of
       at most the sender's SO_SNDBUF less 32 bytes (about 212 KB by
       default, net.core.wmem_default), else -EMSGSIZE; at most
       net.unix.max_dgram_qlen (often 10..512) datagrams queued per
       receiver; SCM_MAX_FD (253) descriptors a message (this library
       passes at most IPC_UNIX_MAX_FDS).
*/
#ifndef IPC_H
#define IPC_H

#define IPC_VERSION_MAJOR 0
#define IPC_VERSION_MINOR 1
#define IPC_VERSION_PATCH 0

#include <stddef.h>
#include <stdint.h>
#include <sys/ipc.h>    /* key_t, IPC_PRIVATE */
#include <sys/socket.h> /* socklen_t, struct msghdr */
#include <sys/types.h>  /* ssize_t, pid_t, uid_t */
#include <sys/uio.h>    /* struct iovec */
#include <sys/un.h>     /* struct sockaddr_un */

#ifdef IPC_STATIC
#define IPC_DEF static
#else
#define IPC_DEF extern
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ==== 0. config & base ==================================================== */

/* The library's own error codes; everything else is -errno. */
enum {
    IPC_EOF = -1001,       /* end of stream: peer closed at a frame boundary */
    IPC_EFRAME = -1002,    /* malformed frame */
    IPC_ETOOBIG = -1003,   /* frame longer than the limit */
    IPC_ETRUNC = -1004,    /* stream ended inside a frame */
    IPC_ECORRUPT = -1005,  /* shared region fails validation */
    IPC_EPEERDEAD = -1006, /* the peer process died */
    /* a kernel limit, named (the sysctl that sets it) */
    IPC_EMQMSGMAX = -1007,    /* POSIX MQ maxmsg above fs.mqueue.msg_max */
    IPC_EMQSIZEMAX = -1008,   /* POSIX MQ msgsize above fs.mqueue.msgsize_max */
    IPC_EMQQUEUESMAX = -1009, /* POSIX MQ count at fs.mqueue.queues_max */
    IPC_EMSGMAX = -1010,      /* System V message above kernel.msgmax */
    IPC_EMSGMNI = -1011,      /* System V queue count at kernel.msgmni */
    IPC_EFDTRUNC = -1012      /* passed descriptors cut off or not wanted: all closed */
};

/* Names any code this library returns: -errno values and IPC_E*.
   The string is static; never NULL. */
IPC_DEF const char *ipc_strerror(int code);

/* Deadlines. ipc_deadline() turns timeout_ms into an absolute time on
   CLOCK_MONOTONIC: -1 gives IPC_DEADLINE_NEVER, 0 gives IPC_DEADLINE_TRY.
   ipc_deadline_left_ms() is what to pass to poll(): -1, 0, or the
   remaining milliseconds rounded up. ipc_deadline_error() is the code for a
   deadline that ran out: -EAGAIN for a try, -ETIMEDOUT otherwise. */
#define IPC_DEADLINE_NEVER INT64_MAX
#define IPC_DEADLINE_TRY 0
IPC_DEF int64_t ipc_now_ns(void);
IPC_DEF int64_t ipc_deadline(int timeout_ms);
IPC_DEF int ipc_deadline_left_ms(int64_t deadline);
IPC_DEF int ipc_deadline_error(int64_t deadline);

#ifdef IPC_TEST_HOOKS
/* Fault injection for tests. Every readv, writev, sendmsg and recvmsg the
   library makes counts as one I/O call; every allocation as one alloc.
   Zero-initialised means "no faults, real system calls". */
typedef struct ipc_test_hooks {
    uint64_t rng;                /* xorshift64 state for short counts (!= 0) */
    size_t max_io;               /* cap each I/O call at 1..max_io bytes; 0 = off */
    unsigned long eintr_at;      /* fail I/O call N (1-based) with EINTR; 0 = off */
    unsigned long eintr_every;   /* ...and every K-th call after it; 0 = once */
    unsigned long alloc_fail_at; /* fail allocation N (1-based); 0 = off */
    unsigned long io_calls;      /* counters, read by tests */
    unsigned long allocs;
    /* Replacements for the system calls (NULL = the real one): a fuzzer fakes
       a descriptor with these. */
    ssize_t (*readv)(int fd, const struct iovec *iov, int iovcnt);
    ssize_t (*writev)(int fd, const struct iovec *iov, int iovcnt);
    int (*poll)(void *fds, unsigned long nfds, int timeout_ms);
    /* ipc_unix_take_cmsg's closing of the descriptors it refuses: a fuzzer
       feeding it made-up descriptor numbers counts them here. */
    int (*close)(int fd);
    /* Called at each step of a ring operation (IPC_RING_STEP_*, section
       4): a test kills its process there. */
    void (*ring_step)(int step);
} ipc_test_hooks;
extern ipc_test_hooks ipc_test;
#endif

/* ==== 1. framing codecs =================================================== */

typedef enum ipc_codec { IPC_LEN32 = 1, IPC_VARINT = 2, IPC_COBS = 3 } ipc_codec;

#define IPC_MAX_FRAME (16u << 20) /* default frame limit, 16 MiB */
#define IPC_LEN32_MAX 0x7FFFFFFFu /* longest LEN32 payload */
#define IPC_HEADER_MAX 10         /* longest LEN32/VARINT header */

/* "len32", "varint", "cobs" <-> the enum. ipc_codec_parse returns 0 for an
   unknown name; ipc_codec_name returns "?" for an unknown codec. */
IPC_DEF ipc_codec ipc_codec_parse(const char *name);
IPC_DEF const char *ipc_codec_name(ipc_codec codec);

/* Header-only encoders, so a payload goes out with writev and is never
   copied. ipc_len32_header writes 4 bytes; returns 4, or IPC_ETOOBIG for
   len > IPC_LEN32_MAX. ipc_varint_encode writes 1..10 bytes; returns the
   count. ipc_frame_header does either for a codec (-EINVAL for COBS, which
   has no header). */
IPC_DEF int ipc_len32_header(uint8_t out[4], size_t len);
IPC_DEF int ipc_varint_encode(uint8_t out[IPC_HEADER_MAX], uint64_t value);
IPC_DEF int ipc_frame_header(ipc_codec codec, uint8_t out[IPC_HEADER_MAX], size_t len);

/* Decodes one varint from p[0..n). Returns the bytes used (1..10), 0 when
   p ends inside the varint, or IPC_EFRAME (over 64 bits, non-canonical). */
IPC_DEF int ipc_varint_decode(const uint8_t *p, size_t n, uint64_t *value);

/* COBS. ipc_cobs_bound(n) is the most bytes an n-byte payload encodes to,
   delimiter included: n + n/254 + 2. ipc_cobs_encode writes the frame,
   delimiter included, and returns its length; out must hold
   ipc_cobs_bound(n) bytes and must not overlap in. ipc_cobs_decode decodes
   one frame body (without its 0x00) into out, which may equal in (decoding
   never writes ahead of reading); returns the payload length or IPC_EFRAME. */
IPC_DEF size_t ipc_cobs_bound(size_t n);
IPC_DEF size_t ipc_cobs_encode(uint8_t *out, const uint8_t *in, size_t n);
IPC_DEF ssize_t ipc_cobs_decode(uint8_t *out, const uint8_t *in, size_t n);

/* Size of a whole frame for an n-byte payload (an upper bound for COBS), and
   the whole frame written into out (cap bytes). Returns the frame length,
   -ENOBUFS when cap is too small, IPC_ETOOBIG past the format's limit. */
IPC_DEF size_t ipc_frame_bound(ipc_codec codec, size_t n);
IPC_DEF ssize_t ipc_frame_encode(ipc_codec codec, void *out, size_t cap, const void *payload, size_t n);

/* The incremental decoder. Feed it bytes in any chunks; each call consumes
   a prefix of the input and returns
       1   a frame is ready: *frame and *frame_len (valid until the next call on
           this decoder, and as long as the input bytes stay put: a frame
           lying whole inside the input is handed back in place, not copied)
       0   all the input was consumed, no frame is complete yet
       < 0 IPC_EFRAME, IPC_ETOOBIG or -ENOMEM, err_offset tells which byte.
   *used always says how much input was consumed; call again with the rest.
   LEN32 and VARINT errors are sticky (the stream has lost its framing: call
   ipc_decoder_reset); COBS skips to the next 0x00 and goes on.
   Memory: the caller's buffer (buf, cap: the limit becomes min(max, cap)),
   or buf NULL and the decoder allocates as frames need, never more than the
   limit; ipc_decoder_free releases it. */
typedef struct ipc_decoder {
    ipc_codec codec;
    size_t max_frame;    /* frames longer than this are IPC_ETOOBIG */
    uint64_t offset;     /* stream bytes consumed so far */
    uint64_t err_offset; /* stream offset of the byte behind the last error */
    /* private */
    int state, error;
    uint64_t value; /* header value being assembled */
    unsigned hdr_len;
    unsigned cobs_left, cobs_code;
    size_t want, have; /* payload bytes expected / assembled */
    uint8_t *buf;
    size_t cap;
    int owns_buf;
} ipc_decoder;

IPC_DEF void ipc_decoder_init(ipc_decoder *d, ipc_codec codec, size_t max_frame, void *buf, size_t cap);
IPC_DEF int ipc_decoder_feed(ipc_decoder *d, const void *in, size_t n, size_t *used, const uint8_t **frame,
                             size_t *frame_len);
/* The batch form, for streams of small frames: decodes up to max frames
   from in, fills frames[0..k) and returns k (0: it needs more input), or a
   negative code when an error comes before any frame (an error behind
   decoded frames is returned by the next call). *used as above; every frame
   stays valid until the next call on this decoder. A call per frame costs
   more than a small frame's decoding: this form reads the headers of the
   frames lying whole in the input in one loop. (COBS decodes into the
   decoder's buffer, so it gives one frame a call.) */
typedef struct ipc_frame {
    const uint8_t *data;
    size_t len;
} ipc_frame;
IPC_DEF int ipc_decoder_feed_many(ipc_decoder *d, const void *in, size_t n, size_t *used, ipc_frame *frames,
                                  int max);
/* At end of stream: 0 when the decoder sits at a frame boundary (or, for
   COBS, is skipping a frame already reported bad), IPC_ETRUNC when it is
   inside a frame, the sticky error after a LEN32/VARINT failure. */
IPC_DEF int ipc_decoder_finish(const ipc_decoder *d);
/* Back to a frame boundary, errors cleared, memory kept. */
IPC_DEF void ipc_decoder_reset(ipc_decoder *d);
IPC_DEF void ipc_decoder_free(ipc_decoder *d);

/* ==== 2. robust I/O ======================================================= */

/* Writes all n bytes / all of iov. Returns 0, or -EPIPE, -EAGAIN (timeout 0
   and the fd would block), -ETIMEDOUT, -errno; *done (may be NULL) gets the
   bytes written either way. Restarts after EINTR, polls a non-blocking fd
   to the deadline, never raises SIGPIPE. ipc_writev_all advances iov in
   place: on failure iov[0..iovcnt) no longer describes what was passed. */
IPC_DEF int ipc_write_all(int fd, const void *buf, size_t n, size_t *done, int timeout_ms);
IPC_DEF int ipc_writev_all(int fd, struct iovec *iov, int iovcnt, size_t *done, int timeout_ms);

/* Reads exactly n bytes. Returns 0; IPC_EOF when the stream ended before
   the first byte, IPC_ETRUNC when it ended after some; or -EAGAIN,
   -ETIMEDOUT, -errno. *done (may be NULL) gets the bytes read either way. */
IPC_DEF int ipc_read_full(int fd, void *buf, size_t n, size_t *done, int timeout_ms);

/* One read of up to n bytes, waiting up to timeout_ms for the first.
   Returns the count (> 0), IPC_EOF, -EAGAIN, -ETIMEDOUT or -errno. */
IPC_DEF ssize_t ipc_read_some(int fd, void *buf, size_t n, int timeout_ms);

/* Waits until fd has any of events (POLLIN, POLLOUT) or an error/hangup,
   or the deadline passes. It takes a deadline from ipc_deadline(), not a
   timeout, so a loop of waits shares one budget. Returns 0, -EAGAIN
   (IPC_DEADLINE_TRY), -ETIMEDOUT or -errno. */
IPC_DEF int ipc_wait_fd(int fd, short events, int64_t deadline);

/* Sets or clears O_NONBLOCK. Returns 0 or -errno. */
IPC_DEF int ipc_fd_set_nonblock(int fd, int on);

/* One framed message on a byte stream, stateless. ipc_send_frame writes the
   frame (LEN32/VARINT: one writev of header and payload, no copy; COBS:
   encoded through a stack buffer). Returns 0 or a write_all error; a send
   that fails after part of the frame went out leaves the stream unframed
   (close it). ipc_recv_frame reads exactly one frame and nothing after it
   into buf (cap bytes; a longer frame is IPC_ETOOBIG before its payload is
   read) and returns the payload length; IPC_EOF at a clean end; IPC_ETRUNC,
   IPC_EFRAME, -ETIMEDOUT, -errno. After a LEN32/VARINT error the stream has
   lost its framing; after a COBS error it has been read up to the next 00.
   COBS is read a byte per system call here: use ipc_reader for COBS. */
IPC_DEF int ipc_send_frame(int fd, ipc_codec codec, const void *payload, size_t n, int timeout_ms);
IPC_DEF ssize_t ipc_recv_frame(int fd, ipc_codec codec, void *buf, size_t cap, int timeout_ms);

/* A buffered framed reader: reads up to bufsize bytes per system call and
   decodes every frame in them, handing frames back in place. */
typedef struct ipc_reader {
    int fd;
    ipc_decoder dec; /* dec.max_frame is the frame limit */
    /* private */
    uint8_t *buf;
    size_t cap, start, end;
    int eof;
} ipc_reader;

/* Allocates a read buffer of bufsize bytes (0 = 64 KiB) and a decoder that
   allocates frames up to max_frame (0 = IPC_MAX_FRAME) as they need. Returns
   0 or -ENOMEM. The fd is not owned: ipc_reader_free does not close it. */
IPC_DEF int ipc_reader_init(ipc_reader *r, int fd, ipc_codec codec, size_t max_frame, size_t bufsize);
/* The next frame: returns its length and sets *frame (valid until the next
   call), or IPC_EOF once the peer closed and every frame was delivered,
   IPC_ETRUNC (closed inside a frame), IPC_EFRAME, IPC_ETOOBIG, -EAGAIN,
   -ETIMEDOUT, -errno. After a timeout the partial frame is kept and the next
   call goes on with it. COBS resynchronises after IPC_EFRAME/IPC_ETOOBIG;
   LEN32/VARINT keep answering the error. */
IPC_DEF ssize_t ipc_reader_next(ipc_reader *r, const uint8_t **frame, int timeout_ms);
IPC_DEF void ipc_reader_free(ipc_reader *r);

/* A non-blocking framed sender with a bounded outgoing queue. Send queues a
   frame and writes as much as the fd takes now; flush writes the rest as the
   fd becomes writable (poll for ipc_sender_pending() > 0 with POLLOUT), and
   a partial write resumes at the exact byte it stopped at. Backpressure:
   once more than high_water bytes are queued, send answers -EAGAIN until
   flushing brings the queue down to low_water. A frame going out on an
   empty queue is written straight from the caller's payload; only what the
   fd does not take is copied. Memory: the queue is allocated on the first
   send, sized for the frame before any byte of it is written (so -ENOMEM
   never leaves half a frame out), and never exceeds high_water plus one
   frame. */
typedef struct ipc_sender {
    size_t high_water; /* bytes queued above which send says -EAGAIN */
    size_t low_water;  /* ...until the queue is back down to this */
    /* statistics, read-only */
    uint64_t frames;       /* frames accepted */
    uint64_t bytes_out;    /* bytes written to the fd */
    uint64_t backpressure; /* sends refused with -EAGAIN */
    size_t peak;           /* highest queue length seen, in bytes */
    /* private */
    int fd, error, blocked, fd_kind;
    ipc_codec codec;
    uint8_t *buf;
    size_t cap, head, tail;
} ipc_sender;

/* Sets the fd non-blocking (on its open file description, which a forked
   child shares). high_water 0 means 1 MiB; low_water is high_water / 2.
   Returns 0 or -errno. */
IPC_DEF int ipc_sender_init(ipc_sender *s, int fd, ipc_codec codec, size_t high_water);
/* Returns 0 (accepted: written or queued), -EAGAIN (backpressure: nothing
   queued), IPC_ETOOBIG, -ENOMEM (nothing queued), or a write error such as
   -EPIPE, which is sticky. */
IPC_DEF int ipc_sender_send(ipc_sender *s, const void *payload, size_t n);
/* Writes queued bytes until the queue is empty (0) or the deadline passes
   (-EAGAIN for timeout 0, -ETIMEDOUT); or a write error. */
IPC_DEF int ipc_sender_flush(ipc_sender *s, int timeout_ms);
IPC_DEF size_t ipc_sender_pending(const ipc_sender *s);
IPC_DEF void ipc_sender_free(ipc_sender *s);

/* ==== 3. mechanisms ======================================================= */

/* Flags for the _open calls. Objects are created with mode 0600 unless a
   mode is given (0 means 0600), and every descriptor is close-on-exec. */
enum {
    IPC_O_CREATE = 1,   /* create it when it does not exist */
    IPC_O_EXCL = 2,     /* with IPC_O_CREATE: -EEXIST when it does */
    IPC_O_RDONLY = 4,   /* receive only (neither RDONLY nor WRONLY: both) */
    IPC_O_WRONLY = 8,   /* send only */
    IPC_O_NONBLOCK = 16 /* the descriptor itself is non-blocking */
};
#define IPC_MODE_DEFAULT 0600

/* The bytes waiting to be read (ioctl FIONREAD): on a pipe, FIFO or stream
   socket all of them; on a datagram or seqpacket socket the size of the
   next message (0 for an empty one or for none); on a regular file, the
   bytes from the offset to the end. Never waits. Returns >= 0, or -EINVAL
   (a listening socket), -ENOTTY (a descriptor with no queue), -EBADF,
   -errno. */
IPC_DEF int ipc_fd_queued(int fd);

/* ==== 3a. pipes =========================================================== */
/* A pipe is a one-way kernel buffer, 64 KiB by default. A write of at most
   PIPE_BUF (4096) bytes is atomic: it never interleaves with other writers'
   bytes, and on a full non-blocking pipe it goes whole or not at all
   (-EAGAIN). Longer writes may be split and interleaved. Read pipes with
   section 2 (ipc_reader, ipc_recv_frame, ipc_read_some). */

/* pipe2(2) with O_CLOEXEC: fds[0] reads, fds[1] writes. flags: 0 or
   IPC_O_NONBLOCK (both ends); anything else is -EINVAL. Returns 0, -EMFILE,
   -ENFILE, -errno. */
IPC_DEF int ipc_pipe(int fds[2], int flags);

/* A pipe's (or FIFO's) capacity in bytes, through either end: fcntl
   F_GETPIPE_SZ and F_SETPIPE_SZ. ipc_pipe_set_size returns the capacity the
   kernel chose: bytes rounded up to a power-of-two number of pages. Errors:
   -EINVAL for 0 or more than INT_MAX; -EPERM above
   /proc/sys/fs/pipe-max-size (1 MiB) without CAP_SYS_RESOURCE, or once the
   user's pipes hold fs.pipe-user-pages-soft pages; -EBUSY below what is
   queued now, counted in the pages the data occupies (196 bytes written
   in two writes may hold two pages); -EBADF for a descriptor that is not
   a pipe. */
IPC_DEF int ipc_pipe_size(int fd);
IPC_DEF int ipc_pipe_set_size(int fd, size_t bytes);

/* One frame (the codec's header and payload, or the COBS encoding, built in
   a stack buffer) in ONE write of at most PIPE_BUF bytes, so that it never
   interleaves with frames other writers put on the same pipe or FIFO: many
   writers may share one. A frame longer than PIPE_BUF (a payload of about
   4 KiB less the header) is -EMSGSIZE before anything is written. Waits
   for room up to timeout_ms; never raises SIGPIPE. (A stream socket makes
   no such promise of atomicity.) A single writer sends frames of any size
   with ipc_send_frame. Returns 0, -EMSGSIZE, -EINVAL (unknown codec),
   -EAGAIN, -ETIMEDOUT, -EPIPE, -errno. */
IPC_DEF int ipc_pipe_send_frame(int fd, ipc_codec codec, const void *payload, size_t n, int timeout_ms);

/* ==== 3b. FIFOs =========================================================== */
/* A FIFO is a pipe with a name in the file system, so unrelated processes
   can open it; its data never touches the disk. */

/* Opens the FIFO at path (and makes it, with IPC_O_CREATE); returns the
   descriptor, close-on-exec.
   flags: IPC_O_CREATE    mkfifo with mode (0 means 0600); a FIFO this call
                          made gets exactly mode, set with fchmod on a
                          descriptor whatever the umask
          IPC_O_EXCL      with IPC_O_CREATE: -EEXIST if path exists
          IPC_O_RDONLY    a reader; IPC_O_WRONLY a writer; neither: both
                          ends (O_RDWR: Linux opens it at once, and a
                          reader holding a write end never sees EOF)
          IPC_O_NONBLOCK  the descriptor stays non-blocking (otherwise it is
                          blocking once open)
   Never follows or replaces what is at path: anything but a FIFO, a
   symlink included, is -EEXIST ("the path exists and is not a FIFO") and
   is left untouched, a symlink's target too; an existing FIFO must be
   owned by the caller and have no mode bits beyond mode, else -EACCES.
   A reader never waits in open. Until the first writer opens, read()
   returns 0: the library's readers report IPC_EOF when they read at once
   (no timeout, or an IPC_O_NONBLOCK descriptor); under a timeout they poll
   first, and poll() waits on Linux until the first writer has written (or
   come and gone), so they answer -EAGAIN / -ETIMEDOUT instead. A reader
   that must wait for its writer calls ipc_wait_fd(fd, POLLIN, deadline)
   before reading, or opens both ends.
   A writer waits for a reader (open(2) says ENXIO while there is none),
   trying again every 0.1 to 4 ms: timeout 0 gives -ENXIO at once, a finite
   timeout -ETIMEDOUT, -1 waits forever. A writer that makes the FIFO under
   a umask that took bits of mode opens its read end for the instant of
   fchmod.
   If this call made the FIFO and then fails, it removes it again.
   Returns the fd, or -EINVAL, -ENOENT (no such FIFO and no IPC_O_CREATE),
   -EEXIST, -EACCES, -ENXIO, -ETIMEDOUT, -EMFILE, -errno. */
IPC_DEF int ipc_fifo_open(const char *path, int flags, unsigned mode, int timeout_ms);

/* unlink(2) of a FIFO: the name goes; open descriptors keep working. Only
   what lstat calls a FIFO is removed; anything else (a symlink to a FIFO
   included) is -EINVAL and stays. Returns 0, -ENOENT, -EINVAL, -errno. */
IPC_DEF int ipc_fifo_remove(const char *path);

/* ==== 3c. System V message queues ========================================= */
/* A queue is its id (msgget's answer): a plain int, valid in every process.
   Timeouts: System V has none. -1 blocks in msgsnd/msgrcv; 0 is IPC_NOWAIT;
   a finite timeout polls with IPC_NOWAIT and a sleep that grows from 0.1 ms
   to 4 ms (no busy loop: about 250 wake-ups a second at worst), so a message
   is seen up to 4 ms after it arrives. Removal of the queue wakes every
   waiter with -EIDRM. */

/* ftok(3): a key from an existing path and a project id (1..255). Keys can
   collide: ftok folds the inode and device numbers into 24 bits, so two
   files may give one key. Parent and children can use IPC_PRIVATE instead.
   Returns 0 or -errno. */
IPC_DEF int ipc_sysv_key(const char *path, int proj_id, key_t *key);

/* msgget(2): the queue of key (IPC_PRIVATE from <sys/ipc.h>: a new one),
   created with IPC_O_CREATE (and IPC_O_EXCL), mode 0 meaning 0600 (System V
   ignores the umask). An existing queue must be owned or created by the
   caller and have no permission bits beyond mode, else -EACCES: a queue
   planted under a guessable key is refused. Returns the queue id (>= 0) or
   -ENOENT, -EEXIST, -EACCES, IPC_EMSGMNI, -errno. */
IPC_DEF int ipc_sysv_open(key_t key, int flags, unsigned mode);

/* msgsnd(2), with the msgsz convention handled: pass the payload alone and
   its type (> 0). Waits up to timeout_ms while the queue is full (its
   msg_qbytes). Returns 0, -EAGAIN, -ETIMEDOUT, -EIDRM, -EINVAL (type < 1),
   IPC_EMSGMAX (n over kernel.msgmax, found before any allocation), -errno.
   Payloads up to 8 KiB go through a stack buffer, longer ones through one
   IPC_MALLOC of n + sizeof(long). */
IPC_DEF int ipc_sysv_send(int qid, long type, const void *data, size_t n, int timeout_ms);

/* Receive flags. */
enum {
    IPC_SYSV_EXCEPT = 1,  /* MSG_EXCEPT: the first message NOT of type select */
    IPC_SYSV_TRUNCATE = 2 /* MSG_NOERROR: cut a longer message to cap (the
                             rest is lost); without it such a message stays
                             queued and the call answers -E2BIG */
};

/* msgrcv(2). select 0: the first message; > 0: the first of that type (or,
   with IPC_SYSV_EXCEPT, of any other); < 0: the first of the lowest type
   <= -select. The payload goes to buf (cap bytes), its type to *type (may be
   NULL). Returns the payload length, or -E2BIG, -EAGAIN, -ETIMEDOUT, -EIDRM,
   -ENOMEM, -errno. A cap over 8 KiB costs one IPC_MALLOC of at most
   kernel.msgmax + sizeof(long) bytes (no message is longer). */
IPC_DEF ssize_t ipc_sysv_recv(int qid, long select, int flags, long *type, void *buf, size_t cap, int timeout_ms);

/* MSG_COPY: a copy of the message at index (0 = the oldest), left queued.
   Never waits. Returns the payload length, -ENOMSG (no such index), -E2BIG,
   or -ENOSYS where the kernel lacks MSG_COPY (CONFIG_CHECKPOINT_RESTORE). */
IPC_DEF ssize_t ipc_sysv_peek(int qid, long index, long *type, void *buf, size_t cap);

/* msgctl(2) IPC_STAT, in plain fields. */
typedef struct ipc_sysv_info {
    size_t messages;  /* msg_qnum */
    size_t bytes;     /* payload bytes queued */
    size_t max_bytes; /* msg_qbytes: the capacity behind backpressure */
    pid_t last_send_pid, last_recv_pid;
    uid_t uid;
    gid_t gid;
    unsigned mode;
    int64_t send_time, recv_time, change_time; /* seconds since the epoch, 0 = never */
} ipc_sysv_info;
IPC_DEF int ipc_sysv_stat(int qid, ipc_sysv_info *info);
/* msgctl IPC_SET of msg_qbytes. Raising it above kernel.msgmnb needs
   CAP_SYS_RESOURCE (-EPERM otherwise); lowering it is always allowed. */
IPC_DEF int ipc_sysv_set_max_bytes(int qid, size_t bytes);
/* msgctl IPC_RMID: the queue goes at once, its waiters wake with -EIDRM. */
IPC_DEF int ipc_sysv_remove(int qid);

/* ==== 3d. POSIX message queues ============================================ */
/* On Linux a queue descriptor is a file descriptor: poll it (POLLIN: a
   message waits, POLLOUT: there is room) beside sockets. Timeouts follow
   the library's rule on CLOCK_MONOTONIC (mq_timedsend's CLOCK_REALTIME
   deadline is recomputed for each attempt, so a clock step cannot stretch
   or cut a wait). Kernel limits bind without CAP_SYS_RESOURCE: 10 messages
   of 8 KiB each by default (fs.mqueue.msg_max, msgsize_max). */
typedef struct ipc_mq {
    int fd;       /* the mqd_t */
    long maxmsg;  /* capacity in messages */
    long msgsize; /* the largest message; receive buffers must hold it */
    /* private */
    void (*notify_fn)(void *);
    void *notify_arg;
} ipc_mq;

/* A name for mq_open or shm_open: one leading '/', no other, 1 to NAME_MAX
   (255) characters after it. Returns 0, -EINVAL or -ENAMETOOLONG. */
IPC_DEF int ipc_mq_name_check(const char *name);

/* mq_open(3). flags: IPC_O_CREATE, IPC_O_EXCL, IPC_O_RDONLY / IPC_O_WRONLY,
   IPC_O_NONBLOCK; mode 0 means 0600 (and umask does not weaken it: the
   mode is set on the new queue's descriptor with fchmod). maxmsg, msgsize:
   0 for the system defaults (fs.mqueue.msg_default, msgsize_default); they
   apply only when the queue is created. An existing queue must be owned by
   the caller and have no group/other bits the caller did not ask for, or
   the open fails with -EACCES. Returns 0 or -EINVAL, -ENAMETOOLONG,
   -ENOENT, -EEXIST, -EACCES, IPC_EMQMSGMAX, IPC_EMQSIZEMAX,
   IPC_EMQQUEUESMAX, -EMFILE (fds or RLIMIT_MSGQUEUE), -errno. */
IPC_DEF int ipc_mq_open(ipc_mq *q, const char *name, int flags, unsigned mode, long maxmsg, long msgsize);
IPC_DEF int ipc_mq_close(ipc_mq *q);
/* mq_unlink(3): the name goes now, the queue when its last descriptor
   closes. Returns 0, -ENOENT, -EINVAL, -ENAMETOOLONG, -errno. */
IPC_DEF int ipc_mq_unlink(const char *name);

/* mq_timedsend(3): n <= msgsize, prio < MQ_PRIO_MAX (32768). Waits up to
   timeout_ms on a full queue. Returns 0, -EAGAIN, -ETIMEDOUT, -EMSGSIZE,
   -EINVAL, -EBADF (opened read-only), -errno. */
IPC_DEF int ipc_mq_send(ipc_mq *q, const void *data, size_t n, unsigned prio, int timeout_ms);
/* mq_timedreceive(3): the oldest message of the highest priority. cap must
   be at least msgsize (-EMSGSIZE up front, before touching the queue).
   Returns the length; *prio (may be NULL) gets its priority. */
IPC_DEF ssize_t ipc_mq_recv(ipc_mq *q, void *buf, size_t cap, unsigned *prio, int timeout_ms);

/* mq_getattr(3) and O_NONBLOCK via mq_setattr(3). */
typedef struct ipc_mq_info {
    long maxmsg, msgsize, curmsgs;
    int nonblock;
} ipc_mq_info;
IPC_DEF int ipc_mq_stat(const ipc_mq *q, ipc_mq_info *info);
IPC_DEF int ipc_mq_set_nonblock(ipc_mq *q, int on);

/* mq_notify(3): one notification when a message arrives on an empty queue
   and nobody is blocked receiving; registration is one-shot and one process
   at a time (-EBUSY). By signal: signo is raised with si_value = arg. By
   thread: fn(arg) runs in a new thread; q must stay alive until it has run
   or the registration is cancelled. */
IPC_DEF int ipc_mq_notify_signal(ipc_mq *q, int signo, void *arg);
IPC_DEF int ipc_mq_notify_thread(ipc_mq *q, void (*fn)(void *arg), void *arg);
IPC_DEF int ipc_mq_notify_cancel(ipc_mq *q);

/* The system's limits, from /proc/sys/fs/mqueue. Returns 0 or -errno. */
typedef struct ipc_mq_limits {
    long msg_max, msgsize_max, queues_max, msg_default, msgsize_default;
} ipc_mq_limits;
IPC_DEF int ipc_mq_limits_read(ipc_mq_limits *lim);

/* ==== 3e. Unix domain sockets ============================================= */
/* AF_UNIX sockets of three types: SOCK_STREAM (bytes: frame them with
   section 2), SOCK_DGRAM and SOCK_SEQPACKET (whole messages; on Linux a
   datagram is never dropped: a full receiver makes the sender wait).
   Names: "/path" or "relative/path" in the file system (at most 107 bytes),
   or "@name" in Linux's abstract namespace (at most 107 bytes after the
   '@'): no file, gone with the socket, no permission check -- anyone in
   the network namespace may connect, so check ipc_unix_peer.
   Every descriptor is close-on-exec, received ones included. Sends never
   raise SIGPIPE: a closed peer is -EPIPE (or -ECONNRESET). Backpressure:
   bytes in flight count against the sender's SO_SNDBUF until they are
   read, and a receiver queues at most net.unix.max_dgram_qlen datagrams;
   past either, a send waits up to timeout_ms or answers -EAGAIN. */
#ifndef IPC_UNIX_MAX_FDS
#define IPC_UNIX_MAX_FDS 16 /* descriptors one message may carry, both ways */
#endif

/* A socket address and its length, as bind/connect/recvmsg count it. */
typedef struct ipc_unix_addr {
    struct sockaddr_un sa;
    socklen_t len;
} ipc_unix_addr;

/* A process's credentials, as the kernel vouches for them. */
typedef struct ipc_peer {
    pid_t pid;
    uid_t uid;
    gid_t gid;
} ipc_peer;

/* A name to an address: "/path" or "relative/path" (at most 107 bytes:
   sun_path holds 108 with the NUL), or "@name" for an abstract name
   (sun_path[0] = 0, then the name's bytes without a NUL; at most 107).
   No side effect: nothing is created or checked on disk. Returns 0, -EINVAL
   (NULL, "" or "@" alone), -ENAMETOOLONG. */
IPC_DEF int ipc_unix_addr_set(ipc_unix_addr *a, const char *name);
/* An address back to text: "@name" or the path; "" for an unnamed socket.
   Bytes below 0x20 in an abstract name show as '?'. Returns the length
   written (the NUL not counted), or -ENAMETOOLONG when cap is too small. */
IPC_DEF int ipc_unix_addr_format(const ipc_unix_addr *a, char *out, size_t cap);

/* socket + bind + listen: a server's socket, returned as its fd. type is
   SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET; flags 0 or IPC_O_NONBLOCK.
   A stream or seqpacket listener is always non-blocking: accept with
   ipc_unix_accept. A datagram socket is non-blocking only with
   IPC_O_NONBLOCK. mode (0 means 0600) is the socket file's exact mode: the
   umask is set to 0777 & ~mode for the instant of bind(2) and restored
   (process-wide: see THREADS AND PROCESSES). backlog 0 means SOMAXCONN.
   A path already in use: not a socket is -EEXIST (never removed); another
   user's socket is -EADDRINUSE; our own is probed with a connect of the
   same type: ECONNREFUSED means stale, so it is removed and bound again
   (once); anything else (accepted, backlog full, another type) means live:
   -EADDRINUSE, a live server is never stolen (it sees the probe as a
   connection that closes at once). (A server caught between its own bind
   and listen refuses the probe too, and would lose its name: the one
   window.) An abstract name in use by a socket of the same type is
   -EADDRINUSE; Linux keeps one abstract namespace per type, so a client
   of another type finds nobody (-ECONNREFUSED). A failure after
   bind removes the path this call bound. Returns the fd, or -EINVAL,
   -ENAMETOOLONG, -EEXIST, -EADDRINUSE, -EACCES, -ENOENT (no such
   directory), -EMFILE, -errno. */
IPC_DEF int ipc_unix_listen(const char *name, int type, int flags, unsigned mode, int backlog);

/* accept4(2), waiting up to timeout_ms for a connection: the new socket,
   close-on-exec, non-blocking only with IPC_O_NONBLOCK in flags. A
   connection that was aborted before it was accepted is skipped. peer (may
   be NULL) gets the connecting process's credentials (SO_PEERCRED).
   Returns the fd, or -EAGAIN (timeout 0, none waiting), -ETIMEDOUT,
   -EMFILE / -ENFILE (accept4 takes a descriptor before it looks at the
   queue, so this comes even with nobody waiting; a waiting connection
   stays queued: accept again once fds are free), -EINVAL, -errno. */
IPC_DEF int ipc_unix_accept(int lfd, int flags, ipc_peer *peer, int timeout_ms);

/* socket + connect: a client's socket, returned as its fd. No listener yet
   (ENOENT, ECONNREFUSED) and a full backlog (EAGAIN) are tried again every
   0.1 to 4 ms until timeout_ms, so a client may start before its server:
   timeout 0 returns that error at once, a finite timeout -ETIMEDOUT. A
   datagram or seqpacket client is first bound to an automatic abstract
   name (bind with the family alone), so a datagram server can reply to
   it (ipc_unix_aux.from) and a seqpacket peer can tell its empty messages
   from its end (see ipc_unix_recv). The socket is blocking unless flags
   holds IPC_O_NONBLOCK. Returns the fd, or -EINVAL, -ENAMETOOLONG,
   -ENOENT, -ECONNREFUSED, -EAGAIN, -ETIMEDOUT, -EPROTOTYPE (a listener of
   another type), -EACCES, -EMFILE, -errno. */
IPC_DEF int ipc_unix_connect(const char *name, int type, int flags, int timeout_ms);

/* socketpair(2): two connected sockets of type, close-on-exec, both
   non-blocking with IPC_O_NONBLOCK. A datagram or seqpacket pair is bound
   to automatic abstract names, as ipc_unix_connect does. Returns 0, -EINVAL, -EMFILE,
   -errno. */
IPC_DEF int ipc_unix_pair(int fds[2], int type, int flags);

/* Removes a socket's file system name (the socket itself lives on until
   closed). Only what lstat calls a socket is removed; anything else is
   -EINVAL and stays. An abstract name has nothing to remove: 0. Returns 0,
   -ENOENT, -EINVAL, -ENAMETOOLONG, -errno. */
IPC_DEF int ipc_unix_unlink(const char *name);

/* One sendmsg(2) with MSG_NOSIGNAL, and nfds descriptors (0 to
   IPC_UNIX_MAX_FDS) as one SCM_RIGHTS message attached to the first byte.
   The receiver gets duplicates; the caller's stay open.
   Stream: sends all n bytes (the rest without the descriptors), waiting for
   room up to timeout_ms; descriptors need at least one byte to ride on
   (n == 0 with nfds > 0 is -EINVAL). A send that fails after part of it
   went out leaves the stream cut inside a message: close it.
   Datagram / seqpacket: exactly one message, an empty one (n == 0) too;
   -EMSGSIZE (from the kernel) for one the socket cannot carry.
   A full socket: -EAGAIN for timeout 0, else waits, then -ETIMEDOUT.
   Returns n, or -EINVAL, -EMSGSIZE, -EAGAIN, -ETIMEDOUT, -EPIPE,
   -ECONNRESET, -ECONNREFUSED then -ENOTCONN (a datagram peer that is
   gone), -ETOOMANYREFS (too many descriptors in flight), -errno. */
IPC_DEF ssize_t ipc_unix_send(int fd, const void *data, size_t n, const int *fds, int nfds, int timeout_ms);
/* One datagram to the address `to` (a server replying to aux.from), as
   ipc_unix_send sends one. A full receiver cannot be polled for from an
   unconnected socket, so the wait for it is a sleep of 0.1 to 4 ms between
   attempts. Returns n, or the errors of ipc_unix_send, -ECONNREFUSED (no
   one at `to` any more), -ENOENT. */
IPC_DEF ssize_t ipc_unix_sendto(int fd, const ipc_unix_addr *to, const void *data, size_t n, int timeout_ms);

/* The optional extras of a receive. */
typedef struct ipc_unix_aux {
    int *fds;           /* in: room for descriptors (NULL: none accepted) */
    int fds_room;       /* in: how many fit, at most IPC_UNIX_MAX_FDS */
    int nfds;           /* out: how many arrived: close-on-exec, yours to close */
    int has_cred;       /* out: 1 when cred holds SCM_CREDENTIALS (SO_PASSCRED on) */
    ipc_peer cred;      /* out: the sender's credentials at the time of the send */
    ipc_unix_addr from; /* out: the sender's address (datagrams; len 0 if unknown) */
} ipc_unix_aux;

/* One recvmsg(2) (MSG_CMSG_CLOEXEC), waiting up to timeout_ms for it.
   Stream: the bytes that came (1 to cap; cap 0 is -EINVAL), IPC_EOF at the
   end of the stream.
   Datagram / seqpacket: one whole message; 0 is an empty message. One
   longer than cap is -EMSGSIZE: the kernel discarded it (and the library
   closed any descriptors it carried); ipc_fd_queued tells the next
   message's size beforehand. IPC_EOF: the socket is shut down for reading
   (a seqpacket peer closed, or SHUT_RD) and no message is left. recvmsg
   answers 0 both for an empty message and for the end, and Linux sets no
   MSG_EOR on unix sockets, so the library tells them apart by the message's
   traces: its sender's address (every socket of ipc_unix_listen,
   ipc_unix_connect and ipc_unix_pair has one) or control data (SO_PASSCRED
   gives every message some). A 0 with neither, on a socket shut down for
   reading, is the end. So on seqpacket sockets made elsewhere whose sender
   is unbound, and without SO_PASSCRED, an empty message arriving after its
   sender closed reads as IPC_EOF.
   aux may be NULL: then no descriptors are accepted. Descriptors go to
   aux->fds as ipc_unix_take_cmsg says; more than fit, or any at all when
   none are accepted, is IPC_EFDTRUNC with every one of them closed -- on a
   stream the message's bytes were consumed: treat it as a protocol error
   and drop the connection. Returns the length, IPC_EOF, IPC_EFDTRUNC,
   -EMSGSIZE, -EAGAIN (timeout 0, nothing there), -ETIMEDOUT, -ECONNRESET,
   -EINVAL, -errno. */
IPC_DEF ssize_t ipc_unix_recv(int fd, void *buf, size_t cap, ipc_unix_aux *aux, int timeout_ms);

/* The control-message walk behind ipc_unix_recv, public for callers with
   their own recvmsg and for fuzzing: walks m's control messages within
   msg_controllen (a cmsg_len shorter than its header or running past the
   buffer ends the walk as a truncation), puts SCM_RIGHTS descriptors in
   aux->fds (up to aux->fds_room) and SCM_CREDENTIALS in aux->cred, and
   closes any pidfd (SO_PASSPIDFD), which it has no room for. If msg_flags
   has MSG_CTRUNC, or more descriptors came than fit (aux NULL, fds NULL or
   room 0: none fit; a room above IPC_UNIX_MAX_FDS counts as that), it
   closes EVERY descriptor of the message, those already stored too (their
   slots set to -1), sets aux->nfds to 0 and returns IPC_EFDTRUNC -- also
   for a truncation that carried no descriptor. Descriptors inside a
   control message whose length runs past msg_controllen are not touched:
   the kernel never builds one. Returns 0 otherwise, with aux->nfds set. */
IPC_DEF int ipc_unix_take_cmsg(struct msghdr *m, ipc_unix_aux *aux);

/* The credentials (SO_PEERCRED) of the peer of a connected socket: the
   process that called connect, listen or socketpair, as of that call.
   Returns 0 or -errno. */
IPC_DEF int ipc_unix_peer(int fd, ipc_peer *peer);

/* SO_SNDBUF and SO_RCVBUF: the bounds behind backpressure -- the bytes a
   sender may have in flight (on AF_UNIX they count against the sender's
   SO_SNDBUF until read) and the largest datagram (SO_SNDBUF less 32).
   ipc_unix_buffers reads them (either pointer may be NULL). To set, 0
   leaves that one as it is; Linux doubles what is set (for its own
   bookkeeping), reports the doubled value, and caps it at
   net.core.wmem_max / rmem_max. Returns 0, -EINVAL (negative), -errno. */
IPC_DEF int ipc_unix_buffers(int fd, int *sndbuf, int *rcvbuf);
IPC_DEF int ipc_unix_set_buffers(int fd, int sndbuf, int rcvbuf);

/* SO_PASSCRED: with it on, every message received carries the sender's
   credentials (ipc_unix_aux.has_cred and cred). Linux also binds the socket
   to an automatic abstract name when it sends or connects unbound. Returns
   0 or -errno. */
IPC_DEF int ipc_unix_set_passcred(int fd, int on);

/* ==== 3f. shared memory =================================================== */
/* One region type for the four ways to share memory: a POSIX object by name
   (/dev/shm), a memfd (anonymous; pass its descriptor over a Unix socket), a
   file, and an anonymous MAP_SHARED mapping inherited across fork. Sizes are
   checked before mapping: a region smaller than the caller expects is an
   error at open, never a SIGBUS later. Creation reserves the memory
   (posix_fallocate), so a full tmpfs answers -ENOSPC at once; a memfd has
   no tmpfs limit, so sizes beyond physical memory are refused (-ENOMEM)
   rather than reserved. */
typedef struct ipc_shm {
    void *addr;  /* the mapping (MAP_SHARED) */
    size_t size; /* its length in bytes */
    int fd;      /* close-on-exec; -1 for ipc_anon_map */
} ipc_shm;

enum {
    IPC_SHM_SEAL = 32 /* memfd: seal the size (F_SEAL_SHRINK, F_SEAL_GROW) */
};

/* shm_open(3) + mmap. name as for ipc_mq_name_check. flags: IPC_O_CREATE,
   IPC_O_EXCL, IPC_O_RDONLY (a read-only mapping). Creating: size bytes,
   reserved; mode 0 = 0600, exact despite umask; if this call made the
   object and then fails, the name is removed again. Opening: the object
   must be a regular file owned by the caller with no mode bits beyond those
   asked (-EACCES), and at least size bytes (-ENXIO); size 0 maps it whole.
   Returns 0 or -EINVAL, -ENAMETOOLONG, -ENOENT, -EEXIST, -EACCES, -ENXIO,
   -ENOSPC, -EMFILE, -errno. */
IPC_DEF int ipc_shm_open(ipc_shm *m, const char *name, int flags, unsigned mode, size_t size);
/* shm_unlink(3): the name goes now, the memory with the last mapping. */
IPC_DEF int ipc_shm_unlink(const char *name);

/* memfd_create(2) of size bytes (reserved), mapped. name is only a label
   (/proc/PID/fd shows "/memfd:name"). flags: IPC_SHM_SEAL seals the size,
   so whoever receives the descriptor can map it without fearing a shrink.
   Returns 0 or -EINVAL, -ENOSPC, -EMFILE, -errno. */
IPC_DEF int ipc_memfd_create(ipc_shm *m, const char *name, size_t size, int flags);

/* Maps a descriptor someone passed (memfd or shm object). It must be a
   regular file of at least size bytes (-ENXIO; size 0 maps it whole);
   with IPC_SHM_SEAL it must also carry F_SEAL_SHRINK (-EPERM otherwise).
   IPC_O_RDONLY maps read-only. On success the region owns fd. */
IPC_DEF int ipc_shm_attach_fd(ipc_shm *m, int fd, int flags, size_t size);

/* A file mapped shared (open + mmap; ipc_shm_sync writes it back). flags
   and mode as ipc_shm_open: creating reserves size bytes; an existing file
   must be a regular file (never a symlink: -ELOOP), ours, no more open
   than asked, and at least size bytes. */
IPC_DEF int ipc_file_map(ipc_shm *m, const char *path, int flags, unsigned mode, size_t size);
/* msync(2) of the whole region: async != 0 schedules, 0 waits. */
IPC_DEF int ipc_shm_sync(ipc_shm *m, int async);

/* mmap(MAP_SHARED | MAP_ANONYMOUS): zero-filled memory that a fork()ed
   child shares with its parent. Returns 0, -EINVAL, -ENOMEM. */
IPC_DEF int ipc_anon_map(ipc_shm *m, size_t size);

/* munmap + close. Safe on a zeroed or already closed region. */
IPC_DEF int ipc_shm_close(ipc_shm *m);

/* ==== 4. shared-memory ring =============================================== */
/* A bounded queue of variable-length records (empty ones too) in one shared
   region: the fastest path between two processes on one machine.

   One consumer; one producer, or several with IPC_RING_MULTI (they take a
   lock in the region that a dead holder cannot keep). While neither side
   has to wait, a send or receive is a copy and a few atomic loads and
   stores: no lock, no system call. A side that has to wait spins briefly,
   then sleeps on a futex in the region; the other side makes the wake-up
   call only when it sees a sleeper. IPC_RING_SPIN rings never sleep (the
   lowest latency, one busy core per waiting side).

   Lifetime and failure. A consumer that finds the ring empty after every
   producer has closed gets IPC_EOF; after a producer died without closing,
   IPC_EPEERDEAD -- in both cases only once every committed record has been
   received. A producer that must wait for room and finds the consumer
   closed gets -EPIPE; dead, IPC_EPEERDEAD. A record is published by one
   store at commit, so a producer killed at any point never exposes half a
   record; a record leaves the ring at release, so one a consumer had read
   but not released when it died goes to the next consumer. Each side
   registers its thread id (threads may stand in for processes); liveness
   is kill(tid, 0) and /proc/TID/stat (a zombie is dead), looked at while
   waiting: a recycled id looks alive, and processes in different pid
   namespaces must not share a ring.

   Trust. Attaching validates the header against the mapping's real size
   (IPC_ECORRUPT), and every index and record length read from the region
   is checked before use, so a hostile or torn region gives IPC_ECORRUPT,
   never an access outside the mapping. A named region shrunk by another
   process after attaching would still raise SIGBUS: only memfd rings
   (anonymous) are sealed against it. Payloads seen in place (peek) live in
   shared memory a hostile peer can still change: copy before validating.

   Layout (version 1, the machine's byte order, DESIGN.md): a 4096-byte
   header --
   magic "ipc.ring", version, flags, capacity, data offset, then the
   producer's index, the consumer's index and the two futex words each on
   a cache line of its own, then the producer registry -- and the data:
   capacity bytes (a power of two). Each record is an 8-byte header (u32
   length, u32 tag) and the payload padded to 8 bytes; a record never
   wraps (a pad record fills the end of the buffer instead). */
enum {
    IPC_RING_MULTI = 64, /* creation: several producers (a lock among them) */
    IPC_RING_SPIN = 128  /* creation: waits spin instead of sleeping */
};
#define IPC_RING_VERSION 1
#define IPC_RING_HEADER 4096 /* bytes before the data */
#define IPC_RING_MIN 64      /* smallest capacity */

typedef struct ipc_ring {
    ipc_shm shm; /* the region: shm.fd can be passed to another process */
    /* private */
    struct ipc__ring_hdr *h;
    uint8_t *data;
    uint64_t cap, mask;
    uint64_t tail, head_seen; /* producer: next write, consumer's index as last read */
    uint64_t head, tail_seen; /* consumer: next read, producer's index as last read */
    uint64_t resv;            /* producer: start of the reserved record */
    size_t resv_len;          /* its payload room; SIZE_MAX: none reserved */
    uint64_t peeked;          /* consumer: head after the peeked record */
    int64_t check_at;         /* next time to look at the peer's pid */
    uint64_t sent, received;  /* the counters this side publishes (stores only) */
    int flags, roles, joined, slot, locked, peeking;
    pid_t tid; /* the id this handle registered with */
} ipc_ring;

/* Opens (or with IPC_O_CREATE creates) the ring called name, a shm name
   ("/name", ipc_mq_name_check's rules); name NULL makes an anonymous ring
   in a sealed memfd, shared with children across fork or passed by
   descriptor (shm.fd; the receiver calls ipc_ring_attach_fd). flags:
   IPC_O_CREATE, IPC_O_EXCL; the role: IPC_O_WRONLY producer, IPC_O_RDONLY
   consumer, neither both (each role registers on its first use: fork
   first). A registration is per thread and role: two handles of one role
   in one thread share it, and closing either ends it. At creation only:
   IPC_RING_MULTI, IPC_RING_SPIN. capacity: data bytes at creation, rounded
   up to a power of two, IPC_RING_MIN to 1 GiB (-EINVAL above); 0 on open
   takes the ring's own. A ring being created by another process is waited
   for up to a second. Returns 0 or the errors of ipc_shm_open,
   -EBUSY (the role is taken by a live process), IPC_ECORRUPT. */
IPC_DEF int ipc_ring_open(ipc_ring *r, const char *name, int flags, unsigned mode, size_t capacity);
/* Attaches the ring in a descriptor another process passed (flags: the
   role). On success the ring owns fd. */
IPC_DEF int ipc_ring_attach_fd(ipc_ring *r, int fd, int flags);
/* Leaves the ring: a producer's close is what lets the consumer see
   IPC_EOF; a consumer's makes waiting producers answer -EPIPE. Unmaps. */
IPC_DEF int ipc_ring_close(ipc_ring *r);
/* Removes a named ring (shm_unlink). */
IPC_DEF int ipc_ring_unlink(const char *name);

/* Copies n bytes in as one record. Waits up to timeout_ms for room.
   Returns 0 or -EMSGSIZE (n > ipc_ring_max_record), -EAGAIN, -ETIMEDOUT,
   -EPIPE, IPC_EPEERDEAD, IPC_ECORRUPT, -EBUSY (another live process
   holds the role), -EBADF (a handle opened for the other role). A reservation left open is dropped. */
IPC_DEF int ipc_ring_send(ipc_ring *r, const void *data, size_t n, int timeout_ms);
/* Copies the next record out and releases it. Returns its length, or
   -EMSGSIZE (cap too small: the record stays), -EAGAIN, -ETIMEDOUT,
   IPC_EOF, IPC_EPEERDEAD, IPC_ECORRUPT, -EBUSY (another live consumer),
   -EBADF (a handle opened for the other role). */
IPC_DEF ssize_t ipc_ring_recv(ipc_ring *r, void *buf, size_t cap, int timeout_ms);

/* Zero copy, producer side: room for n bytes in place (*where), waited for
   as in send; write the payload, then commit m <= n bytes (0 too). Nothing
   is visible before the commit; a reservation that is never committed is
   dropped by the next reserve. With IPC_RING_MULTI the lock is held from
   reserve to commit: keep it short. */
IPC_DEF int ipc_ring_reserve(ipc_ring *r, size_t n, void **where, int timeout_ms);
IPC_DEF int ipc_ring_commit(ipc_ring *r, size_t n);
/* Zero copy, consumer side: the next record in place (*where) and its
   length; it stays until ipc_ring_release. Peeking again without a
   release returns the same record. Errors as recv. */
IPC_DEF ssize_t ipc_ring_peek(ipc_ring *r, const void **where, int timeout_ms);
IPC_DEF int ipc_ring_release(ipc_ring *r);

/* The largest payload one record can carry: capacity / 2 - 8. A record
   never wraps, and one of that size finds room at any position once the
   ring has emptied; a bigger one could wait forever on an empty ring. */
IPC_DEF size_t ipc_ring_max_record(const ipc_ring *r);

/* Readable from either side at any time (a snapshot, not atomic as a
   whole). */
typedef struct ipc_ring_info {
    size_t capacity;          /* data bytes */
    size_t used;              /* bytes held by records not yet released */
    size_t high_water;        /* the most bytes ever in use, as the producer saw them */
    uint64_t depth;           /* records not yet released */
    uint64_t sent, received;  /* records committed, released */
    uint64_t full;            /* sends and reserves that met a full ring */
    unsigned flags;           /* IPC_RING_MULTI, IPC_RING_SPIN */
    pid_t consumer;           /* registered consumer, 0: none */
    int producers;            /* registered producers */
} ipc_ring_info;
IPC_DEF int ipc_ring_stat(const ipc_ring *r, ipc_ring_info *info);

#ifdef IPC_TEST_HOOKS
/* Where ipc_test.ring_step is called: the producer's reserve (room found),
   copy (payload written), commit (published), wake (sleeper woken), lock
   (multi-producer lock held); the consumer's acquire (record found), read
   (copied out), release (index published); either side's sleep (about to
   wait on a futex). */
enum {
    IPC_RING_STEP_RESERVE = 1,
    IPC_RING_STEP_COPY,
    IPC_RING_STEP_COMMIT,
    IPC_RING_STEP_WAKE,
    IPC_RING_STEP_LOCK,
    IPC_RING_STEP_ACQUIRE,
    IPC_RING_STEP_READ,
    IPC_RING_STEP_RELEASE,
    IPC_RING_STEP_SLEEP
};
#endif

/* ==== 5. channels ========================================================= */
/* An address names a channel: "scheme:rest?opt=val&...", one scheme per
   mechanism (DESIGN.md):
       -, stdio:            stdin and stdout             framed
       fd:N                 an inherited descriptor      framed
       fifo:/path           a FIFO                       framed
       unix:/path, unix:@name             stream socket  framed
       unix-dgram:NAME, unix-seqpacket:NAME              one message each
       mq:/name             POSIX message queue          one message each
       sysv:0x1234, sysv:/path#proj       System V queue one message each
       shm:/name            shared-memory ring           one message each
   Options: frame=len32|varint|cobs (framed schemes), max=BYTES (the frame
   limit), cap=MESSAGES (capacity), msgsize=BYTES, mode=OCTAL (0600 when
   not given; 0 also means 0600, as in every open call), prio=N (POSIX MQ
   priority, < 32768), type=N (System V type, > 0). Numbers are decimal
   (mode octal; a System V key may be 0x hex), at most 31 digits. An option a mechanism has no use for is accepted and ignored. A
   path cannot hold '?': the query starts at the first one. */
typedef enum ipc_scheme {
    IPC_SCHEME_STDIO = 1,
    IPC_SCHEME_FD,
    IPC_SCHEME_FIFO,
    IPC_SCHEME_UNIX,
    IPC_SCHEME_UNIX_DGRAM,
    IPC_SCHEME_UNIX_SEQPACKET,
    IPC_SCHEME_MQ,
    IPC_SCHEME_SYSV,
    IPC_SCHEME_SHM
} ipc_scheme;

#define IPC_ADDR_NAME_MAX 4096 /* PATH_MAX: the longest name part */

/* A parsed address. Fields an address did not set hold 0 (-1 for fd, and
   codec IPC_LEN32, max IPC_MAX_FRAME, mode 0600). */
typedef struct ipc_addr {
    ipc_scheme scheme;
    char name[IPC_ADDR_NAME_MAX]; /* path, "@abstract", "/name", sysv path */
    int fd;                       /* fd:N */
    key_t key;                    /* sysv:KEY, or ftok of sysv:/path#proj */
    int proj;                     /* sysv:/path#proj: 1..255; 0 for a key */
    ipc_codec codec;              /* frame= */
    size_t max;                   /* max= */
    long cap;                     /* cap= (0: the mechanism's default) */
    long msgsize;                 /* msgsize= (0: the default) */
    unsigned mode;                /* mode= */
    unsigned prio;                /* prio= */
    long type;                    /* type= (0: none given) */
} ipc_addr;

/* Parses text into *a, checking everything that can be checked without a
   system call: the scheme, the name's rules for its mechanism (unix: at
   most 107 bytes; mq, shm: ipc_mq_name_check's; sysv: a key or a path and
   a project 1..255), every option key and value. Nothing is created,
   opened or looked up (a sysv path's key is computed later, by open).
   Returns 0, -EINVAL (unknown scheme or option, a malformed value, a
   duplicate option) or -ENAMETOOLONG; after a failure *a holds nothing
   to rely on. */
IPC_DEF int ipc_addr_parse(ipc_addr *a, const char *text);
/* The scheme's name as addresses spell it ("unix-dgram"); "?" for none. */
IPC_DEF const char *ipc_scheme_name(ipc_scheme scheme);

/* ==== 6. monitoring ======================================================= */
/* What ipcs, ls /dev/mqueue, ls /dev/shm, ss -x and a walk of /proc/PID/fd
   and /proc/PID/maps show, as one kind of plain record. Each scan calls
   fn(obj, arg) once per object; fn returns non-zero to stop the scan, which
   then returns that value. Scans allocate nothing (fixed buffers: a line
   longer than 4 KiB is skipped) and skip, counting in *skipped (may be
   NULL), whatever cannot be read: a file that vanished, a process that
   exited, a permission denied. Nothing is mounted: a scan of /dev/mqueue
   where it is not mounted answers -ENOENT. */
typedef enum ipc_kind {
    IPC_KIND_SYSV_MSG = 1, /* System V message queue (/proc/sysvipc/msg) */
    IPC_KIND_SYSV_SHM,     /* System V shared memory segment */
    IPC_KIND_SYSV_SEM,     /* System V semaphore set */
    IPC_KIND_POSIX_MQ,     /* POSIX message queue (/dev/mqueue) */
    IPC_KIND_POSIX_SHM,    /* POSIX shared memory object (/dev/shm) */
    IPC_KIND_UNIX_SOCKET,  /* AF_UNIX socket (/proc/net/unix) */
    IPC_KIND_PIPE,         /* process scans: an anonymous pipe end */
    IPC_KIND_FIFO,         /* process scans: a named pipe */
    IPC_KIND_SOCKET,       /* process scans: a socket (see its inode in a unix scan) */
    IPC_KIND_MEMFD         /* process scans: a memfd, open or mapped */
} ipc_kind;

typedef struct ipc_object {
    ipc_kind kind;
    char name[288];        /* "/name", a path, "@abstract", "pipe:[inode]"; "" if none */
    int key;               /* System V key (0: IPC_PRIVATE) */
    int id;                /* System V id, else -1 */
    uid_t uid;
    gid_t gid;
    unsigned mode;         /* permission bits */
    int64_t bytes;         /* queued bytes, segment or object size; -1 unknown */
    int64_t count;         /* messages, attaches, semaphores; -1 unknown */
    int64_t capacity;      /* POSIX MQ maxmsg, System V msg_qbytes; -1 unknown */
    pid_t pid[2];          /* msg: last send, last receive; shm: creator, last */
    unsigned long inode;
    int sock_type;         /* unix sockets: SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
    int sock_state;        /* the kernel's St: 1 unconnected, 2 connecting, 3 connected */
    int listening;         /* unix sockets: __SO_ACCEPTCON in Flags */
    pid_t holder;          /* process scans: the process */
    int fd;                /* process scans: its descriptor, -1 for a mapping */
    int ring;              /* POSIX shm: an ipc.h ring (count: records queued,
                              capacity: data bytes, from its header) */
} ipc_object;
typedef int (*ipc_object_fn)(const ipc_object *obj, void *arg);

IPC_DEF int ipc_scan_sysv(ipc_object_fn fn, void *arg, unsigned *skipped);
IPC_DEF int ipc_scan_posix_mq(ipc_object_fn fn, void *arg, unsigned *skipped);
IPC_DEF int ipc_scan_posix_shm(ipc_object_fn fn, void *arg, unsigned *skipped);
IPC_DEF int ipc_scan_unix_sockets(ipc_object_fn fn, void *arg, unsigned *skipped);
/* One process's pipes, FIFOs, sockets, queues and shared memory, open
   (/proc/PID/fd) or mapped (/proc/PID/maps). -ESRCH for no such process. */
IPC_DEF int ipc_scan_process(pid_t pid, ipc_object_fn fn, void *arg, unsigned *skipped);

/* The parsers behind the scans, for tests and fuzzing. ipc_parse_sysvipc
   reads one data line of a /proc/sysvipc table, columns named by its header
   line; ipc_parse_net_unix one data line of /proc/net/unix. A trailing
   newline is allowed. Both return 0, or IPC_EFRAME for a line they cannot
   read or a name longer than obj->name holds (obj is then unspecified);
   ipc_parse_sysvipc returns -EINVAL for a kind that is not System V. */
IPC_DEF int ipc_parse_sysvipc(ipc_kind kind, const char *header, const char *line, ipc_object *obj);
IPC_DEF int ipc_parse_net_unix(const char *line, ipc_object *obj);
IPC_DEF const char *ipc_kind_name(ipc_kind kind);

#ifdef __cplusplus
}
#endif
#endif /* IPC_H */

/* ========================================================================== */
/*                              IMPLEMENTATION                                */
/* ========================================================================== */
#ifdef IPC_IMPLEMENTATION
#ifndef IPC_IMPLEMENTATION_DONE
#define IPC_IMPLEMENTATION_DONE

#ifdef __cplusplus
#error "ipc.h: the implementation is C; compile the IPC_IMPLEMENTATION file as C"
#endif
#if !defined(_GNU_SOURCE) || (defined(__GLIBC__) && !defined(__USE_GNU))
#error "ipc.h: #define _GNU_SOURCE before the first #include of the file that defines IPC_IMPLEMENTATION"
#endif

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <dirent.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#if defined(IPC_MALLOC) && defined(IPC_REALLOC) && defined(IPC_FREE)
#elif !defined(IPC_MALLOC) && !defined(IPC_REALLOC) && !defined(IPC_FREE)
#include <stdlib.h>
#define IPC_MALLOC(n) malloc(n)
#define IPC_REALLOC(p, n) realloc(p, n)
#define IPC_FREE(p) free(p)
#else
#error "ipc.h: define all of IPC_MALLOC, IPC_REALLOC and IPC_FREE, or none"
#endif

/* RWF_NOWAIT (Linux 4.14) is missing from older headers; a kernel without
   it answers EOPNOTSUPP, and the library then polls first. */
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

/* MSG_COPY is Linux's; older headers lack it (the kernel then says ENOSYS). */
#ifdef MSG_COPY
#define IPC__MSG_COPY MSG_COPY
#else
#define IPC__MSG_COPY 040000
#endif

#ifndef IPC_ASSERT
#include <assert.h>
#define IPC_ASSERT(x) assert(x)
#endif

#ifdef IPC_STATIC
#define IPC__UNUSED __attribute__((unused))
#else
#define IPC__UNUSED
#endif
#if defined(__GNUC__) || defined(__clang__)
#define IPC__HOT static inline __attribute__((always_inline)) /* per-frame paths: keep out-params in registers */
#define IPC__NOINLINE __attribute__((noinline))                 /* slow paths: keep the fast ones small */
#else
#define IPC__HOT static inline
#define IPC__NOINLINE
#endif

/* ==== 0. config & base ==================================================== */

IPC_DEF IPC__UNUSED const char *ipc_strerror(int code) {
    switch (code) {
    case IPC_EOF: return "end of stream";
    case IPC_EFRAME: return "malformed frame";
    case IPC_ETOOBIG: return "frame longer than the limit";
    case IPC_ETRUNC: return "stream ended inside a frame";
    case IPC_ECORRUPT: return "shared region fails validation";
    case IPC_EPEERDEAD: return "peer process died";
    case IPC_EMQMSGMAX: return "POSIX MQ maxmsg over the system limit (/proc/sys/fs/mqueue/msg_max)";
    case IPC_EMQSIZEMAX: return "POSIX MQ msgsize over the system limit (/proc/sys/fs/mqueue/msgsize_max)";
    case IPC_EMQQUEUESMAX: return "too many POSIX MQs (/proc/sys/fs/mqueue/queues_max)";
    case IPC_EMSGMAX: return "System V message over the system limit (/proc/sys/kernel/msgmax)";
    case IPC_EMSGMNI: return "too many System V queues (/proc/sys/kernel/msgmni)";
    case IPC_EFDTRUNC: return "descriptors passed with a message were cut off or not wanted; all closed";
    }
    if (code >= 0) return "success";
    if (code > -4096) return strerror(-code); /* glibc: static strings for known errnos */
    return "unknown error";
}

IPC_DEF IPC__UNUSED int64_t ipc_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

IPC_DEF IPC__UNUSED int64_t ipc_deadline(int timeout_ms) {
    int64_t t;
    if (timeout_ms < 0) return IPC_DEADLINE_NEVER;
    if (timeout_ms == 0) return IPC_DEADLINE_TRY;
    t = ipc_now_ns() + (int64_t)timeout_ms * 1000000;
    return t > 0 ? t : 1; /* keep 0 meaning "try" */
}

IPC_DEF IPC__UNUSED int ipc_deadline_left_ms(int64_t deadline) {
    int64_t left;
    if (deadline == IPC_DEADLINE_NEVER) return -1;
    if (deadline == IPC_DEADLINE_TRY) return 0;
    left = deadline - ipc_now_ns();
    if (left <= 0) return 0;
    left = (left + 999999) / 1000000; /* round up: poll must not wake early and spin */
    return left > INT_MAX ? INT_MAX : (int)left;
}

IPC_DEF IPC__UNUSED int ipc_deadline_error(int64_t deadline) {
    return deadline == IPC_DEADLINE_TRY ? -EAGAIN : -ETIMEDOUT;
}

/* The one place a system error becomes a return code. */
static int ipc__err(void) { return errno > 0 ? -errno : -EIO; }

#ifdef IPC_TEST_HOOKS
ipc_test_hooks ipc_test;

static void *ipc__malloc(size_t n) {
    if (++ipc_test.allocs == ipc_test.alloc_fail_at) return NULL;
    return IPC_MALLOC(n);
}
static void *ipc__realloc(void *p, size_t n) {
    if (++ipc_test.allocs == ipc_test.alloc_fail_at) return NULL;
    return IPC_REALLOC(p, n);
}

/* Decides the fate of one I/O call: -1 with errno EINTR, or the byte cap. */
static ssize_t ipc__hook_io(size_t want) {
    unsigned long n = ++ipc_test.io_calls;
    uint64_t x;
    if (ipc_test.eintr_at && n >= ipc_test.eintr_at &&
        (n == ipc_test.eintr_at || (ipc_test.eintr_every && (n - ipc_test.eintr_at) % ipc_test.eintr_every == 0))) {
        errno = EINTR;
        return -1;
    }
    if (!ipc_test.max_io || want == 0) return (ssize_t)(want > SSIZE_MAX ? SSIZE_MAX : want);
    x = ipc_test.rng ? ipc_test.rng : 0x9E3779B97F4A7C15u;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
    ipc_test.rng = x;
    x = 1 + x % ipc_test.max_io;
    return (ssize_t)(x < want ? x : want);
}

/* Copies iov, cut to at most cap bytes, into out (at most 64 entries). */
static int ipc__iov_cap(struct iovec *out, const struct iovec *iov, int cnt, size_t cap) {
    int i;
    for (i = 0; i < cnt && i < 64 && cap > 0; i++) {
        out[i] = iov[i];
        if (out[i].iov_len > cap) out[i].iov_len = cap;
        cap -= out[i].iov_len;
    }
    if (i == 0) { /* keep one empty entry so the call still happens */
        out[0] = iov[0];
        out[0].iov_len = 0;
        i = 1;
    }
    return i;
}

/* One hooked I/O call (readv, writev, or sendmsg / recvmsg of msg with
   flags): the fault the hooks ask for, else the call on a copy of the
   iovec cut to the short count, made by the test's replacement where there
   is one. sendmsg and recvmsg keep the rest of msg (address, control data)
   around the cut iovec, and recvmsg's answers go back into msg. Only a
   stream is cut: a datagram or seqpacket message goes whole or not at all,
   and a cut one would be another message. */
enum { IPC__SYS_READV, IPC__SYS_WRITEV, IPC__SYS_WRITEV_NOWAIT, IPC__SYS_SENDMSG, IPC__SYS_RECVMSG };
static ssize_t ipc__sys_io(int op, int fd, const struct iovec *iov, int cnt, struct msghdr *msg, int flags) {
    struct iovec cut[64];
    struct msghdr m;
    size_t want = 0;
    ssize_t cap, r;
    int i;
    if ((op == IPC__SYS_SENDMSG && ipc_test.writev) || (op == IPC__SYS_RECVMSG && ipc_test.readv)) {
        errno = ENOTSOCK; /* a faked fd is not a socket */
        return -1;
    }
    for (i = 0; i < cnt; i++) want += iov[i].iov_len;
    if ((cap = ipc__hook_io(want)) < 0) return -1;
    if (msg && (size_t)cap < want) {
        int type;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type != SOCK_STREAM)
            cap = (ssize_t)(want > SSIZE_MAX ? SSIZE_MAX : want);
    }
    cnt = ipc__iov_cap(cut, iov, cnt, (size_t)cap);
    switch (op) {
    case IPC__SYS_READV: return ipc_test.readv ? ipc_test.readv(fd, cut, cnt) : readv(fd, cut, cnt);
    case IPC__SYS_WRITEV: return ipc_test.writev ? ipc_test.writev(fd, cut, cnt) : writev(fd, cut, cnt);
    case IPC__SYS_WRITEV_NOWAIT:
        return ipc_test.writev ? ipc_test.writev(fd, cut, cnt) : pwritev2(fd, cut, cnt, -1, RWF_NOWAIT);
    }
    m = *msg;
    m.msg_iov = cut;
    m.msg_iovlen = (size_t)cnt;
    if (op == IPC__SYS_SENDMSG) return sendmsg(fd, &m, flags);
    r = recvmsg(fd, &m, flags);
    msg->msg_namelen = m.msg_namelen;
    msg->msg_controllen = m.msg_controllen;
    msg->msg_flags = m.msg_flags;
    return r;
}
#define ipc__sys_readv(fd, iov, cnt) ipc__sys_io(IPC__SYS_READV, fd, iov, cnt, NULL, 0)
#define ipc__sys_writev(fd, iov, cnt) ipc__sys_io(IPC__SYS_WRITEV, fd, iov, cnt, NULL, 0)
#define ipc__sys_writev_nowait(fd, iov, cnt) ipc__sys_io(IPC__SYS_WRITEV_NOWAIT, fd, iov, cnt, NULL, 0)
#define ipc__sys_sendmsg(fd, m, flags) ipc__sys_io(IPC__SYS_SENDMSG, fd, (m)->msg_iov, (int)(m)->msg_iovlen, m, flags)
#define ipc__sys_recvmsg(fd, m, flags) ipc__sys_io(IPC__SYS_RECVMSG, fd, (m)->msg_iov, (int)(m)->msg_iovlen, m, flags)
static int ipc__sys_poll(struct pollfd *p, nfds_t n, int timeout_ms) {
    return ipc_test.poll ? ipc_test.poll(p, n, timeout_ms) : poll(p, n, timeout_ms);
}
static int ipc__close(int fd) { return ipc_test.close ? ipc_test.close(fd) : close(fd); }
#else
#define ipc__malloc(n) IPC_MALLOC(n)
#define ipc__realloc(p, n) IPC_REALLOC(p, n)
#define ipc__sys_readv readv
#define ipc__sys_writev writev
#define ipc__sys_writev_nowait(fd, iov, cnt) pwritev2(fd, iov, cnt, -1, RWF_NOWAIT)
#define ipc__sys_sendmsg sendmsg
#define ipc__sys_recvmsg recvmsg
#define ipc__sys_poll poll
#define ipc__close close
#endif

/* Overflow-proof addition: a + b when it fits in size_t, else SIZE_MAX (and
   SIZE_MAX is never a size anyone can allocate or accept as a limit). */
static size_t ipc__add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* ==== 1. framing codecs =================================================== */

IPC_DEF IPC__UNUSED ipc_codec ipc_codec_parse(const char *name) {
    if (!name) return (ipc_codec)0;
    if (!strcmp(name, "len32")) return IPC_LEN32;
    if (!strcmp(name, "varint")) return IPC_VARINT;
    if (!strcmp(name, "cobs")) return IPC_COBS;
    return (ipc_codec)0;
}

IPC_DEF IPC__UNUSED const char *ipc_codec_name(ipc_codec codec) {
    switch (codec) {
    case IPC_LEN32: return "len32";
    case IPC_VARINT: return "varint";
    case IPC_COBS: return "cobs";
    }
    return "?";
}

IPC_DEF IPC__UNUSED int ipc_len32_header(uint8_t out[4], size_t len) {
    if (len > IPC_LEN32_MAX) return IPC_ETOOBIG;
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
}

IPC_DEF IPC__UNUSED int ipc_varint_encode(uint8_t out[IPC_HEADER_MAX], uint64_t value) {
    int n = 0;
    while (value >= 0x80) {
        out[n++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[n++] = (uint8_t)value;
    return n;
}

IPC_DEF IPC__UNUSED int ipc_frame_header(ipc_codec codec, uint8_t out[IPC_HEADER_MAX], size_t len) {
    if (codec == IPC_LEN32) return ipc_len32_header(out, len);
    if (codec == IPC_VARINT) return ipc_varint_encode(out, len);
    return -EINVAL;
}

/* One step of LEB128: folds byte b, the i-th (0-based), into *value.
   Returns 1 when the varint goes on, 0 when b ended it, IPC_EFRAME when it
   is over 64 bits (the 10th byte carries bit 63 only, so it must be 0 or 1:
   this also keeps every shift below 64) or non-canonical (a last byte of 0
   after the first adds nothing: the same length has a shorter encoding). */
static int ipc__varint_step(uint64_t *value, unsigned i, uint8_t b) {
    if (i == 9 && b > 1) return IPC_EFRAME;
    if (i > 0 && b == 0) return IPC_EFRAME;
    *value |= (uint64_t)(b & 0x7F) << (7 * i);
    return (b & 0x80) != 0;
}

IPC_DEF IPC__UNUSED int ipc_varint_decode(const uint8_t *p, size_t n, uint64_t *value) {
    uint64_t v = 0;
    unsigned i;
    for (i = 0; i < n && i < IPC_HEADER_MAX; i++) {
        int rc = ipc__varint_step(&v, i, p[i]);
        if (rc < 0) return rc;
        if (rc == 0) {
            *value = v;
            return (int)i + 1;
        }
    }
    return 0; /* the 10th byte always ends it or fails, so i < 10 here */
}

IPC_DEF IPC__UNUSED size_t ipc_cobs_bound(size_t n) {
    /* One code byte per 254 payload bytes plus the first, plus the 0x00.
       n/254 <= n, and callers never pass n near SIZE_MAX (ipc__add saturates). */
    return ipc__add(ipc__add(n, n / 254), 2);
}

/* Encodes the block at *p: a code byte k, then the k-1 non-zero bytes before
   the next zero (which the code implies) or 254 of them (code FF, no
   implied zero). Returns the bytes written to o; *last is set on the
   payload's final block. A payload ending in exactly a full block gets no
   extra empty block after it: the canonical form. */
static size_t ipc__cobs_block(uint8_t *o, const uint8_t **p, const uint8_t *end, int *last) {
    size_t room = (size_t)(end - *p) < 254 ? (size_t)(end - *p) : 254, k;
    const uint8_t *z;
    if (room == 0) { /* the payload's end (and *p may be NULL for an empty one) */
        o[0] = 1;
        *last = 1;
        return 1;
    }
    z = (const uint8_t *)memchr(*p, 0, room);
    k = z ? (size_t)(z - *p) : room;
    o[0] = (uint8_t)(k + 1);
    if (k) memcpy(o + 1, *p, k);
    *p += k + (z != NULL);
    *last = !z && !(k == 254 && *p < end);
    return k + 1;
}

IPC_DEF IPC__UNUSED size_t ipc_cobs_encode(uint8_t *out, const uint8_t *in, size_t n) {
    const uint8_t *p = in, *end = n ? in + n : in; /* no arithmetic on a NULL empty payload */
    size_t o = 0;
    int last;
    do o += ipc__cobs_block(out + o, &p, end, &last);
    while (!last);
    out[o++] = 0;
    return o;
}

/* Decodes a frame body known to hold no zero byte (the caller found its
   delimiter with memchr). out may equal in: each block moves down by one
   byte at most per block before it, so memmove keeps it right. */
static ssize_t ipc__cobs_unstuff(uint8_t *out, const uint8_t *in, size_t n) {
    size_t i = 0, o = 0;
    while (i < n) {
        size_t code = in[i++];
        if (code - 1 > n - i) return IPC_EFRAME; /* the block runs past the end */
        if (code > 1) memmove(out + o, in + i, code - 1); /* out is NULL for an empty frame */
        i += code - 1;
        o += code - 1;
        if (code < 0xFF && i < n) out[o++] = 0;
    }
    return (ssize_t)o;
}

IPC_DEF IPC__UNUSED ssize_t ipc_cobs_decode(uint8_t *out, const uint8_t *in, size_t n) {
    if (n == 0 || memchr(in, 0, n)) return IPC_EFRAME; /* even the empty payload has a code byte */
    return ipc__cobs_unstuff(out, in, n);
}

IPC_DEF IPC__UNUSED size_t ipc_frame_bound(ipc_codec codec, size_t n) {
    switch (codec) {
    case IPC_LEN32: return ipc__add(n, 4);
    case IPC_VARINT: {
        uint8_t h[IPC_HEADER_MAX];
        return ipc__add(n, (size_t)ipc_varint_encode(h, n));
    }
    case IPC_COBS: return ipc_cobs_bound(n);
    }
    return SIZE_MAX;
}

IPC_DEF IPC__UNUSED ssize_t ipc_frame_encode(ipc_codec codec, void *out, size_t cap, const void *payload, size_t n) {
    uint8_t *o = (uint8_t *)out;
    int h;
    if (n > (size_t)SSIZE_MAX / 2) return IPC_ETOOBIG;
    if (codec == IPC_COBS) {
        if (cap < ipc_cobs_bound(n)) return -ENOBUFS;
        return (ssize_t)ipc_cobs_encode(o, (const uint8_t *)payload, n);
    }
    if (codec == IPC_LEN32 && n > IPC_LEN32_MAX) return IPC_ETOOBIG;
    if (cap < ipc_frame_bound(codec, n)) return -ENOBUFS;
    if ((h = ipc_frame_header(codec, o, n)) < 0) return h;
    if (n) memcpy(o + h, payload, n);
    return (ssize_t)h + (ssize_t)n;
}

/* Decoder states. */
enum { IPC__DEC_HEADER, IPC__DEC_PAYLOAD, IPC__DEC_SKIP, IPC__DEC_FAILED };

IPC_DEF IPC__UNUSED void ipc_decoder_init(ipc_decoder *d, ipc_codec codec, size_t max_frame, void *buf,
                                          size_t cap) {
    IPC_ASSERT(codec == IPC_LEN32 || codec == IPC_VARINT || codec == IPC_COBS);
    memset(d, 0, sizeof *d);
    d->codec = codec;
    d->max_frame = max_frame ? max_frame : IPC_MAX_FRAME;
    if (codec == IPC_LEN32 && d->max_frame > IPC_LEN32_MAX) d->max_frame = IPC_LEN32_MAX;
    if (buf) {
        d->buf = (uint8_t *)buf;
        d->cap = cap;
        if (d->max_frame > cap) d->max_frame = cap;
    } else {
        d->owns_buf = 1;
    }
}

IPC_DEF IPC__UNUSED void ipc_decoder_reset(ipc_decoder *d) {
    d->state = IPC__DEC_HEADER;
    d->error = 0;
    d->value = 0;
    d->hdr_len = d->cobs_left = d->cobs_code = 0;
    d->want = d->have = 0;
}

IPC_DEF IPC__UNUSED void ipc_decoder_free(ipc_decoder *d) {
    if (d->owns_buf) IPC_FREE(d->buf);
    d->buf = NULL;
    d->cap = 0;
}

IPC_DEF IPC__UNUSED int ipc_decoder_finish(const ipc_decoder *d) {
    if (d->state == IPC__DEC_FAILED) return d->error;
    if (d->state == IPC__DEC_PAYLOAD || d->hdr_len > 0 || d->cobs_code > 0) return IPC_ETRUNC;
    return 0;
}

/* Makes room for need bytes of frame in the decoder's buffer. need never
   exceeds max_frame, so an owned buffer stays within the limit. */
static int ipc__decoder_reserve(ipc_decoder *d, size_t need) {
    size_t cap;
    uint8_t *p;
    if (need <= d->cap) return 0;
    if (!d->owns_buf) return IPC_ETOOBIG; /* max_frame <= cap makes this unreachable */
    cap = d->cap < 4096 ? 4096 : d->cap;
    while (cap < need) cap = ipc__add(cap, cap);
    if (cap > d->max_frame) cap = d->max_frame;
    if (cap < need) cap = need;
    if (!(p = (uint8_t *)ipc__realloc(d->buf, cap))) return -ENOMEM;
    d->buf = p;
    d->cap = cap;
    return 0;
}

/* A LEN32/VARINT payload is complete: back to a frame boundary. Returns
   the payload's length. */
static size_t ipc__decoder_frame_done(ipc_decoder *d) {
    size_t len = d->want;
    d->want = d->have = 0;
    d->state = IPC__DEC_HEADER;
    return len;
}

/* A sticky failure: records the bad byte's offset and stops the decoder. */
static int ipc__decoder_fail(ipc_decoder *d, int code, uint64_t at) {
    d->err_offset = at;
    d->error = code;
    d->state = IPC__DEC_FAILED;
    return code;
}

/* COBS fails softly: report, then skip to the next 0x00. */
static int ipc__decoder_skip(ipc_decoder *d, int code, uint64_t at, int at_delimiter) {
    d->err_offset = at;
    d->have = 0;
    d->cobs_left = d->cobs_code = 0;
    d->state = at_delimiter ? IPC__DEC_HEADER : IPC__DEC_SKIP;
    return code;
}

/* LEN32 / VARINT: header bytes, then `want` payload bytes. */
static int ipc__decode_prefixed(ipc_decoder *d, const uint8_t *in, size_t n, size_t *used, const uint8_t **frame,
                                size_t *frame_len) {
    const uint8_t *p = in, *end = in + n;
    while (p < end) {
        if (d->state == IPC__DEC_HEADER) {
            uint64_t start = d->offset + (uint64_t)(p - in) - d->hdr_len; /* the header's first byte */
            if (d->codec == IPC_LEN32) {
                if (d->hdr_len == 0 && end - p >= 4) { /* the common case: the whole header in hand */
                    d->value = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
                    d->hdr_len = 4;
                    p += 4;
                } else {
                    d->value = d->value << 8 | *p++;
                    if (++d->hdr_len < 4) continue;
                }
                if (d->value > IPC_LEN32_MAX) return *used = (size_t)(p - in), ipc__decoder_fail(d, IPC_EFRAME, start);
            } else {
                int rc = ipc__varint_step(&d->value, d->hdr_len++, *p++);
                if (rc < 0) return *used = (size_t)(p - in), ipc__decoder_fail(d, rc, start + d->hdr_len - 1);
                if (rc > 0) continue;
            }
            if (d->value > d->max_frame) return *used = (size_t)(p - in), ipc__decoder_fail(d, IPC_ETOOBIG, start);
            d->want = (size_t)d->value;
            d->have = 0;
            d->hdr_len = 0;
            d->value = 0;
            d->state = IPC__DEC_PAYLOAD;
        }
        if (d->have == 0 && (size_t)(end - p) >= d->want) { /* whole in the input: in place */
            *frame = p; /* never NULL, even for an empty frame at the input's end */
            p += d->want;
        } else { /* assembled in the buffer */
            size_t k = (size_t)(end - p) < d->want - d->have ? (size_t)(end - p) : d->want - d->have;
            int rc;
            if (k == 0) break; /* it may yet arrive whole: no buffer before then */
            /* Memory grows with the bytes that came, not with the length a
               header claims: a peer announcing 16 MiB and sending one byte
               gets a page, not 16 MiB. */
            if ((rc = ipc__decoder_reserve(d, d->have + k)) < 0)
                return *used = (size_t)(p - in), ipc__decoder_fail(d, rc, d->offset + (uint64_t)(p - in));
            memcpy(d->buf + d->have, p, k);
            d->have += k;
            p += k;
            if (d->have < d->want) break;
            *frame = d->buf;
        }
        *frame_len = ipc__decoder_frame_done(d);
        *used = (size_t)(p - in);
        return 1;
    }
    *used = (size_t)(p - in);
    return 0;
}

/* COBS: a code byte k announces k-1 data bytes, then an implied zero unless
   k is 0xFF or the block is the frame's last; 0x00 ends the frame. */
static int ipc__decode_cobs(ipc_decoder *d, const uint8_t *in, size_t n, size_t *used, const uint8_t **frame,
                            size_t *frame_len) {
    const uint8_t *p = in, *end = in + n;
    int rc;
    while (p < end) {
        uint64_t at = d->offset + (uint64_t)(p - in);
        if (d->state == IPC__DEC_SKIP) {
            const uint8_t *z = (const uint8_t *)memchr(p, 0, (size_t)(end - p));
            if (!z) {
                p = end;
                break;
            }
            p = z + 1;
            d->state = IPC__DEC_HEADER;
            continue;
        }
        if (*p == 0) { /* the delimiter */
            p++;
            *used = (size_t)(p - in);
            if (d->cobs_code == 0 || d->cobs_left > 0) /* a lone 00, or a block cut short */
                return ipc__decoder_skip(d, IPC_EFRAME, at, 1);
            *frame = d->buf ? d->buf : (const uint8_t *)"";
            *frame_len = d->have;
            d->have = 0;
            d->cobs_code = 0;
            return 1;
        }
        if (d->cobs_left == 0) { /* a code byte; the previous block's implied zero is due now */
            if (d->cobs_code != 0 && d->cobs_code < 0xFF) {
                if (d->have >= d->max_frame) return *used = (size_t)(p - in), ipc__decoder_skip(d, IPC_ETOOBIG, at, 0);
                if ((rc = ipc__decoder_reserve(d, d->have + 1)) < 0)
                    return *used = (size_t)(p - in), ipc__decoder_skip(d, rc, at, 0);
                d->buf[d->have++] = 0;
            }
            d->cobs_code = *p;
            d->cobs_left = (unsigned)*p - 1;
            p++;
            continue;
        } else { /* data: copy up to the block's end, the input's end or a zero */
            size_t k = (size_t)(end - p) < d->cobs_left ? (size_t)(end - p) : d->cobs_left;
            const uint8_t *z = (const uint8_t *)memchr(p, 0, k);
            if (z) k = (size_t)(z - p);
            if (k > d->max_frame - d->have) { /* blame the first byte past the limit, however split */
                p += d->max_frame - d->have;
                return *used = (size_t)(p - in), ipc__decoder_skip(d, IPC_ETOOBIG, at + (d->max_frame - d->have), 0);
            }
            if ((rc = ipc__decoder_reserve(d, d->have + k)) < 0)
                return *used = (size_t)(p - in), ipc__decoder_skip(d, rc, at, 0);
            memcpy(d->buf + d->have, p, k);
            d->have += k;
            d->cobs_left -= (unsigned)k;
            p += k;
        }
    }
    *used = (size_t)(p - in);
    return 0;
}

/* The hot path of LEN32 and VARINT: at a frame boundary, a good header and
   the whole frame at p[0..n). Returns the header's size, with the payload's
   in *len, or 0 for anything else -- errors included, which the byte loop
   reports, so results cannot depend on which path ran. */
IPC__HOT size_t ipc__whole_frame(const ipc_decoder *d, const uint8_t *p, size_t n, size_t *len) {
    uint64_t v;
    int h;
    if (d->codec == IPC_LEN32 && n >= 4)
        v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3], h = 4;
    else if (d->codec == IPC_VARINT && n >= 1 && p[0] < 0x80)
        v = p[0], h = 1;
    else if (d->codec == IPC_VARINT)
        h = ipc_varint_decode(p, n, &v);
    else
        return 0;
    if (h <= 0 || v > d->max_frame || v > IPC_LEN32_MAX /* else malformed LEN32 */ || v > n - (size_t)h) return 0;
    *len = (size_t)v;
    return (size_t)h;
}

/* The hot path of COBS: at a frame boundary, the whole frame up to its 00
   at p[0..n), decoded by blocks into the decoder's buffer. Its decoded size
   is below its encoded size, so it fits the limit when the encoded size
   does. Returns the bytes it used (delimiter included) with the payload's
   size in *len, or 0 for anything else: errors are the byte loop's. */
IPC__HOT size_t ipc__cobs_whole_frame(ipc_decoder *d, const uint8_t *p, size_t n, size_t *len) {
    const uint8_t *z = n ? (const uint8_t *)memchr(p, 0, n) : NULL;
    size_t enc = z ? (size_t)(z - p) : 0;
    ssize_t got;
    if (enc == 0 || enc - 1 > d->max_frame) return 0;
    if (enc - 1 > d->cap && ipc__decoder_reserve(d, enc - 1) < 0) return 0;
    if ((got = ipc__cobs_unstuff(d->buf, p, enc)) < 0) return 0;
    *len = (size_t)got;
    return enc + 1;
}

IPC_DEF IPC__UNUSED int ipc_decoder_feed(ipc_decoder *d, const void *in, size_t n, size_t *used,
                                         const uint8_t **frame, size_t *frame_len) {
    const uint8_t *p = (const uint8_t *)in;
    int rc;
    if (d->state == IPC__DEC_HEADER && d->hdr_len == 0 && d->cobs_code == 0) { /* the hot paths */
        size_t len, h;
        if (d->codec != IPC_COBS && (h = ipc__whole_frame(d, p, n, &len)) > 0) {
            *frame = p + h;
            *frame_len = len;
            *used = h + len;
            d->offset += *used;
            return 1;
        }
        if (d->codec == IPC_COBS && (h = ipc__cobs_whole_frame(d, p, n, &len)) > 0) {
            *frame = d->buf ? d->buf : (const uint8_t *)"";
            *frame_len = len;
            *used = h;
            d->offset += h;
            return 1;
        }
    }
    *used = 0;
    *frame = NULL;
    *frame_len = 0;
    if (d->state == IPC__DEC_FAILED) return d->error;
    if (d->codec == IPC_COBS)
        rc = ipc__decode_cobs(d, p, n, used, frame, frame_len);
    else
        rc = ipc__decode_prefixed(d, p, n, used, frame, frame_len);
    d->offset += *used;
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_decoder_feed_many(ipc_decoder *d, const void *in, size_t n, size_t *used, ipc_frame *frames,
                                              int max) {
    const uint8_t *p = (const uint8_t *)in, *end = p + n;
    size_t h, len;
    int k, rc;
    *used = 0;
    if (max <= 0) return 0;
    /* The first frame the general way: it may end a frame an earlier call
       began, or be an error. */
    rc = ipc_decoder_feed(d, p, n, used, &frames[0].data, &frames[0].len);
    if (rc <= 0) return rc;
    p += *used;
    /* Then every frame lying whole in the input, without a call each. */
    for (k = 1; k < max && (h = ipc__whole_frame(d, p, (size_t)(end - p), &len)) > 0; k++) {
        frames[k].data = p + h;
        frames[k].len = len;
        p += h + len;
    }
    d->offset += (uint64_t)(p - (const uint8_t *)in) - *used;
    *used = (size_t)(p - (const uint8_t *)in);
    return k;
}

/* ==== 2. robust I/O ======================================================= */

/* ipc_wait_fd that also hands back what poll saw. */
static int ipc__wait_fd(int fd, short events, int64_t deadline, short *revents) {
    for (;;) {
        struct pollfd p;
        int rc;
        p.fd = fd;
        p.events = events;
        p.revents = 0;
        rc = ipc__sys_poll(&p, 1, ipc_deadline_left_ms(deadline));
        *revents = p.revents;
        if (rc > 0) return (p.revents & POLLNVAL) ? -EBADF : 0; /* ERR/HUP: the next call says why */
        if (rc < 0 && errno != EINTR) return ipc__err();
        /* timeout or EINTR: restart with what is left, unless nothing is */
        if (deadline != IPC_DEADLINE_NEVER && (deadline == IPC_DEADLINE_TRY || ipc_now_ns() >= deadline))
            return ipc_deadline_error(deadline);
    }
}

IPC_DEF IPC__UNUSED int ipc_wait_fd(int fd, short events, int64_t deadline) {
    short revents;
    return ipc__wait_fd(fd, events, deadline, &revents);
}

/* After a read said EAGAIN: waits for input, or says the end has come --
   a socket shut down for reading with nothing queued (a datagram socket
   after SHUT_RD) keeps saying EAGAIN while poll says readable, and would
   spin. *shut carries what the last wait saw across calls (shutdown is
   never undone). Returns 0 to read again, IPC_EOF, or the wait's error. */
static int ipc__wait_readable(int fd, int64_t deadline, short *shut) {
    if (*shut & (POLLRDHUP | POLLHUP)) return IPC_EOF; /* shut then, and a read since found nothing */
    return ipc__wait_fd(fd, POLLIN | POLLRDHUP, deadline, shut);
}

IPC_DEF IPC__UNUSED int ipc_fd_set_nonblock(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return ipc__err();
    if (!!(fl & O_NONBLOCK) == !!on) return 0;
    if (fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) < 0) return ipc__err();
    return 0;
}

/* Drops n bytes from the front of *iov and *cnt, skipping emptied entries. */
static void ipc__iov_advance(struct iovec **iov, int *cnt, size_t n) {
    while (*cnt > 0 && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        ++*iov, --*cnt;
    }
    if (*cnt > 0) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
}

/* Keeps SIGPIPE from killing the process during a write to a non-socket
   without touching the process's dispositions: block it in this thread
   (pthread_sigmask), and if the write raised one, consume it with a zero
   sigtimedwait -- unless one was already pending before, which belongs to
   the application. */
typedef struct ipc__sigpipe_guard {
    sigset_t old;
    int active, was_pending;
} ipc__sigpipe_guard;

static void ipc__sigpipe_block(ipc__sigpipe_guard *g) {
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    g->active = pthread_sigmask(SIG_BLOCK, &set, &g->old) == 0;
    g->was_pending = 0;
    if (g->active && sigismember(&g->old, SIGPIPE)) /* already blocked: one may be pending */
        g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
}

static void ipc__sigpipe_unblock(ipc__sigpipe_guard *g, int got_epipe) {
    if (!g->active) return;
    if (got_epipe && !g->was_pending) {
        sigset_t set;
        struct timespec zero = {0, 0};
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
    g->active = 0;
}

/* What a loop knows of its descriptor: learnt on the first write unless
   the caller knew it (a sender knows its fd is non-blocking). */
enum { IPC__FD_UNKNOWN = -1, IPC__FD_OTHER = 0, IPC__FD_SOCKET = 1, IPC__FD_OTHER_NONBLOCK = 2 };

/* What ipc__iov_loop moves: all of iov out, all of iov in, or whatever one
   read brings (at least one byte). */
enum { IPC__WRITE_ALL, IPC__READ_ALL, IPC__READ_SOME };

/* A finite deadline on a blocking descriptor needs a poll before each call,
   or read/write would block past it. (fcntl fails only on a bad fd, and
   then the I/O call itself reports EBADF.) */
static int ipc__must_poll_first(int fd, int64_t deadline) {
    int fl;
    if (deadline == IPC_DEADLINE_NEVER) return 0;
    fl = fcntl(fd, F_GETFL);
    return fl >= 0 && !(fl & O_NONBLOCK);
}

/* Copies the front of iov, cut to at most PIPE_BUF bytes in all, into out:
   after POLLOUT a pipe takes PIPE_BUF bytes without blocking (pipe(7)), and
   a write that small stays atomic. */
static int ipc__iov_clip(struct iovec out[8], const struct iovec *iov, int cnt) {
    size_t room = PIPE_BUF;
    int i;
    for (i = 0; i < cnt && i < 8 && room > 0; i++) {
        out[i] = iov[i];
        if (out[i].iov_len > room) out[i].iov_len = room;
        room -= out[i].iov_len;
    }
    return i;
}

/* THE partial-I/O loop: every reader and writer in the library ends here.
   Moves iov (advanced in place) to or from fd as mode says: restarts EINTR,
   waits for readiness on EAGAIN until the deadline, counts progress in
   *done, never raises SIGPIPE. *kind caches whether fd is a socket (sendmsg
   with MSG_NOSIGNAL, and MSG_DONTWAIT under a deadline) or not (writev under
   a SIGPIPE guard). Returns 0 when done; IPC_EOF / IPC_ETRUNC for a read
   that met end of stream before / after its first byte; else a negative
   code (-EAGAIN only for IPC_DEADLINE_TRY). */
static int ipc__iov_loop(int fd, struct iovec *iov, int cnt, int mode, size_t *done, int64_t deadline,
                         int *kind) {
    ipc__sigpipe_guard guard;
    size_t moved = 0;
    int rc = 0, poll_first = -1, nowait = 1, is_write = mode == IPC__WRITE_ALL;
    short shut = 0;
    guard.active = 0;
    while (cnt > 0 && iov->iov_len == 0) iov++, cnt--;
    while (cnt > 0) {
        struct iovec clip[8], *v = iov;
        int c = cnt > IOV_MAX ? IOV_MAX : cnt;
        ssize_t n;
        if (is_write && *kind != IPC__FD_OTHER) {
            struct msghdr m;
            memset(&m, 0, sizeof m);
            m.msg_iov = iov;
            m.msg_iovlen = (size_t)c;
            n = ipc__sys_sendmsg(fd, &m, MSG_NOSIGNAL | (deadline == IPC_DEADLINE_NEVER ? 0 : MSG_DONTWAIT));
            if (n < 0 && errno == ENOTSOCK) {
                *kind = IPC__FD_OTHER;
                continue;
            }
            if (n >= 0 || errno != EINTR) *kind = IPC__FD_SOCKET;
        } else {
            if (poll_first < 0) poll_first = *kind != IPC__FD_OTHER_NONBLOCK && ipc__must_poll_first(fd, deadline);
            if (poll_first && is_write && nowait) {
                /* A blocking pipe under a deadline: RWF_NOWAIT makes this
                   one write non-blocking, EAGAIN then polls below. Polling
                   first would refuse room a small write has (POLLOUT wants
                   a free page) and promise room another writer may take
                   before us (the write would then block past the deadline).
                   A write of at most PIPE_BUF stays whole or nothing. */
                if (!guard.active) ipc__sigpipe_block(&guard);
                if ((n = ipc__sys_writev_nowait(fd, iov, c)) < 0 && errno == EOPNOTSUPP) {
                    nowait = 0; /* not this kind of file, or an old kernel: poll first */
                    continue;
                }
            } else {
                if (poll_first) {
                    if ((rc = ipc_wait_fd(fd, is_write ? POLLOUT : POLLIN, deadline)) < 0) break;
                    if (is_write) c = ipc__iov_clip(v = clip, iov, c);
                }
                if (is_write) {
                    if (!guard.active) ipc__sigpipe_block(&guard);
                    n = ipc__sys_writev(fd, v, c);
                } else {
                    n = ipc__sys_readv(fd, v, c);
                }
            }
        }
        if (n > 0) {
            moved += (size_t)n;
            if (mode == IPC__READ_SOME) break;
            ipc__iov_advance(&iov, &cnt, (size_t)n);
            continue;
        }
        if (n == 0) { /* zero from a read is end of stream; from a write, no room */
            if (!is_write) {
                rc = moved ? IPC_ETRUNC : IPC_EOF;
                break;
            }
            errno = EAGAIN;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            rc = is_write ? ipc_wait_fd(fd, POLLOUT, deadline) : ipc__wait_readable(fd, deadline, &shut);
            if (rc == IPC_EOF && moved) rc = IPC_ETRUNC;
            if (rc < 0) break;
            continue;
        }
        rc = ipc__err();
        break;
    }
    ipc__sigpipe_unblock(&guard, rc == -EPIPE);
    if (done) *done = moved;
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_writev_all(int fd, struct iovec *iov, int iovcnt, size_t *done, int timeout_ms) {
    int kind = IPC__FD_UNKNOWN;
    return ipc__iov_loop(fd, iov, iovcnt, IPC__WRITE_ALL, done, ipc_deadline(timeout_ms), &kind);
}

IPC_DEF IPC__UNUSED int ipc_write_all(int fd, const void *buf, size_t n, size_t *done, int timeout_ms) {
    struct iovec iov;
    iov.iov_base = (void *)(uintptr_t)buf; /* writev's iovec is not const */
    iov.iov_len = n;
    return ipc_writev_all(fd, &iov, 1, done, timeout_ms);
}

/* One read into buf, as ipc__iov_loop does it. */
static int ipc__read(int fd, void *buf, size_t n, int mode, size_t *done, int64_t deadline) {
    struct iovec iov;
    int kind = IPC__FD_OTHER;
    iov.iov_base = buf;
    iov.iov_len = n;
    return ipc__iov_loop(fd, &iov, 1, mode, done, deadline, &kind);
}

IPC_DEF IPC__UNUSED int ipc_read_full(int fd, void *buf, size_t n, size_t *done, int timeout_ms) {
    return ipc__read(fd, buf, n, IPC__READ_ALL, done, ipc_deadline(timeout_ms));
}

IPC_DEF IPC__UNUSED ssize_t ipc_read_some(int fd, void *buf, size_t n, int timeout_ms) {
    size_t got = 0;
    int rc = ipc__read(fd, buf, n, IPC__READ_SOME, &got, ipc_deadline(timeout_ms));
    return rc < 0 ? rc : (ssize_t)got;
}

/* COBS written as it is encoded, through a stack buffer that goes out
   whenever it has less than a block's room left. */
static int ipc__send_cobs(int fd, const uint8_t *p, size_t n, int64_t deadline, int *kind) {
    const uint8_t *end = n ? p + n : p;
    uint8_t out[4096];
    size_t o = 0;
    int last, rc;
    do {
        o += ipc__cobs_block(out + o, &p, end, &last);
        if (last) out[o++] = 0;
        if (last || sizeof out - o < 256) {
            struct iovec iov;
            iov.iov_base = out;
            iov.iov_len = o;
            if ((rc = ipc__iov_loop(fd, &iov, 1, IPC__WRITE_ALL, NULL, deadline, kind)) < 0) return rc;
            o = 0;
        }
    } while (!last);
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_send_frame(int fd, ipc_codec codec, const void *payload, size_t n, int timeout_ms) {
    int64_t deadline = ipc_deadline(timeout_ms);
    int kind = IPC__FD_UNKNOWN, h;
    uint8_t hdr[IPC_HEADER_MAX];
    struct iovec iov[2];
    if (codec == IPC_COBS) return ipc__send_cobs(fd, (const uint8_t *)payload, n, deadline, &kind);
    if ((h = ipc_frame_header(codec, hdr, n)) < 0) return h;
    iov[0].iov_base = hdr;
    iov[0].iov_len = (size_t)h;
    iov[1].iov_base = (void *)(uintptr_t)payload;
    iov[1].iov_len = n;
    return ipc__iov_loop(fd, iov, 2, IPC__WRITE_ALL, NULL, deadline, &kind);
}

IPC_DEF IPC__UNUSED ssize_t ipc_recv_frame(int fd, ipc_codec codec, void *buf, size_t cap, int timeout_ms) {
    int64_t deadline = ipc_deadline(timeout_ms);
    ipc_decoder d;
    uint8_t none;
    int rc;
    /* The caller's buffer is the limit; cap 0 still takes empty frames. */
    ipc_decoder_init(&d, codec, cap ? cap : 1, buf ? buf : &none, cap);
    /* Read only bytes that certainly belong to this frame: the LEN32 header
       whole, a varint or COBS byte at a time, then the payload exactly. */
    for (;;) {
        uint8_t hdr[4];
        size_t want = codec == IPC_LEN32 ? 4 : 1, used, frame_len;
        const uint8_t *frame;
        if (d.state == IPC__DEC_PAYLOAD) { /* straight into buf */
            rc = ipc__read(fd, buf, d.want, IPC__READ_ALL, NULL, deadline);
            return rc < 0 ? (rc == IPC_EOF ? IPC_ETRUNC : rc) : (ssize_t)d.want;
        }
        rc = ipc__read(fd, hdr, want, IPC__READ_ALL, NULL, deadline);
        if (rc == IPC_EOF && ipc_decoder_finish(&d) < 0) rc = IPC_ETRUNC;
        if (rc < 0) return rc;
        rc = ipc_decoder_feed(&d, hdr, want, &used, &frame, &frame_len);
        if (rc < 0 && d.state == IPC__DEC_SKIP) { /* COBS: read on to the next 00 so */
            for (;;) {                            /* the next call starts on a frame */
                if (ipc__read(fd, hdr, 1, IPC__READ_ALL, NULL, deadline) < 0 || hdr[0] == 0) return rc;
            }
        }
        if (rc < 0) return rc;
        if (rc == 1) return (ssize_t)frame_len; /* an empty frame, or COBS decoded into buf */
    }
}

IPC_DEF IPC__UNUSED int ipc_reader_init(ipc_reader *r, int fd, ipc_codec codec, size_t max_frame, size_t bufsize) {
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->cap = bufsize ? bufsize : 65536;
    if (!(r->buf = (uint8_t *)ipc__malloc(r->cap))) return -ENOMEM;
    ipc_decoder_init(&r->dec, codec, max_frame, NULL, 0);
    return 0;
}

IPC_DEF IPC__UNUSED ssize_t ipc_reader_next(ipc_reader *r, const uint8_t **frame, int timeout_ms) {
    int64_t deadline = ipc_deadline(timeout_ms);
    ipc_decoder *d = &r->dec;
    for (;;) {
        size_t used, len, got = 0;
        int rc;
        if (r->start < r->end) {
            rc = ipc_decoder_feed(d, r->buf + r->start, r->end - r->start, &used, frame, &len);
            r->start += used;
            if (rc == 1) return (ssize_t)len;
            if (rc < 0) return rc;
        }
        if (d->state == IPC__DEC_FAILED) return d->error;
        if (r->eof) return (rc = ipc_decoder_finish(d)) < 0 ? rc : IPC_EOF;
        r->start = r->end = 0; /* the decoder has taken everything */
        if (d->state == IPC__DEC_PAYLOAD && d->want - d->have >= r->cap / 2) {
            /* A long payload goes straight into the frame buffer, saving a
               copy through the read buffer. */
            size_t step = d->have > r->cap ? d->have : r->cap; /* grow with what came, as the decoder does */
            if ((rc = ipc__decoder_reserve(d, d->want - d->have <= step ? d->want : d->have + step)) < 0) return rc;
            rc = ipc__read(r->fd, d->buf + d->have, (d->cap < d->want ? d->cap : d->want) - d->have, IPC__READ_SOME,
                           &got, deadline);
            d->have += got;
            d->offset += got;
            if (rc == 0 && d->have == d->want) {
                *frame = d->buf;
                return (ssize_t)ipc__decoder_frame_done(d);
            }
        } else {
            rc = ipc__read(r->fd, r->buf, r->cap, IPC__READ_SOME, &got, deadline);
            r->end = got;
        }
        if (rc == IPC_EOF) r->eof = 1;
        else if (rc < 0) return rc;
    }
}

IPC_DEF IPC__UNUSED void ipc_reader_free(ipc_reader *r) {
    ipc_decoder_free(&r->dec);
    IPC_FREE(r->buf);
    r->buf = NULL;
}

IPC_DEF IPC__UNUSED int ipc_sender_init(ipc_sender *s, int fd, ipc_codec codec, size_t high_water) {
    struct stat st;
    IPC_ASSERT(codec == IPC_LEN32 || codec == IPC_VARINT || codec == IPC_COBS);
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->codec = codec;
    s->high_water = high_water ? high_water : (size_t)1 << 20;
    s->low_water = s->high_water / 2;
    if (fstat(fd, &st) < 0) return ipc__err();
    s->fd_kind = S_ISSOCK(st.st_mode) ? IPC__FD_SOCKET : IPC__FD_OTHER_NONBLOCK;
    return ipc_fd_set_nonblock(fd, 1);
}

IPC_DEF IPC__UNUSED size_t ipc_sender_pending(const ipc_sender *s) { return s->tail - s->head; }

/* Room for need more bytes at the queue's tail: slide the queued bytes to
   the front, then grow. */
static int ipc__sender_reserve(ipc_sender *s, size_t need) {
    size_t pending = s->tail - s->head, cap, limit;
    uint8_t *p;
    if (s->cap - s->tail >= need) return 0;
    if (s->head > 0) {
        memmove(s->buf, s->buf + s->head, pending);
        s->head = 0;
        s->tail = pending;
        if (s->cap - s->tail >= need) return 0;
    }
    /* Doubling amortises the copies, capped where the contract caps the
       queue: high_water plus the frame going in (a send finds at most
       high_water queued, or it would have been refused). */
    limit = ipc__add(ipc__add(s->high_water, need), pending > s->high_water ? pending - s->high_water : 0);
    cap = s->cap ? s->cap : 4096;
    while (cap - pending < need && cap < SIZE_MAX / 2) cap *= 2;
    if (cap > limit) cap = limit;
    if (cap - pending < need) return -ENOMEM;
    if (!(p = (uint8_t *)ipc__realloc(s->buf, cap))) return -ENOMEM;
    s->buf = p;
    s->cap = cap;
    return 0;
}

/* Writes what the fd takes now from iov; returns bytes written or an error
   (never -EAGAIN: not taking more is not a failure here). */
static ssize_t ipc__sender_write(ipc_sender *s, struct iovec *iov, int cnt) {
    size_t done = 0;
    int rc = ipc__iov_loop(s->fd, iov, cnt, IPC__WRITE_ALL, &done, IPC_DEADLINE_TRY, &s->fd_kind);
    s->bytes_out += done;
    if (rc < 0 && rc != -EAGAIN) return s->error = rc;
    return (ssize_t)done;
}

IPC_DEF IPC__UNUSED int ipc_sender_flush(ipc_sender *s, int timeout_ms) {
    int64_t deadline = ipc_deadline(timeout_ms);
    int rc = 0;
    while (s->error == 0 && s->tail > s->head) {
        struct iovec iov;
        ssize_t n;
        iov.iov_base = s->buf + s->head;
        iov.iov_len = s->tail - s->head;
        if ((n = ipc__sender_write(s, &iov, 1)) < 0) break;
        s->head += (size_t)n;
        if (s->tail > s->head && (rc = ipc_wait_fd(s->fd, POLLOUT, deadline)) < 0) break;
    }
    /* Whatever stopped the loop, what did go out counts for the low-water
       mark: a queue drained below it takes frames again. */
    if (s->head == s->tail) s->head = s->tail = 0;
    if (s->blocked && s->tail - s->head <= s->low_water) s->blocked = 0;
    return s->error ? s->error : rc;
}

IPC_DEF IPC__UNUSED int ipc_sender_send(ipc_sender *s, const void *payload, size_t n) {
    uint8_t hdr[IPC_HEADER_MAX];
    size_t bound, h, written = 0;
    int rc, was_empty = s->tail == s->head;
    if (s->error) return s->error;
    if (s->blocked) {
        ipc_sender_flush(s, 0);
        if (s->error) return s->error;
        if (s->blocked) return s->backpressure++, -EAGAIN;
        was_empty = s->tail == s->head;
    }
    bound = ipc_frame_bound(s->codec, n);
    if (bound == SIZE_MAX || (s->codec == IPC_LEN32 && n > IPC_LEN32_MAX)) return IPC_ETOOBIG;
    /* Room for the whole frame first, so -ENOMEM leaves nothing half-sent. */
    if ((rc = ipc__sender_reserve(s, bound)) < 0) return rc;
    if (s->codec == IPC_COBS) {
        s->tail += ipc_cobs_encode(s->buf + s->tail, (const uint8_t *)payload, n);
    } else {
        h = (size_t)ipc_frame_header(s->codec, hdr, n);
        if (was_empty) { /* straight from the caller's payload, no copy */
            struct iovec iov[2];
            ssize_t w;
            iov[0].iov_base = hdr;
            iov[0].iov_len = h;
            iov[1].iov_base = (void *)(uintptr_t)payload;
            iov[1].iov_len = n;
            if ((w = ipc__sender_write(s, iov, 2)) < 0) return (int)w;
            written = (size_t)w;
        }
        /* Queue what the fd did not take: the rest of the header, then the
           rest of the payload. */
        if (written < h) {
            memcpy(s->buf + s->tail, hdr + written, h - written);
            s->tail += h - written;
            written = h;
        }
        if (written - h < n) {
            memcpy(s->buf + s->tail, (const uint8_t *)payload + (written - h), n - (written - h));
            s->tail += n - (written - h);
        }
    }
    s->frames++;
    /* Behind queued bytes (or COBS, encoded into the queue): write what the
       fd takes now. A direct write above already met a full fd. */
    if ((!was_empty || s->codec == IPC_COBS) && (rc = ipc_sender_flush(s, 0)) < 0 && rc != -EAGAIN) return rc;
    if (s->head == s->tail) s->head = s->tail = 0;
    if (s->tail - s->head > s->peak) s->peak = s->tail - s->head;
    if (s->tail - s->head > s->high_water) s->blocked = 1;
    return 0;
}

IPC_DEF IPC__UNUSED void ipc_sender_free(ipc_sender *s) {
    IPC_FREE(s->buf);
    s->buf = NULL;
    s->cap = s->head = s->tail = 0;
}

/* ==== 3. mechanisms ======================================================= */

/* Reads one number from a file such as /proc/sys/kernel/msgmax. */
static int ipc__read_long(const char *path, long *out) {
    char buf[64];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
    if (fd < 0) return ipc__err();
    n = read(fd, buf, sizeof buf - 1);
    rc = n < 0 ? ipc__err() : 0;
    close(fd);
    if (rc < 0) return rc;
    buf[n > 0 ? n : 0] = 0;
    if (n <= 0 || buf[0] < '0' || buf[0] > '9') return -EINVAL;
    *out = strtol(buf, NULL, 10);
    return 0;
}

/* The sleep between two IPC_NOWAIT attempts under a finite deadline: grows
   from 0.1 ms to 4 ms, never past the deadline. Returns 0, or the expired
   deadline's error. */
static int ipc__backoff(int64_t deadline, long *sleep_ns) {
    int64_t left = deadline - ipc_now_ns();
    struct timespec ts;
    if (deadline == IPC_DEADLINE_TRY || left <= 0) return ipc_deadline_error(deadline);
    *sleep_ns = *sleep_ns ? (*sleep_ns * 2 > 4000000 ? 4000000 : *sleep_ns * 2) : 100000;
    if (deadline != IPC_DEADLINE_NEVER && left < *sleep_ns) *sleep_ns = (long)left;
    ts.tv_sec = 0;
    ts.tv_nsec = *sleep_ns;
    nanosleep(&ts, NULL); /* EINTR just makes the next attempt come early */
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_fd_queued(int fd) {
    int n, type;
    socklen_t len = sizeof type;
    ssize_t r;
    if (ioctl(fd, FIONREAD, &n) < 0) return ipc__err();
    /* A seqpacket socket answers the sum of every queued message (datagram
       sockets the next one's size); ask it for the next one's real length
       instead (MSG_TRUNC). With no control buffer a peek installs no
       descriptors. n == 0 needs no second look: the next is empty or none. */
    if (n > 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_SEQPACKET) {
        while ((r = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT)) < 0 && errno == EINTR) {
        }
        if (r < 0) return errno == EAGAIN ? 0 : ipc__err();
        n = r > INT_MAX ? INT_MAX : (int)r;
    }
    return n;
}

/* An existing object (queue, FIFO, shm) must be ours and no more open than
   the mode asked: one planted under the name by another user is refused. */
static int ipc__is_ours(const struct stat *st, unsigned mode) {
    return st->st_uid == geteuid() && !(st->st_mode & 0777 & ~mode);
}

/* Removes path if it is still the object *made (of the same type, device
   and inode): a call that fails leaves nothing it made behind, and never
   removes what someone put in its place since. */
static void ipc__unlink_same(const char *path, const struct stat *made) {
    struct stat st;
    if (lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == (made->st_mode & S_IFMT) && st.st_dev == made->st_dev &&
        st.st_ino == made->st_ino)
        unlink(path);
}

/* ==== 3a. pipes =========================================================== */

IPC_DEF IPC__UNUSED int ipc_pipe(int fds[2], int flags) {
    if (flags & ~IPC_O_NONBLOCK) return -EINVAL;
    return pipe2(fds, O_CLOEXEC | (flags & IPC_O_NONBLOCK ? O_NONBLOCK : 0)) < 0 ? ipc__err() : 0;
}

IPC_DEF IPC__UNUSED int ipc_pipe_size(int fd) {
    int n = fcntl(fd, F_GETPIPE_SZ);
    return n < 0 ? ipc__err() : n;
}

IPC_DEF IPC__UNUSED int ipc_pipe_set_size(int fd, size_t bytes) {
    int n;
    if (bytes == 0 || bytes > INT_MAX) return -EINVAL;
    n = fcntl(fd, F_SETPIPE_SZ, (int)bytes); /* the kernel rounds up and answers what it chose */
    return n < 0 ? ipc__err() : n;
}

/* The stack buffer of ipc_pipe_send_frame: the largest frame a payload of
   PIPE_BUF bytes may encode to (COBS's bound is the largest of the three),
   so encoding never fails for room; whether the frame fits PIPE_BUF is
   decided on its real length. */
#define IPC__PIPE_FRAME_ROOM (PIPE_BUF + PIPE_BUF / 254 + 2)

IPC_DEF IPC__UNUSED int ipc_pipe_send_frame(int fd, ipc_codec codec, const void *payload, size_t n, int timeout_ms) {
    uint8_t frame[IPC__PIPE_FRAME_ROOM];
    struct iovec iov;
    ssize_t len;
    int kind = IPC__FD_UNKNOWN;
    if (codec != IPC_LEN32 && codec != IPC_VARINT && codec != IPC_COBS) return -EINVAL;
    if (n > PIPE_BUF) return -EMSGSIZE; /* every codec adds at least a byte */
    if ((len = ipc_frame_encode(codec, frame, sizeof frame, payload, n)) < 0) return (int)len;
    if (len > PIPE_BUF) return -EMSGSIZE;
    /* One write of at most PIPE_BUF bytes to a pipe is atomic: the loop sees
       it go whole, or EAGAIN and nothing, never part of it. */
    iov.iov_base = frame;
    iov.iov_len = (size_t)len;
    return ipc__iov_loop(fd, &iov, 1, IPC__WRITE_ALL, NULL, ipc_deadline(timeout_ms), &kind);
}

/* ==== 3b. FIFOs =========================================================== */

/* Opens path without following a symlink and without waiting in open(2)
   (O_NONBLOCK), and checks that what opened is the FIFO lstat saw (*seen):
   a swap between the two is -EEXIST. *st gets its fstat. Returns the fd,
   or -ENXIO (a writer and no reader), -EEXIST, -errno. */
static int ipc__fifo_open_seen(const char *path, int acc, const struct stat *seen, struct stat *st) {
    int fd, rc;
    do fd = open(path, acc | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return errno == ELOOP ? -EEXIST : ipc__err(); /* ELOOP: O_NOFOLLOW met a symlink */
    if (fstat(fd, st) < 0)
        rc = ipc__err();
    else if (!S_ISFIFO(st->st_mode) || st->st_dev != seen->st_dev || st->st_ino != seen->st_ino)
        rc = -EEXIST;
    else
        return fd;
    close(fd);
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_fifo_open(const char *path, int flags, unsigned mode, int timeout_ms) {
    int64_t deadline = ipc_deadline(timeout_ms);
    unsigned m = (mode ? mode : IPC_MODE_DEFAULT) & 0777;
    int acc, fd, rc, created = 0, tries = 0;
    long sleep_ns = 0;
    struct stat seen, st;
    if (!path || !*path || (flags & ~(IPC_O_CREATE | IPC_O_EXCL | IPC_O_RDONLY | IPC_O_WRONLY | IPC_O_NONBLOCK)) ||
        ((flags & IPC_O_RDONLY) && (flags & IPC_O_WRONLY)))
        return -EINVAL;
    acc = flags & IPC_O_RDONLY ? O_RDONLY : flags & IPC_O_WRONLY ? O_WRONLY : O_RDWR;
    /* Create exclusively first: then we know whether the FIFO is this
       call's. mkfifo never follows a symlink at path (EEXIST). */
    for (;;) {
        if (flags & IPC_O_CREATE) {
            if (mkfifo(path, (mode_t)m) == 0)
                created = 1;
            else if (errno != EEXIST || (flags & IPC_O_EXCL))
                return ipc__err();
        }
        if (lstat(path, &seen) == 0) break;
        /* removed between mkfifo's EEXIST and lstat: make it after all */
        if (errno != ENOENT || created || !(flags & IPC_O_CREATE) || ++tries > 3) return ipc__err();
    }
    /* Checked before opening, so another's FIFO never sees us open it; and
       returned before `fail`, so what replaced a FIFO we made stays. */
    if (!S_ISFIFO(seen.st_mode)) return -EEXIST;
    if (!ipc__is_ours(&seen, m)) return -EACCES; /* ours: mkfifo's mode is within m */
    /* mkfifo applied the umask: a FIFO this call made gets exactly mode,
       through a descriptor (never chmod by path). A read end opens at once
       whoever asks, so a writer borrows one for the instant of fchmod. */
    if (created && (seen.st_mode & 0777) != m) {
        if ((fd = ipc__fifo_open_seen(path, O_RDONLY, &seen, &st)) < 0) {
            rc = fd;
            goto fail;
        }
        rc = fchmod(fd, (mode_t)m) < 0 ? ipc__err() : 0;
        close(fd);
        if (rc < 0) goto fail;
    }
    /* A writer with no reader gets ENXIO from a non-blocking open: there is
       nothing to poll for a reader's arrival, so try again with backoff. */
    while ((fd = ipc__fifo_open_seen(path, acc, &seen, &st)) == -ENXIO) {
        if (deadline == IPC_DEADLINE_TRY) break;
        if ((rc = ipc__backoff(deadline, &sleep_ns)) < 0) {
            fd = rc;
            break;
        }
    }
    if ((rc = fd) < 0) goto fail;
    if (!ipc__is_ours(&st, m)) /* again on the descriptor: the mode may have changed since lstat */
        rc = -EACCES;
    else if ((flags & IPC_O_NONBLOCK) || (rc = ipc_fd_set_nonblock(fd, 0)) == 0)
        return fd;
    close(fd);
fail:
    if (created) ipc__unlink_same(path, &seen);
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_fifo_remove(const char *path) {
    struct stat st;
    if (!path || !*path) return -EINVAL;
    if (lstat(path, &st) < 0) return ipc__err();
    if (!S_ISFIFO(st.st_mode)) return -EINVAL;
    return unlink(path) < 0 ? ipc__err() : 0;
}

/* ==== 3c. System V message queues ========================================= */

/* msgsnd/msgrcv want the type right before the payload: a message is
   assembled here, on the stack up to 8 KiB (kernel.msgmax's default). */
typedef union ipc__sysv_buf {
    long type;
    char raw[sizeof(long) + 8192];
} ipc__sysv_buf;

IPC_DEF IPC__UNUSED int ipc_sysv_key(const char *path, int proj_id, key_t *key) {
    key_t k;
    if (!path || proj_id < 1 || proj_id > 255) return -EINVAL; /* ftok uses the low 8 bits only */
    if ((k = ftok(path, proj_id)) == (key_t)-1) return ipc__err();
    *key = k;
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_sysv_open(key_t key, int flags, unsigned mode) {
    unsigned m = (mode ? mode : IPC_MODE_DEFAULT) & 0777;
    struct msqid_ds ds;
    int id;
    /* Create exclusively first: then we know whether the queue is ours. */
    if (flags & IPC_O_CREATE) {
        if ((id = msgget(key, (int)m | IPC_CREAT | IPC_EXCL)) >= 0) return id;
        if (errno != EEXIST || (flags & IPC_O_EXCL)) return errno == ENOSPC ? IPC_EMSGMNI : ipc__err();
    }
    if ((id = msgget(key, 0)) < 0) return ipc__err();
    /* An existing queue must be ours (we own or created it) and no more open
       than asked: one planted under a guessable key by another user is
       refused, as ipc_mq_open refuses a planted name. */
    if (msgctl(id, IPC_STAT, &ds) < 0) return ipc__err();
    if ((ds.msg_perm.uid != geteuid() && ds.msg_perm.cuid != geteuid()) || (ds.msg_perm.mode & 0777 & ~m))
        return -EACCES;
    return id;
}

/* Turns msgsnd's EINVAL for a long message into the limit's own code. */
static int ipc__sysv_send_error(size_t n) {
    long msgmax;
    int rc = ipc__err();
    if (rc == -EINVAL && ipc__read_long("/proc/sys/kernel/msgmax", &msgmax) == 0 && (long)n > msgmax)
        return IPC_EMSGMAX;
    return rc;
}

/* One loop for both directions: -1 blocks in the call (restarting EINTR),
   0 is IPC_NOWAIT, a finite deadline polls with ipc__backoff. A queue that
   answered "full"/"empty" and then "no such queue" was removed under us:
   -EIDRM, as a blocked caller would have been told. */
static ssize_t ipc__sysv_op(int is_send, int qid, void *msg, size_t n, long select, int flags, int64_t deadline) {
    long sleep_ns = 0;
    int seen = 0;
    if (deadline != IPC_DEADLINE_NEVER) flags |= IPC_NOWAIT;
    for (;;) {
        ssize_t r = is_send ? (ssize_t)msgsnd(qid, msg, n, flags) : msgrcv(qid, msg, n, select, flags);
        int rc;
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        if (errno == (is_send ? EAGAIN : ENOMSG) && (flags & IPC_NOWAIT) && !(flags & IPC__MSG_COPY)) {
            seen = 1;
            if ((rc = ipc__backoff(deadline, &sleep_ns)) < 0) return rc;
            continue;
        }
        if (errno == EINVAL && seen) return -EIDRM;
        if (errno == ENOMSG && (flags & IPC__MSG_COPY)) return -ENOMSG;
        return is_send ? ipc__sysv_send_error(n) : ipc__err();
    }
}

IPC_DEF IPC__UNUSED int ipc_sysv_send(int qid, long type, const void *data, size_t n, int timeout_ms) {
    ipc__sysv_buf stack;
    char *msg = stack.raw;
    ssize_t rc;
    long msgmax;
    if (type < 1) return -EINVAL;
    if (n > sizeof stack.raw - sizeof(long)) { /* over 8 KiB: allowed at all? then allocate */
        if (ipc__read_long("/proc/sys/kernel/msgmax", &msgmax) == 0 && n > (size_t)msgmax) return IPC_EMSGMAX;
        if (!(msg = (char *)ipc__malloc(ipc__add(n, sizeof(long))))) return -ENOMEM;
    }
    memcpy(msg, &type, sizeof type);
    if (n) memcpy(msg + sizeof(long), data, n);
    rc = ipc__sysv_op(1, qid, msg, n, 0, 0, ipc_deadline(timeout_ms));
    if (msg != stack.raw) IPC_FREE(msg);
    return (int)rc;
}

/* msgrcv into a buffer of type + cap bytes, then the payload out to buf. */
static ssize_t ipc__sysv_recv(int qid, long select, int flags, long *type, void *buf, size_t cap, int64_t deadline) {
    ipc__sysv_buf stack;
    char *msg = stack.raw;
    ssize_t n;
    long msgmax;
    /* No message is longer than kernel.msgmax: a bigger buffer needs no
       bigger allocation. */
    if (cap > sizeof stack.raw - sizeof(long) && ipc__read_long("/proc/sys/kernel/msgmax", &msgmax) == 0 &&
        cap > (size_t)msgmax)
        cap = msgmax > (long)(sizeof stack.raw - sizeof(long)) ? (size_t)msgmax : sizeof stack.raw - sizeof(long);
    if (cap > sizeof stack.raw - sizeof(long) && !(msg = (char *)ipc__malloc(ipc__add(cap, sizeof(long)))))
        return -ENOMEM;
    n = ipc__sysv_op(0, qid, msg, cap, select, flags, deadline);
    if (n >= 0) {
        if (type) memcpy(type, msg, sizeof *type);
        if (n) memcpy(buf, msg + sizeof(long), (size_t)n);
    }
    if (msg != stack.raw) IPC_FREE(msg);
    return n;
}

IPC_DEF IPC__UNUSED ssize_t ipc_sysv_recv(int qid, long select, int flags, long *type, void *buf, size_t cap,
                                          int timeout_ms) {
    int f = 0;
    if (flags & IPC_SYSV_EXCEPT) {
        if (select <= 0) return -EINVAL; /* MSG_EXCEPT needs a type to except */
        f |= MSG_EXCEPT;
    }
    if (flags & IPC_SYSV_TRUNCATE) f |= MSG_NOERROR;
    return ipc__sysv_recv(qid, select, f, type, buf, cap, ipc_deadline(timeout_ms));
}

IPC_DEF IPC__UNUSED ssize_t ipc_sysv_peek(int qid, long index, long *type, void *buf, size_t cap) {
    ssize_t n;
    if (index < 0) return -EINVAL;
    n = ipc__sysv_recv(qid, index, IPC__MSG_COPY | IPC_NOWAIT, type, buf, cap, IPC_DEADLINE_TRY);
    /* Without CONFIG_CHECKPOINT_RESTORE, msgrcv refuses MSG_COPY with ENOSYS. */
    return n;
}

IPC_DEF IPC__UNUSED int ipc_sysv_stat(int qid, ipc_sysv_info *info) {
    struct msqid_ds ds;
    if (msgctl(qid, IPC_STAT, &ds) < 0) return ipc__err();
    memset(info, 0, sizeof *info);
    info->messages = (size_t)ds.msg_qnum;
    info->bytes = (size_t)ds.__msg_cbytes;
    info->max_bytes = (size_t)ds.msg_qbytes;
    info->last_send_pid = ds.msg_lspid;
    info->last_recv_pid = ds.msg_lrpid;
    info->uid = ds.msg_perm.uid;
    info->gid = ds.msg_perm.gid;
    info->mode = ds.msg_perm.mode & 0777;
    info->send_time = (int64_t)ds.msg_stime;
    info->recv_time = (int64_t)ds.msg_rtime;
    info->change_time = (int64_t)ds.msg_ctime;
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_sysv_set_max_bytes(int qid, size_t bytes) {
    struct msqid_ds ds;
    if (msgctl(qid, IPC_STAT, &ds) < 0) return ipc__err();
    ds.msg_qbytes = (msglen_t)bytes;
    if ((size_t)ds.msg_qbytes != bytes) return -EINVAL;
    return msgctl(qid, IPC_SET, &ds) < 0 ? ipc__err() : 0;
}

IPC_DEF IPC__UNUSED int ipc_sysv_remove(int qid) { return msgctl(qid, IPC_RMID, NULL) < 0 ? ipc__err() : 0; }

/* ==== 3d. POSIX message queues ============================================ */

IPC_DEF IPC__UNUSED int ipc_mq_name_check(const char *name) {
    size_t len;
    if (!name || name[0] != '/' || name[1] == 0 || strchr(name + 1, '/')) return -EINVAL;
    len = strlen(name + 1);
    if (len > NAME_MAX) return -ENAMETOOLONG; /* a file name's limit: NAME_MAX, the NUL not counted */
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_mq_limits_read(ipc_mq_limits *lim) {
    static const char *const dir = "/proc/sys/fs/mqueue/";
    static const char *const names[5] = {"msg_max", "msgsize_max", "queues_max", "msg_default", "msgsize_default"};
    long *fields[5];
    int i, rc;
    fields[0] = &lim->msg_max, fields[1] = &lim->msgsize_max, fields[2] = &lim->queues_max;
    fields[3] = &lim->msg_default, fields[4] = &lim->msgsize_default;
    for (i = 0; i < 5; i++) {
        char path[64];
        strcpy(path, dir);
        strcat(path, names[i]);
        if ((rc = ipc__read_long(path, fields[i])) < 0) return rc;
    }
    return 0;
}

/* mq_open's EINVAL and ENOSPC, told apart by the limit that was hit. */
static int ipc__mq_open_error(int rc, const struct mq_attr *attr) {
    ipc_mq_limits lim;
    if ((rc != -EINVAL && rc != -ENOSPC) || ipc_mq_limits_read(&lim) < 0) return rc;
    if (rc == -ENOSPC) return IPC_EMQQUEUESMAX;
    if (attr && attr->mq_maxmsg > lim.msg_max) return IPC_EMQMSGMAX;
    if (attr && attr->mq_msgsize > lim.msgsize_max) return IPC_EMQSIZEMAX;
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_mq_open(ipc_mq *q, const char *name, int flags, unsigned mode, long maxmsg,
                                    long msgsize) {
    struct mq_attr attr, *ap = NULL;
    struct stat st;
    unsigned m = (mode ? mode : IPC_MODE_DEFAULT) & 0777;
    int of = O_CLOEXEC, rc, created = 0;
    mqd_t d;
    memset(q, 0, sizeof *q);
    q->fd = -1;
    if ((rc = ipc_mq_name_check(name)) < 0) return rc;
    if (maxmsg < 0 || msgsize < 0 || (flags & IPC_O_RDONLY && flags & IPC_O_WRONLY)) return -EINVAL;
    of |= flags & IPC_O_RDONLY ? O_RDONLY : flags & IPC_O_WRONLY ? O_WRONLY : O_RDWR;
    if (flags & IPC_O_NONBLOCK) of |= O_NONBLOCK;
    if (maxmsg || msgsize) { /* one given: the other from the system default */
        ipc_mq_limits lim;
        if ((rc = ipc_mq_limits_read(&lim)) < 0) return rc;
        memset(&attr, 0, sizeof attr);
        attr.mq_maxmsg = maxmsg ? maxmsg : lim.msg_default;
        attr.mq_msgsize = msgsize ? msgsize : lim.msgsize_default;
        ap = &attr;
    }
    /* Create exclusively first: then we know whether this call made the
       queue, and only such a queue gets its mode set. */
    for (;;) {
        if (flags & IPC_O_CREATE) {
            if ((d = mq_open(name, of | O_CREAT | O_EXCL, (mode_t)m, ap)) != (mqd_t)-1) {
                created = 1;
                break;
            }
            if (errno != EEXIST || (flags & IPC_O_EXCL)) return ipc__mq_open_error(ipc__err(), ap);
        }
        if ((d = mq_open(name, of)) != (mqd_t)-1) break;
        if (errno != ENOENT || !(flags & IPC_O_CREATE)) return ipc__err();
        /* unlinked between the two calls: create it after all */
    }
    q->fd = (int)d;
    /* Whoever made it, it must be ours and no more open than asked: a queue
       planted under this name by another user is refused. A queue this call
       made gets the exact mode (mq_open applied the umask). */
    if (fstat(q->fd, &st) < 0) {
        rc = ipc__err();
    } else if (!ipc__is_ours(&st, m)) {
        rc = -EACCES;
    } else if (created && (st.st_mode & 0777) != m && fchmod(q->fd, (mode_t)m) < 0) {
        rc = ipc__err();
    } else {
        ipc_mq_info info;
        if ((rc = ipc_mq_stat(q, &info)) == 0) {
            q->maxmsg = info.maxmsg;
            q->msgsize = info.msgsize;
            return 0;
        }
    }
    mq_close(d);
    q->fd = -1;
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_mq_close(ipc_mq *q) {
    int rc = 0;
    if (q->fd >= 0 && mq_close((mqd_t)q->fd) < 0) rc = ipc__err();
    q->fd = -1;
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_mq_unlink(const char *name) {
    int rc = ipc_mq_name_check(name);
    if (rc < 0) return rc;
    return mq_unlink(name) < 0 ? ipc__err() : 0;
}

/* An absolute CLOCK_REALTIME time for what is left of a monotonic deadline,
   as mq_timed* want it; the epoch (long past) for a try. */
static struct timespec ipc__realtime_at(int64_t deadline) {
    struct timespec ts = {0, 0};
    if (deadline != IPC_DEADLINE_TRY && deadline != IPC_DEADLINE_NEVER) { /* NEVER: mq_send, no time */
        int64_t left = deadline - ipc_now_ns(), at;
        clock_gettime(CLOCK_REALTIME, &ts);
        at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + (left > 0 ? left : 0);
        ts.tv_sec = (time_t)(at / 1000000000);
        ts.tv_nsec = (long)(at % 1000000000);
    }
    return ts;
}

/* One loop for both directions. mq_timed*'s ETIMEDOUT is trusted only once
   the monotonic deadline agrees (the realtime clock may have been stepped);
   a non-blocking descriptor's EAGAIN waits in poll, which Linux allows on
   a queue descriptor. */
static ssize_t ipc__mq_op(ipc_mq *q, int is_send, void *buf, size_t n, unsigned *prio, int64_t deadline) {
    for (;;) {
        struct timespec at = ipc__realtime_at(deadline);
        ssize_t r;
        int rc;
        if (is_send)
            r = deadline == IPC_DEADLINE_NEVER ? mq_send((mqd_t)q->fd, (const char *)buf, n, *prio)
                                               : mq_timedsend((mqd_t)q->fd, (const char *)buf, n, *prio, &at);
        else
            r = deadline == IPC_DEADLINE_NEVER ? mq_receive((mqd_t)q->fd, (char *)buf, n, prio)
                                               : mq_timedreceive((mqd_t)q->fd, (char *)buf, n, prio, &at);
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        if (errno == ETIMEDOUT) {
            if (deadline == IPC_DEADLINE_TRY || ipc_now_ns() >= deadline) return ipc_deadline_error(deadline);
            continue;
        }
        if (errno == EAGAIN) {
            if ((rc = ipc_wait_fd(q->fd, is_send ? POLLOUT : POLLIN, deadline)) < 0) return rc;
            continue;
        }
        return ipc__err();
    }
}

IPC_DEF IPC__UNUSED int ipc_mq_send(ipc_mq *q, const void *data, size_t n, unsigned prio, int timeout_ms) {
    if (n > (size_t)q->msgsize) return -EMSGSIZE; /* what the kernel says too, without a system call */
    if (!data) data = ""; /* an empty message needs no buffer, but mq_send's is declared nonnull */
    return (int)ipc__mq_op(q, 1, (void *)(uintptr_t)data, n, &prio, ipc_deadline(timeout_ms));
}

IPC_DEF IPC__UNUSED ssize_t ipc_mq_recv(ipc_mq *q, void *buf, size_t cap, unsigned *prio, int timeout_ms) {
    unsigned p = 0;
    ssize_t n;
    if (cap < (size_t)q->msgsize) return -EMSGSIZE;
    n = ipc__mq_op(q, 0, buf, cap, &p, ipc_deadline(timeout_ms));
    if (n >= 0 && prio) *prio = p;
    return n;
}

IPC_DEF IPC__UNUSED int ipc_mq_stat(const ipc_mq *q, ipc_mq_info *info) {
    struct mq_attr a;
    if (mq_getattr((mqd_t)q->fd, &a) < 0) return ipc__err();
    info->maxmsg = a.mq_maxmsg;
    info->msgsize = a.mq_msgsize;
    info->curmsgs = a.mq_curmsgs;
    info->nonblock = (a.mq_flags & O_NONBLOCK) != 0;
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_mq_set_nonblock(ipc_mq *q, int on) {
    struct mq_attr a;
    memset(&a, 0, sizeof a);
    a.mq_flags = on ? O_NONBLOCK : 0; /* mq_setattr changes mq_flags only */
    return mq_setattr((mqd_t)q->fd, &a, NULL) < 0 ? ipc__err() : 0;
}

IPC_DEF IPC__UNUSED int ipc_mq_notify_signal(ipc_mq *q, int signo, void *arg) {
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = signo;
    ev.sigev_value.sival_ptr = arg;
    return mq_notify((mqd_t)q->fd, &ev) < 0 ? ipc__err() : 0;
}

/* SIGEV_THREAD calls fn(union sigval): this trampoline turns it into the
   plain fn(arg) the handle holds. */
static void ipc__mq_notify_trampoline(union sigval v) {
    ipc_mq *q = (ipc_mq *)v.sival_ptr;
    q->notify_fn(q->notify_arg);
}

IPC_DEF IPC__UNUSED int ipc_mq_notify_thread(ipc_mq *q, void (*fn)(void *arg), void *arg) {
    struct sigevent ev;
    IPC_ASSERT(fn != NULL);
    q->notify_fn = fn;
    q->notify_arg = arg;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = ipc__mq_notify_trampoline;
    ev.sigev_value.sival_ptr = q;
    return mq_notify((mqd_t)q->fd, &ev) < 0 ? ipc__err() : 0;
}

IPC_DEF IPC__UNUSED int ipc_mq_notify_cancel(ipc_mq *q) {
    return mq_notify((mqd_t)q->fd, NULL) < 0 ? ipc__err() : 0;
}

/* ==== 3e. Unix domain sockets ============================================= */

#ifdef SCM_PIDFD
#define IPC__SCM_PIDFD SCM_PIDFD
#else
#define IPC__SCM_PIDFD 4 /* Linux 6.5: a pidfd with each message under SO_PASSPIDFD */
#endif

/* The control buffer of one receive: credentials, IPC_UNIX_MAX_FDS
   descriptors, and a pidfd should the caller have turned SO_PASSPIDFD on.
   More descriptors than that set MSG_CTRUNC: the kernel closes those that
   did not fit, ipc_unix_take_cmsg the others. */
#define IPC__UNIX_CMSG_ROOM \
    (CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * IPC_UNIX_MAX_FDS) + CMSG_SPACE(sizeof(int)))

static int ipc__unix_type_ok(int type) { return type == SOCK_STREAM || type == SOCK_DGRAM || type == SOCK_SEQPACKET; }

/* SO_TYPE: SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, or -errno. */
static int ipc__sock_type(int fd) {
    int type;
    socklen_t len = sizeof type;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ? ipc__err() : type;
}

/* Binds fd to an automatic abstract name: an address of the family alone
   (unix(7), "autobind"). */
static int ipc__unix_autobind(int fd) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    return bind(fd, (const struct sockaddr *)&sa, sizeof(sa_family_t)) < 0 ? ipc__err() : 0;
}

IPC_DEF IPC__UNUSED int ipc_unix_addr_set(ipc_unix_addr *a, const char *name) {
    int abstract;
    size_t n;
    if (!name || !*name || (name[0] == '@' && !name[1])) return -EINVAL;
    abstract = name[0] == '@';
    n = strlen(name + abstract);
    if (n > sizeof a->sa.sun_path - 1) return -ENAMETOOLONG; /* room for the path's NUL, or the abstract 0 */
    memset(a, 0, sizeof *a);
    a->sa.sun_family = AF_UNIX;
    memcpy(a->sa.sun_path + abstract, name + abstract, n);
    /* A path counts its NUL, an abstract name its leading 0 and no NUL:
       the kernel takes every byte of an abstract name as part of it. */
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_unix_addr_format(const ipc_unix_addr *a, char *out, size_t cap) {
    size_t base = offsetof(struct sockaddr_un, sun_path), len = a->len, n = 0, i;
    const char *src = a->sa.sun_path;
    int abstract = 0;
    if (len > sizeof a->sa) len = sizeof a->sa;
    if (len > base && src[0] == 0) { /* abstract: every byte after the 0 */
        abstract = 1;
        src++;
        n = len - base - 1;
    } else if (len > base) { /* a path, with or without its NUL counted */
        n = strnlen(src, len - base);
    } /* else unnamed: "" */
    if (cap < n + (size_t)abstract + 1) return -ENAMETOOLONG;
    if (abstract) *out++ = '@';
    for (i = 0; i < n; i++) out[i] = abstract && (unsigned char)src[i] < 0x20 ? '?' : src[i];
    out[n] = 0;
    return (int)n + abstract;
}

/* bind(2) with the socket file's mode exactly m. A socket file is made
   with 0777 less the umask, and no descriptor reaches it for fchmod, so the
   umask is 0777 & ~m for the instant of the call. An abstract name has no
   mode. */
static int ipc__unix_bind(int fd, const ipc_unix_addr *a, unsigned m) {
    mode_t old;
    int rc;
    if (a->sa.sun_path[0] == 0) return bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0 ? ipc__err() : 0;
    old = umask((mode_t)(0777 & ~m));
    rc = bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0 ? ipc__err() : 0;
    umask(old);
    return rc;
}

/* bind said EADDRINUSE for a path. Returns 0 when it is free again (a
   stale socket of ours removed, or gone meanwhile): bind again. Else
   -EEXIST (not a socket), -EADDRINUSE (live, or another user's), -errno. */
static int ipc__unix_stale(const ipc_unix_addr *a, int type) {
    const char *path = a->sa.sun_path;
    struct stat st, again;
    int probe, rc;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : ipc__err();
    if (!S_ISSOCK(st.st_mode)) return -EEXIST;
    if (st.st_uid != geteuid()) return -EADDRINUSE;
    /* Only ECONNREFUSED proves nobody listens: accepted (0), backlog full
       (EAGAIN), another type (EPROTOTYPE) or no permission all mean it is
       not ours to take. */
    if ((probe = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) return ipc__err();
    rc = connect(probe, (const struct sockaddr *)&a->sa, a->len) < 0 ? ipc__err() : 0;
    close(probe);
    if (rc == -ENOENT) return 0;
    if (rc != -ECONNREFUSED) return -EADDRINUSE;
    if (lstat(path, &again) < 0) return errno == ENOENT ? 0 : ipc__err();
    if (again.st_dev != st.st_dev || again.st_ino != st.st_ino) return -EADDRINUSE; /* replaced: not the one probed */
    return unlink(path) < 0 && errno != ENOENT ? ipc__err() : 0;
}

IPC_DEF IPC__UNUSED int ipc_unix_listen(const char *name, int type, int flags, unsigned mode, int backlog) {
    unsigned m = (mode ? mode : IPC_MODE_DEFAULT) & 0777;
    ipc_unix_addr a;
    struct stat made;
    int fd, rc, is_path, have_made;
    if (!ipc__unix_type_ok(type) || (flags & ~IPC_O_NONBLOCK) || backlog < 0) return -EINVAL;
    if ((rc = ipc_unix_addr_set(&a, name)) < 0) return rc;
    is_path = a.sa.sun_path[0] != 0;
    if ((fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) return ipc__err();
    rc = ipc__unix_bind(fd, &a, m);
    if (rc == -EADDRINUSE && is_path && (rc = ipc__unix_stale(&a, type)) == 0)
        rc = ipc__unix_bind(fd, &a, m); /* once: a second EADDRINUSE is someone else's new server */
    if (rc < 0) {
        close(fd);
        return rc;
    }
    have_made = is_path && lstat(a.sa.sun_path, &made) == 0;
    if (type != SOCK_DGRAM)
        rc = listen(fd, backlog ? backlog : SOMAXCONN) < 0 ? ipc__err() : 0;
    else if (!(flags & IPC_O_NONBLOCK))
        rc = ipc_fd_set_nonblock(fd, 0);
    if (rc == 0) return fd;
    if (have_made) ipc__unlink_same(a.sa.sun_path, &made);
    close(fd);
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_unix_accept(int lfd, int flags, ipc_peer *peer, int timeout_ms) {
    int64_t deadline = ipc_deadline(timeout_ms);
    int fd, rc;
    if (flags & ~IPC_O_NONBLOCK) return -EINVAL;
    /* A blocking listener (not one of ipc_unix_listen's) would wait in
       accept4 past the deadline: wait in poll first. */
    if (ipc__must_poll_first(lfd, deadline) && (rc = ipc_wait_fd(lfd, POLLIN, deadline)) < 0) return rc;
    for (;;) {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | (flags & IPC_O_NONBLOCK ? SOCK_NONBLOCK : 0));
        if (fd >= 0) break;
        if (errno == EINTR || errno == ECONNABORTED) continue; /* ECONNABORTED: that one is gone, the next may wait */
        if (errno != EAGAIN && errno != EWOULDBLOCK) return ipc__err();
        if ((rc = ipc_wait_fd(lfd, POLLIN, deadline)) < 0) return rc;
    }
    if (peer && (rc = ipc_unix_peer(fd, peer)) < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

IPC_DEF IPC__UNUSED int ipc_unix_connect(const char *name, int type, int flags, int timeout_ms) {
    int64_t deadline = ipc_deadline(timeout_ms);
    long sleep_ns = 0;
    ipc_unix_addr a;
    int fd, rc;
    if (!ipc__unix_type_ok(type) || (flags & ~IPC_O_NONBLOCK)) return -EINVAL;
    if ((rc = ipc_unix_addr_set(&a, name)) < 0) return rc;
    if ((fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) return ipc__err();
    /* A datagram client needs a name to be answered at; a seqpacket one gets
       one so its empty messages can be told from its end (best effort:
       without it only that distinction weakens). */
    if (type != SOCK_STREAM && (rc = ipc__unix_autobind(fd)) < 0 && type == SOCK_DGRAM) goto fail;
    /* AF_UNIX connects complete at once or fail at once (no EINPROGRESS on
       Linux), and a socket may connect again after a refusal. */
    for (;;) {
        if (connect(fd, (const struct sockaddr *)&a.sa, a.len) == 0) break;
        rc = ipc__err();
        if (rc == -EINTR) continue;
        if (rc != -ENOENT && rc != -ECONNREFUSED && rc != -EAGAIN) goto fail;
        if (deadline == IPC_DEADLINE_TRY) goto fail; /* that errno, as it is */
        if ((rc = ipc__backoff(deadline, &sleep_ns)) < 0) goto fail;
    }
    if ((flags & IPC_O_NONBLOCK) || (rc = ipc_fd_set_nonblock(fd, 0)) == 0) return fd;
fail:
    close(fd);
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_unix_pair(int fds[2], int type, int flags) {
    if (!ipc__unix_type_ok(type) || (flags & ~IPC_O_NONBLOCK)) return -EINVAL;
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC | (flags & IPC_O_NONBLOCK ? SOCK_NONBLOCK : 0), 0, fds) < 0)
        return ipc__err();
    if (type != SOCK_STREAM) { /* names that mark every message: see ipc_unix_recv (best effort) */
        (void)ipc__unix_autobind(fds[0]);
        (void)ipc__unix_autobind(fds[1]);
    }
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_unix_unlink(const char *name) {
    ipc_unix_addr a;
    struct stat st;
    int rc;
    if ((rc = ipc_unix_addr_set(&a, name)) < 0) return rc;
    if (a.sa.sun_path[0] == 0) return 0; /* abstract: it goes with its socket */
    if (lstat(a.sa.sun_path, &st) < 0) return ipc__err();
    if (!S_ISSOCK(st.st_mode)) return -EINVAL;
    return unlink(a.sa.sun_path) < 0 ? ipc__err() : 0;
}

/* The one sendmsg loop of ipc_unix_send and ipc_unix_sendto. The
   descriptors ride on the first sendmsg that moves anything; a stream that
   takes part of the data gets the rest without them. */
static ssize_t ipc__unix_send(int fd, const ipc_unix_addr *to, const void *data, size_t n, const int *fds, int nfds,
                              int64_t deadline) {
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * IPC_UNIX_MAX_FDS)];
    } ctl;
    size_t sent = 0;
    long sleep_ns = 0;
    int rc, full = 0;
    for (;;) {
        struct msghdr m;
        struct iovec iov;
        ssize_t r;
        memset(&m, 0, sizeof m);
        iov.iov_base = (void *)((uintptr_t)data + sent); /* integer arithmetic: data may be NULL for n == 0 */
        iov.iov_len = n - sent;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        if (to) {
            m.msg_name = (void *)(uintptr_t)&to->sa;
            m.msg_namelen = to->len;
        }
        if (nfds > 0) {
            struct cmsghdr *c;
            memset(&ctl, 0, sizeof ctl);
            m.msg_control = ctl.buf;
            m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
            c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
            memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
        }
        r = ipc__sys_sendmsg(fd, &m, MSG_NOSIGNAL | (deadline == IPC_DEADLINE_NEVER ? 0 : MSG_DONTWAIT));
        if (r > 0 || (r == 0 && n == 0)) {
            nfds = 0;
            full = 0;
            sent += (size_t)r;
            if (sent >= n) return (ssize_t)n;
            continue; /* a stream took part of it */
        }
        if (r == 0) errno = EAGAIN; /* nothing taken of a non-empty send: no room */
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return ipc__err();
        if (deadline == IPC_DEADLINE_TRY) return -EAGAIN;
        /* Full. POLLOUT on a connected socket covers its peer's queue too; an
           unconnected one cannot poll for the receiver of a sendto, so it
           sleeps between attempts -- as does any socket whose POLLOUT came
           and was then refused again, so a wrong POLLOUT never spins. */
        if ((rc = ipc_wait_fd(fd, POLLOUT, deadline)) < 0) return rc;
        if ((to || full++) && (rc = ipc__backoff(deadline, &sleep_ns)) < 0) return rc;
    }
}

IPC_DEF IPC__UNUSED ssize_t ipc_unix_send(int fd, const void *data, size_t n, const int *fds, int nfds,
                                          int timeout_ms) {
    int64_t deadline = ipc_deadline(timeout_ms);
    int type;
    if (n > SSIZE_MAX || nfds < 0 || nfds > IPC_UNIX_MAX_FDS || (nfds > 0 && !fds)) return -EINVAL;
    /* Descriptors need a byte to ride on in a stream: a zero-byte stream
       send moves nothing, its control data included. */
    if (n == 0 && nfds > 0 && (type = ipc__sock_type(fd)) != SOCK_DGRAM && type != SOCK_SEQPACKET)
        return type < 0 ? type : -EINVAL;
    return ipc__unix_send(fd, NULL, data, n, fds, nfds, deadline);
}

IPC_DEF IPC__UNUSED ssize_t ipc_unix_sendto(int fd, const ipc_unix_addr *to, const void *data, size_t n,
                                            int timeout_ms) {
    if (!to || n > SSIZE_MAX) return -EINVAL;
    return ipc__unix_send(fd, to, data, n, NULL, 0, ipc_deadline(timeout_ms));
}

IPC_DEF IPC__UNUSED int ipc_unix_take_cmsg(struct msghdr *m, ipc_unix_aux *aux) {
    const unsigned char *base = (const unsigned char *)m->msg_control;
    size_t off = 0, end = base ? m->msg_controllen : 0, j;
    int room = aux && aux->fds && aux->fds_room > 0 ? aux->fds_room : 0, kept = 0, i;
    if (room > IPC_UNIX_MAX_FDS) room = IPC_UNIX_MAX_FDS; /* the documented bound, whatever the buffer holds */
    int bad = (m->msg_flags & MSG_CTRUNC) != 0;
    if (aux) aux->nfds = 0, aux->has_cred = 0;
    /* A walk by offsets, each header copied out (a fuzzer's buffer need not
       be aligned), so no pointer ever leaves the buffer: a cmsg_len shorter
       than its header or running past msg_controllen ends it, as a
       truncation (the kernel never builds one: MSG_CTRUNC shortens it). */
    while (end - off >= sizeof(struct cmsghdr)) {
        struct cmsghdr h;
        const unsigned char *data;
        size_t dlen, step;
        memcpy(&h, base + off, sizeof h);
        if (h.cmsg_len < CMSG_LEN(0) || h.cmsg_len > end - off) {
            bad = 1;
            break;
        }
        data = base + off + CMSG_LEN(0);
        dlen = h.cmsg_len - CMSG_LEN(0);
        if (h.cmsg_level == SOL_SOCKET && (h.cmsg_type == SCM_RIGHTS || h.cmsg_type == IPC__SCM_PIDFD)) {
            for (j = 0; j < dlen / sizeof(int); j++) {
                int fd;
                memcpy(&fd, data + j * sizeof(int), sizeof fd);
                if (h.cmsg_type == SCM_RIGHTS && kept < room) {
                    aux->fds[kept++] = fd;
                    continue;
                }
                if (h.cmsg_type == SCM_RIGHTS) bad = 1; /* one too many: all of them go */
                ipc__close(fd);
            }
        } else if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_CREDENTIALS && aux &&
                   dlen >= sizeof(struct ucred)) {
            struct ucred c;
            memcpy(&c, data, sizeof c);
            aux->cred.pid = c.pid;
            aux->cred.uid = c.uid;
            aux->cred.gid = c.gid;
            aux->has_cred = 1;
        }
        step = CMSG_ALIGN(h.cmsg_len);
        if (step > end - off) break; /* the last one, its padding cut */
        off += step;
    }
    if (!bad) {
        if (aux) aux->nfds = kept;
        return 0;
    }
    for (i = 0; i < kept; i++) { /* -1 left behind: a caller that closes them anyway closes nothing */
        ipc__close(aux->fds[i]);
        aux->fds[i] = -1;
    }
    return IPC_EFDTRUNC;
}

/* Whether fd is shut down for reading (a seqpacket peer closed, or
   SHUT_RD): POLLRDHUP, asked without waiting. */
static int ipc__read_shut(int fd) {
    short revents;
    return ipc__wait_fd(fd, POLLRDHUP, IPC_DEADLINE_TRY, &revents) == 0 && (revents & (POLLRDHUP | POLLHUP));
}

IPC_DEF IPC__UNUSED ssize_t ipc_unix_recv(int fd, void *buf, size_t cap, ipc_unix_aux *aux, int timeout_ms) {
    int64_t deadline = ipc_deadline(timeout_ms);
    union {
        struct cmsghdr align;
        char buf[IPC__UNIX_CMSG_ROOM];
    } ctl;
    ipc_unix_addr local, *from = aux ? &aux->from : &local;
    struct msghdr m;
    struct iovec iov;
    ssize_t n;
    int rc, i, type = 0;
    short shut = 0;
    if (aux) aux->nfds = 0, aux->has_cred = 0, aux->from.len = 0;
    if (cap > SSIZE_MAX) cap = SSIZE_MAX;
    /* On a stream, reading zero bytes says nothing; on the others a 0-byte
       buffer still takes (and measures, as -EMSGSIZE) a message. */
    if (cap == 0 && (type = ipc__sock_type(fd)) == SOCK_STREAM) return -EINVAL;
    if (type < 0) return type;
    for (;;) {
        memset(&m, 0, sizeof m);
        iov.iov_base = buf;
        iov.iov_len = cap;
        m.msg_name = &from->sa;
        m.msg_namelen = sizeof from->sa;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof ctl.buf;
        n = ipc__sys_recvmsg(fd, &m, MSG_CMSG_CLOEXEC | (deadline == IPC_DEADLINE_NEVER ? 0 : MSG_DONTWAIT));
        if (n >= 0) break;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return ipc__err();
        if (deadline == IPC_DEADLINE_TRY) return ipc__read_shut(fd) ? IPC_EOF : -EAGAIN;
        if ((rc = ipc__wait_readable(fd, deadline, &shut)) < 0) return rc;
    }
    from->len = m.msg_namelen < sizeof from->sa ? m.msg_namelen : (socklen_t)sizeof from->sa;
    rc = ipc_unix_take_cmsg(&m, aux); /* first, so descriptors are never left open behind an error */
    if (m.msg_flags & MSG_TRUNC) { /* the kernel dropped the rest: the message is lost, its descriptors go too */
        for (i = 0; rc == 0 && aux && i < aux->nfds; i++) ipc__close(aux->fds[i]);
        if (aux) aux->nfds = 0;
        return -EMSGSIZE;
    }
    if (rc < 0) return rc;
    if (n > 0) return n;
    /* Zero bytes. A stream has ended. A datagram or seqpacket socket says 0
       for an empty message and for its end alike (no MSG_EOR on Linux's
       unix sockets): a message leaves a trace, its sender's address or
       control data; with neither, a socket shut down for reading has
       ended. Shutdown is never undone, so asking after the read is enough:
       not shut now, not shut then. */
    if (!type && (type = ipc__sock_type(fd)) < 0) return type;
    if (type == SOCK_STREAM) return IPC_EOF;
    if (m.msg_namelen == 0 && m.msg_controllen == 0 && ipc__read_shut(fd)) return IPC_EOF;
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_unix_peer(int fd, ipc_peer *peer) {
    struct ucred c;
    socklen_t len = sizeof c;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) < 0) return ipc__err();
    peer->pid = c.pid;
    peer->uid = c.uid;
    peer->gid = c.gid;
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_unix_buffers(int fd, int *sndbuf, int *rcvbuf) {
    socklen_t len = sizeof(int);
    if (sndbuf && getsockopt(fd, SOL_SOCKET, SO_SNDBUF, sndbuf, &len) < 0) return ipc__err();
    len = sizeof(int);
    if (rcvbuf && getsockopt(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf, &len) < 0) return ipc__err();
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_unix_set_buffers(int fd, int sndbuf, int rcvbuf) {
    if (sndbuf < 0 || rcvbuf < 0) return -EINVAL;
    if (sndbuf && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0) return ipc__err();
    if (rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0) return ipc__err();
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_unix_set_passcred(int fd, int on) {
    int v = on != 0;
    return setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, sizeof v) < 0 ? ipc__err() : 0;
}

/* ==== 3f. shared memory =================================================== */

static void ipc__shm_clear(ipc_shm *m) {
    m->addr = NULL;
    m->size = 0;
    m->fd = -1;
}

static int ipc__shm_map(ipc_shm *m, int fd, int flags, size_t size) {
    void *p = mmap(NULL, size, PROT_READ | (flags & IPC_O_RDONLY ? 0 : PROT_WRITE), MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return ipc__err();
    m->addr = p;
    m->size = size;
    m->fd = fd;
    return 0;
}

/* A new object: exact mode (fchmod: the create call applied the umask;
   0 leaves it),
   its size, and the memory behind it reserved now -- tmpfs would otherwise
   hand out pages on first touch and answer a full disk with SIGBUS. */
static int ipc__shm_reserve(int fd, unsigned mode, size_t size) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    int rc;
    if (size == 0 || size > (size_t)INT64_MAX) return -EINVAL;
    /* A memfd has no tmpfs size limit: reserving more than the machine has
       would summon the OOM killer, not an error. */
    if (pages > 0 && page > 0 && size / (size_t)page >= (size_t)pages) return -ENOMEM;
    if (mode && fchmod(fd, (mode_t)mode) < 0) return ipc__err();
    if (ftruncate(fd, (off_t)size) < 0) return ipc__err();
    if ((rc = posix_fallocate(fd, 0, (off_t)size)) != 0) return -rc; /* returns the error, not errno */
    return 0;
}

/* An existing object: a regular file, ours unless owner_any, no more open
   than mode, and big enough; *size 0 becomes its whole size. */
static int ipc__shm_check(int fd, unsigned mode, int owner_any, size_t *size) {
    struct stat st;
    if (fstat(fd, &st) < 0) return ipc__err();
    if (!S_ISREG(st.st_mode)) return -EINVAL;
    if (!owner_any && !ipc__is_ours(&st, mode)) return -EACCES;
    if (st.st_size <= 0 || (uint64_t)st.st_size < *size) return -ENXIO;
    if (*size == 0) {
        if ((uint64_t)st.st_size > SIZE_MAX) return -ENOMEM;
        *size = (size_t)st.st_size;
    }
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_shm_open(ipc_shm *m, const char *name, int flags, unsigned mode, size_t size) {
    unsigned md = (mode ? mode : IPC_MODE_DEFAULT) & 0777;
    int fd, rc, created = 0;
    ipc__shm_clear(m);
    if ((rc = ipc_mq_name_check(name)) < 0) return rc;
    for (;;) { /* create exclusively first, as ipc_mq_open does */
        if (flags & IPC_O_CREATE) {
            if (size == 0) return -EINVAL;
            if ((fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)md)) >= 0) {
                created = 1;
                break;
            }
            if (errno != EEXIST || (flags & IPC_O_EXCL)) return ipc__err();
        }
        if ((fd = shm_open(name, (flags & IPC_O_RDONLY ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC, 0)) >= 0) break;
        if (errno != ENOENT || !(flags & IPC_O_CREATE)) return ipc__err();
    }
    rc = created ? ipc__shm_reserve(fd, md, size) : ipc__shm_check(fd, md, 0, &size);
    if (rc == 0 && (rc = ipc__shm_map(m, fd, flags, size)) == 0) return 0;
    close(fd);
    if (created) shm_unlink(name); /* nothing half-made is left behind */
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_shm_unlink(const char *name) {
    int rc = ipc_mq_name_check(name);
    if (rc < 0) return rc;
    return shm_unlink(name) < 0 ? ipc__err() : 0;
}

IPC_DEF IPC__UNUSED int ipc_memfd_create(ipc_shm *m, const char *name, size_t size, int flags) {
    int fd, rc;
    ipc__shm_clear(m);
    if (flags & ~(IPC_SHM_SEAL | IPC_O_RDONLY)) return -EINVAL;
    if ((fd = memfd_create(name ? name : "ipc", MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0) return ipc__err();
    rc = ipc__shm_reserve(fd, 0, size); /* no mode: a memfd has no name anyone could open */
    if (rc == 0 && (flags & IPC_SHM_SEAL) && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        rc = ipc__err();
    if (rc == 0 && (rc = ipc__shm_map(m, fd, flags, size)) == 0) return 0;
    close(fd);
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_shm_attach_fd(ipc_shm *m, int fd, int flags, size_t size) {
    int rc, seals;
    ipc__shm_clear(m);
    if (flags & IPC_SHM_SEAL) {
        if ((seals = fcntl(fd, F_GET_SEALS)) < 0) return errno == EINVAL ? -EPERM : ipc__err();
        if (!(seals & F_SEAL_SHRINK)) return -EPERM;
    }
    if ((rc = ipc__shm_check(fd, 0, 1, &size)) < 0) return rc;
    return ipc__shm_map(m, fd, flags, size);
}

IPC_DEF IPC__UNUSED int ipc_file_map(ipc_shm *m, const char *path, int flags, unsigned mode, size_t size) {
    unsigned md = (mode ? mode : IPC_MODE_DEFAULT) & 0777;
    int fd, rc, created = 0, of = (flags & IPC_O_RDONLY ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC;
    ipc__shm_clear(m);
    if (!path || !*path) return -EINVAL;
    for (;;) {
        if (flags & IPC_O_CREATE) {
            if (size == 0) return -EINVAL;
            if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)md)) >= 0) {
                created = 1;
                break;
            }
            if (errno != EEXIST || (flags & IPC_O_EXCL)) return ipc__err();
        }
        if ((fd = open(path, of)) >= 0) break;
        if (errno != ENOENT || !(flags & IPC_O_CREATE)) return ipc__err();
    }
    rc = created ? ipc__shm_reserve(fd, md, size) : ipc__shm_check(fd, md, 0, &size);
    if (rc == 0 && (rc = ipc__shm_map(m, fd, flags, size)) == 0) return 0;
    close(fd);
    if (created) unlink(path);
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_shm_sync(ipc_shm *m, int async) {
    if (!m->addr) return -EINVAL;
    return msync(m->addr, m->size, async ? MS_ASYNC : MS_SYNC) < 0 ? ipc__err() : 0;
}

IPC_DEF IPC__UNUSED int ipc_anon_map(ipc_shm *m, size_t size) {
    void *p;
    ipc__shm_clear(m);
    if (size == 0) return -EINVAL;
    if ((p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
        return ipc__err();
    m->addr = p;
    m->size = size;
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_shm_close(ipc_shm *m) {
    int rc = 0;
    if (!m->addr) { /* zeroed or closed: its fd 0 is not ours to close */
        ipc__shm_clear(m);
        return 0;
    }
    if (munmap(m->addr, m->size) < 0) rc = ipc__err();
    if (m->fd >= 0 && close(m->fd) < 0 && rc == 0) rc = ipc__err();
    ipc__shm_clear(m);
    return rc;
}

/* ==== 4. shared-memory ring =============================================== */

#define IPC__RING_MAGIC 0x676e69722e637069ull /* "ipc.ring", little-endian */
#define IPC__RING_SLOTS 64                    /* producers registered at once */
#define IPC__RING_MAX_CAP ((uint64_t)1 << 30) /* records carry u32 lengths; 1 GiB is plenty */
#define IPC__REC_DATA 0x31434552u /* "REC1" */
#define IPC__REC_PAD 0x31444150u  /* "PAD1" */
#define IPC__LOCK_WAITERS 0x80000000u
#define IPC__RING_SPINS 2000  /* looks at the other side's index before sleeping */
#define IPC__RING_SLICE_MS 50 /* a sleeper wakes this often to check its peer */
#define IPC__ROLE_PRODUCER 1
#define IPC__ROLE_CONSUMER 2

/* The first IPC_RING_HEADER bytes of the region. What each side writes
   sits in a 128-byte block of its own (two cache lines: the adjacent-line
   prefetcher would couple neighbours). */
struct ipc__ring_hdr {
    /* written once, by the creator */
    uint64_t magic; /* stored last: a ring being created reads 0 */
    uint32_t version;
    uint32_t flags;
    uint64_t capacity;
    uint64_t data_offset;
    uint8_t pad0[96];
    /* the producer side */
    uint64_t tail; /* bytes ever committed: the next record starts at tail % capacity */
    uint64_t sent;
    uint64_t high_water;
    uint64_t full;
    uint32_t lock; /* IPC_RING_MULTI: holder's tid | IPC__LOCK_WAITERS */
    uint32_t producers_ever;
    uint8_t pad1[88];
    /* the consumer side */
    uint64_t head; /* bytes ever released */
    uint64_t received;
    int32_t consumer; /* registered consumer's tid, 0: none */
    uint32_t consumer_closed;
    uint8_t pad2[104];
    /* futex words: written only by a side going to sleep and by its waker */
    uint32_t consumer_sleeps;
    uint32_t producer_sleeps;
    uint8_t pad3[120];
    int32_t producer[IPC__RING_SLOTS]; /* registered producers' tids, 0: free */
};
typedef char ipc__ring_hdr_fits[sizeof(struct ipc__ring_hdr) <= IPC_RING_HEADER ? 1 : -1];

#define IPC__ACQ(p) __atomic_load_n(p, __ATOMIC_ACQUIRE)
#define IPC__RLX(p) __atomic_load_n(p, __ATOMIC_RELAXED)
#define IPC__REL(p, v) __atomic_store_n(p, v, __ATOMIC_RELEASE)
#define IPC__SET(p, v) __atomic_store_n(p, v, __ATOMIC_RELAXED)
#ifdef IPC_TEST_HOOKS
#define IPC__RING_STEP(s) (ipc_test.ring_step ? ipc_test.ring_step(s) : (void)0)
#else
#define IPC__RING_STEP(s) ((void)0)
#endif
#if defined(__x86_64__) || defined(__i386__)
#define IPC__PAUSE() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define IPC__PAUSE() __asm__ __volatile__("yield")
#else
#define IPC__PAUSE() ((void)0)
#endif

static uint64_t ipc__rec_size(uint64_t n) { return 8 + ((n + 7) & ~(uint64_t)7); }

/* A call's deadline is computed the first time it has to wait (or lock):
   one that never waits never reads the clock. */
#define IPC__RING_NO_DEADLINE_YET (-1) /* deadlines are 0, positive or IPC_DEADLINE_NEVER */
static int64_t ipc__ring_deadline(int64_t *deadline, int timeout_ms) {
    if (*deadline == IPC__RING_NO_DEADLINE_YET) *deadline = ipc_deadline(timeout_ms);
    return *deadline;
}

/* Shared futexes (no FUTEX_PRIVATE_FLAG): the word lives in a mapping
   other processes share. A wait returns early on a wake, a changed word,
   a signal or the timeout; the callers look again in every case. */
static void ipc__futex_wait(uint32_t *word, uint32_t val, int ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000;
    syscall(SYS_futex, word, FUTEX_WAIT, val, &ts, NULL, 0);
}
static void ipc__futex_wake(uint32_t *word, int n) { syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0); }

/* Whether a registered thread still runs. kill(tid, 0) is not enough: a
   killed process stays a zombie until its parent reaps it. */
static int ipc__tid_alive(pid_t tid) {
    char path[48], buf[160], *p;
    ssize_t n;
    int fd;
    if (tid <= 0) return 0;
    if (kill(tid, 0) < 0 && errno == ESRCH) return 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)tid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return errno != ENOENT;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 1;
    buf[n] = 0;
    p = strrchr(buf, ')'); /* the name in parentheses may hold anything */
    return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

/* Whether two indices read from the region could have been written by a
   sane ring of capacity cap. */
static int ipc__ring_indices_ok(uint64_t tail, uint64_t head, uint64_t cap) {
    return !((tail | head) & 7) && tail - head <= cap;
}

/* Attach-time validation against the mapping's real size. Each field is
   read once (another process may be changing them) and the checked copies
   are what the handle keeps. */
static int ipc__ring_check(const struct ipc__ring_hdr *h, size_t size, uint64_t *cap, uint32_t *flags) {
    uint64_t c;
    uint32_t f;
    if (size < (size_t)IPC_RING_HEADER + IPC_RING_MIN) return IPC_ECORRUPT;
    c = IPC__RLX(&h->capacity);
    f = IPC__RLX(&h->flags);
    if (IPC__ACQ(&h->magic) != IPC__RING_MAGIC || IPC__RLX(&h->version) != IPC_RING_VERSION) return IPC_ECORRUPT;
    if (IPC__RLX(&h->data_offset) != IPC_RING_HEADER || c < IPC_RING_MIN || (c & (c - 1)) ||
        c > IPC__RING_MAX_CAP || c != (uint64_t)size - IPC_RING_HEADER)
        return IPC_ECORRUPT;
    if (f & ~(uint32_t)(IPC_RING_MULTI | IPC_RING_SPIN)) return IPC_ECORRUPT;
    if (!ipc__ring_indices_ok(IPC__ACQ(&h->tail), IPC__ACQ(&h->head), c)) return IPC_ECORRUPT;
    *cap = c;
    *flags = f;
    return 0;
}

static int ipc__ring_join(ipc_ring *r, int role) {
    struct ipc__ring_hdr *h = r->h;
    int32_t cur;
    int i, n;
    if (!(r->roles & role)) return -EBADF;
    r->tid = (pid_t)syscall(SYS_gettid);
    if (role == IPC__ROLE_CONSUMER) {
        cur = IPC__ACQ(&h->consumer);
        while (cur != r->tid) {
            if (cur != 0 && ipc__tid_alive(cur)) return -EBUSY;
            if (__atomic_compare_exchange_n(&h->consumer, &cur, r->tid, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) break;
        }
        IPC__REL(&h->consumer_closed, 0);
        r->head = r->tail_seen = IPC__ACQ(&h->head);
        r->received = IPC__RLX(&h->received);
        r->peeking = 0;
        /* Attach checked the indices, but a role may be joined long after,
           and the region is shared: check again what is taken from it. */
        if (!ipc__ring_indices_ok(IPC__ACQ(&h->tail), r->head, r->cap)) return IPC_ECORRUPT;
    } else {
        n = r->flags & IPC_RING_MULTI ? IPC__RING_SLOTS : 1;
        for (i = 0; i < n; i++) { /* a free slot, or one a dead producer left */
            cur = IPC__ACQ(&h->producer[i]);
            if (cur == r->tid) break;
            if (cur != 0 && ipc__tid_alive(cur)) continue;
            if (__atomic_compare_exchange_n(&h->producer[i], &cur, r->tid, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                break;
            i--; /* lost a race for this slot: look at it again */
        }
        if (i == n) return -EBUSY;
        r->slot = i;
        IPC__REL(&h->producers_ever, 1);
        r->tail = IPC__ACQ(&h->tail);
        r->head_seen = IPC__ACQ(&h->head);
        r->sent = IPC__RLX(&h->sent);
        r->resv_len = SIZE_MAX;
        if (!ipc__ring_indices_ok(r->tail, r->head_seen, r->cap)) return IPC_ECORRUPT;
    }
    r->joined |= role;
    return 0;
}

/* After fork a handle that has not used a role yet joins it as the child. */
IPC__HOT int ipc__ring_role(ipc_ring *r, int role) {
    return r->joined & role ? 0 : ipc__ring_join(r, role);
}

static int ipc__ring_start(ipc_ring *r, int flags) {
    uint32_t f;
    int rc;
    r->h = (struct ipc__ring_hdr *)r->shm.addr;
    if ((rc = ipc__ring_check(r->h, r->shm.size, &r->cap, &f)) < 0) return rc;
    r->mask = r->cap - 1;
    r->data = (uint8_t *)r->shm.addr + IPC_RING_HEADER;
    r->flags = (int)f;
    r->roles = flags & IPC_O_RDONLY   ? IPC__ROLE_CONSUMER
               : flags & IPC_O_WRONLY ? IPC__ROLE_PRODUCER
                                      : IPC__ROLE_PRODUCER | IPC__ROLE_CONSUMER;
    r->resv_len = SIZE_MAX;
    r->slot = -1;
    if (r->roles != (IPC__ROLE_PRODUCER | IPC__ROLE_CONSUMER)) return ipc__ring_join(r, r->roles);
    return 0;
}

static void ipc__ring_init(struct ipc__ring_hdr *h, int flags, uint64_t cap) {
    h->version = IPC_RING_VERSION;
    h->flags = (uint32_t)(flags & (IPC_RING_MULTI | IPC_RING_SPIN));
    h->capacity = cap;
    h->data_offset = IPC_RING_HEADER;
    IPC__REL(&h->magic, IPC__RING_MAGIC);
}

IPC_DEF IPC__UNUSED int ipc_ring_open(ipc_ring *r, const char *name, int flags, unsigned mode, size_t capacity) {
    uint64_t cap = IPC_RING_MIN;
    int64_t deadline = ipc_deadline(1000);
    long sleep_ns = 0;
    int rc;
    memset(r, 0, sizeof *r);
    ipc__shm_clear(&r->shm);
    if ((flags & IPC_O_RDONLY) && (flags & IPC_O_WRONLY)) return -EINVAL;
    if (flags & IPC_O_CREATE) {
        if (capacity > IPC__RING_MAX_CAP) return -EINVAL;
        while (cap < capacity) cap <<= 1;
    }
    if (!name) { /* anonymous: a sealed memfd, so a receiver can trust its size */
        if (!(flags & IPC_O_CREATE)) return -EINVAL;
        if ((rc = ipc_memfd_create(&r->shm, "ipc.ring", IPC_RING_HEADER + (size_t)cap, IPC_SHM_SEAL)) < 0) return rc;
        ipc__ring_init((struct ipc__ring_hdr *)r->shm.addr, flags, cap);
    } else {
        for (;;) {
            if (flags & IPC_O_CREATE) {
                rc = ipc_shm_open(&r->shm, name, IPC_O_CREATE | IPC_O_EXCL, mode, IPC_RING_HEADER + (size_t)cap);
                if (rc == 0) {
                    ipc__ring_init((struct ipc__ring_hdr *)r->shm.addr, flags, cap);
                    break;
                }
                if (rc != -EEXIST || (flags & IPC_O_EXCL)) return rc;
            }
            rc = ipc_shm_open(&r->shm, name, 0, mode, 0);
            if (rc == -ENOENT && (flags & IPC_O_CREATE)) continue; /* unlinked meanwhile */
            /* Being created: no size yet, or no magic yet. */
            if (rc == 0 && IPC__ACQ(&((struct ipc__ring_hdr *)r->shm.addr)->magic) == 0 &&
                r->shm.size >= sizeof(struct ipc__ring_hdr)) {
                ipc_shm_close(&r->shm);
                rc = -ENXIO;
            }
            if (rc != -ENXIO) {
                if (rc < 0) return rc;
                break;
            }
            if (ipc__backoff(deadline, &sleep_ns) < 0) return IPC_ECORRUPT;
        }
    }
    if ((rc = ipc__ring_start(r, flags)) < 0) ipc_shm_close(&r->shm);
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_ring_attach_fd(ipc_ring *r, int fd, int flags) {
    int rc;
    memset(r, 0, sizeof *r);
    if ((flags & IPC_O_RDONLY) && (flags & IPC_O_WRONLY)) return -EINVAL;
    if ((rc = ipc_shm_attach_fd(&r->shm, fd, IPC_SHM_SEAL, 0)) < 0) return rc;
    if ((rc = ipc__ring_start(r, flags)) < 0) {
        munmap(r->shm.addr, r->shm.size); /* the caller keeps fd on failure */
        ipc__shm_clear(&r->shm);
    }
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_ring_unlink(const char *name) { return ipc_shm_unlink(name); }

/* Wakes the sleepers on word, if any said they sleep. The seq_cst load
   pairs with the sleeper's seq_cst store of the flag before its last look
   at the index: one of the two sees the other. */
static IPC__NOINLINE void ipc__ring_wake_sleepers(uint32_t *word) {
    if (__atomic_exchange_n(word, 0, __ATOMIC_SEQ_CST)) {
        ipc__futex_wake(word, INT_MAX);
        IPC__RING_STEP(IPC_RING_STEP_WAKE);
    }
}
IPC__HOT void ipc__ring_wake(uint32_t *word) {
    if (__builtin_expect(__atomic_load_n(word, __ATOMIC_SEQ_CST) != 0, 0)) ipc__ring_wake_sleepers(word);
}

/* What the waiting side's peer is up to: 0 while it may still act, else
   the error to give. Pids are looked at when check_tids is set. */
static int ipc__ring_peer_gone(ipc_ring *r, int role, int check_tids) {
    struct ipc__ring_hdr *h = r->h;
    int i, n, dead = 0;
    if (role == IPC__ROLE_PRODUCER) { /* the peer is the consumer */
        int32_t c = IPC__ACQ(&h->consumer);
        if (c == 0) return IPC__ACQ(&h->consumer_closed) ? -EPIPE : 0;
        /* gone, unless it closed (or was replaced) after we read its id */
        return check_tids && !ipc__tid_alive(c) && IPC__ACQ(&h->consumer) == c ? IPC_EPEERDEAD : 0;
    }
    if (!IPC__ACQ(&h->producers_ever)) return 0; /* nobody has come yet */
    n = r->flags & IPC_RING_MULTI ? IPC__RING_SLOTS : 1;
    for (i = 0; i < n; i++) {
        int32_t p = IPC__ACQ(&h->producer[i]);
        if (p == 0) continue;
        if (!check_tids || ipc__tid_alive(p)) return 0;
        if (IPC__ACQ(&h->producer[i]) != p) return 0; /* it closed after we read its id: look again */
        dead = 1;
    }
    return dead ? IPC_EPEERDEAD : IPC_EOF;
}

/* Waits for the other side to move its index away from seen: the consumer
   for a commit, a producer for a release. Spins a little, then sleeps on
   the futex in slices (IPC_RING_SPIN rings keep spinning), looking at the
   peer's liveness at most every few milliseconds. Returns 0 to look again,
   or the error: the deadline's, or the peer's (only once the index has
   stayed put after the peer was seen gone, so nothing committed is lost). */
static int ipc__ring_wait(ipc_ring *r, int role, uint64_t seen, int64_t deadline) {
    struct ipc__ring_hdr *h = r->h;
    uint64_t *watch = role == IPC__ROLE_CONSUMER ? &h->tail : &h->head;
    uint32_t *word = role == IPC__ROLE_CONSUMER ? &h->consumer_sleeps : &h->producer_sleeps;
    int i, rc, ms;
    int64_t now;
    for (;;) {
        if (deadline != IPC_DEADLINE_TRY)
            for (i = 0; i < IPC__RING_SPINS; i++) {
                if (IPC__RLX(watch) != seen) return 0;
                IPC__PAUSE();
            }
        now = ipc_now_ns();
        rc = ipc__ring_peer_gone(r, role, now >= r->check_at);
        if (now >= r->check_at) r->check_at = now + 5000000;
        if (rc < 0) return IPC__ACQ(watch) != seen ? 0 : rc;
        if (deadline != IPC_DEADLINE_NEVER && now >= deadline) return ipc_deadline_error(deadline);
        if (r->flags & IPC_RING_SPIN) continue;
        IPC__RING_STEP(IPC_RING_STEP_SLEEP);
        __atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(watch, __ATOMIC_SEQ_CST) != seen) return 0;
        ms = ipc_deadline_left_ms(deadline);
        ipc__futex_wait(word, 1, ms < 0 || ms > IPC__RING_SLICE_MS ? IPC__RING_SLICE_MS : ms);
        if (IPC__RLX(watch) != seen) return 0;
    }
}

/* The multi-producer lock: the holder's tid in the word, plus a bit saying
   someone sleeps on it. A holder that died is found when a sleep slice
   ends, and its lock is taken over: it never published anything past the
   tail, so there is nothing to repair. */
static int ipc__ring_lock(ipc_ring *r, int64_t deadline) {
    uint32_t *w = &r->h->lock, me = (uint32_t)r->tid, cur, want = me;
    int spins = 0, ms;
    for (;;) {
        cur = 0;
        if (__atomic_compare_exchange_n(w, &cur, want, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) break;
        if (++spins < 100) {
            IPC__PAUSE();
            continue;
        }
        if (deadline == IPC_DEADLINE_TRY ||
            (deadline != IPC_DEADLINE_NEVER && ipc_now_ns() >= deadline))
            return ipc_deadline_error(deadline);
        if (!(cur & IPC__LOCK_WAITERS) &&
            !__atomic_compare_exchange_n(w, &cur, cur | IPC__LOCK_WAITERS, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            continue;
        want = me | IPC__LOCK_WAITERS; /* others may sleep too: wake them on unlock */
        IPC__RING_STEP(IPC_RING_STEP_SLEEP);
        ms = ipc_deadline_left_ms(deadline);
        ipc__futex_wait(w, cur | IPC__LOCK_WAITERS, ms < 0 || ms > IPC__RING_SLICE_MS ? IPC__RING_SLICE_MS : ms);
        cur = IPC__RLX(w);
        if (cur && !ipc__tid_alive((pid_t)(cur & ~IPC__LOCK_WAITERS)) &&
            __atomic_compare_exchange_n(w, &cur, want, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            break; /* taken over from a dead holder */
    }
    r->locked = 1;
    IPC__RING_STEP(IPC_RING_STEP_LOCK);
    return 0;
}

static IPC__NOINLINE void ipc__ring_unlock(ipc_ring *r) {
    r->locked = 0;
    if (__atomic_exchange_n(&r->h->lock, 0, __ATOMIC_RELEASE) & IPC__LOCK_WAITERS) ipc__futex_wake(&r->h->lock, 1);
}

/* Reads the consumer's index afresh; refuses one that a sane consumer
   could not have written. */
IPC__HOT int ipc__ring_load_head(ipc_ring *r) {
    uint64_t hd = IPC__ACQ(&r->h->head);
    if (!ipc__ring_indices_ok(r->tail, hd, r->cap)) return IPC_ECORRUPT;
    r->head_seen = hd;
    return 0;
}

/* Room for a record of n payload bytes at the tail, waited for; writes the
   pad record that skips the end of the buffer when the record would not
   fit before it. */
static IPC__NOINLINE int ipc__ring_reserve_slow(ipc_ring *r, size_t n, int timeout_ms) {
    struct ipc__ring_hdr *h = r->h;
    uint64_t need, off, contig, total;
    int64_t deadline = IPC__RING_NO_DEADLINE_YET;
    int rc = -EMSGSIZE, counted = 0;
    if (!(r->roles & IPC__ROLE_PRODUCER)) return -EBADF;
    r->resv_len = SIZE_MAX; /* an open reservation is dropped, whatever happens next */
    if (n > r->cap / 2 - 8) goto fail; /* the caller's mistakes first, before the region is looked at */
    if ((rc = ipc__ring_role(r, IPC__ROLE_PRODUCER)) < 0) goto fail;
    if (r->flags & IPC_RING_MULTI) {
        if (!r->locked && (rc = ipc__ring_lock(r, ipc__ring_deadline(&deadline, timeout_ms))) < 0) return rc;
        r->tail = IPC__RLX(&h->tail); /* the lock ordered us after the last holder's commit */
        rc = IPC_ECORRUPT;
        if ((r->tail & 7) || (r->tail - r->head_seen > r->cap && (rc = ipc__ring_load_head(r)) < 0)) goto fail;
    }
    need = ipc__rec_size(n);
    off = r->tail & r->mask;
    contig = r->cap - off;
    total = need <= contig ? need : contig + need;
    while (r->cap - (r->tail - r->head_seen) < total) {
        if ((rc = ipc__ring_load_head(r)) < 0) goto fail;
        if (r->cap - (r->tail - r->head_seen) >= total) break;
        if (!counted++) IPC__SET(&h->full, IPC__RLX(&h->full) + 1);
        if ((rc = ipc__ring_wait(r, IPC__ROLE_PRODUCER, r->head_seen, ipc__ring_deadline(&deadline, timeout_ms))) < 0)
            goto fail;
    }
    if (need > contig) { /* pad to the end; published with the record */
        uint32_t *pad = (uint32_t *)(void *)(r->data + off);
        pad[0] = (uint32_t)(contig - 8);
        pad[1] = IPC__REC_PAD;
        r->tail += contig;
    }
    r->resv = r->tail;
    r->resv_len = n;
    IPC__RING_STEP(IPC_RING_STEP_RESERVE);
    return 0;
fail:
    if (r->locked) ipc__ring_unlock(r);
    return rc;
}

/* The common case inline: the role joined, one producer, room known
   before the end of the buffer. Everything else takes the slow path. */
IPC__HOT int ipc__ring_reserve(ipc_ring *r, size_t n, int timeout_ms) {
    uint64_t need = ipc__rec_size(n);
    if ((r->joined & IPC__ROLE_PRODUCER) && !(r->flags & IPC_RING_MULTI) && n <= r->cap / 2 - 8 &&
        need <= r->cap - (r->tail & r->mask) && need <= r->cap - (r->tail - r->head_seen)) {
        r->resv = r->tail;
        r->resv_len = n;
        IPC__RING_STEP(IPC_RING_STEP_RESERVE);
        return 0;
    }
    return ipc__ring_reserve_slow(r, n, timeout_ms);
}

/* Publishes the reserved record with n payload bytes: one store of the
   tail, after which the consumer may read it. */
IPC__HOT void ipc__ring_commit(ipc_ring *r, size_t n) {
    struct ipc__ring_hdr *h = r->h;
    uint32_t *rec = (uint32_t *)(void *)(r->data + (r->resv & r->mask));
    uint64_t end = r->resv + ipc__rec_size(n), used;
    rec[0] = (uint32_t)n;
    rec[1] = IPC__REC_DATA;
    /* a store, not a read-modify-write: the waiting consumer keeps pulling
       this line to its core, and a load here would hold the tail back by a
       cache miss; several producers share the count, and the lock orders them */
    IPC__SET(&h->sent, r->flags & IPC_RING_MULTI ? IPC__RLX(&h->sent) + 1 : ++r->sent);
    used = end - r->head_seen;
    if (used > IPC__RLX(&h->high_water)) { /* the seen head may be old: look again before raising the mark */
        r->head_seen = IPC__ACQ(&h->head);
        used = end - r->head_seen;
        if (used <= r->cap && used > IPC__RLX(&h->high_water)) IPC__SET(&h->high_water, used);
    }
    if (r->flags & IPC_RING_SPIN) {
        IPC__REL(&h->tail, end);
    } else {
        __atomic_store_n(&h->tail, end, __ATOMIC_SEQ_CST);
    }
    r->tail = end;
    r->resv_len = SIZE_MAX;
    IPC__RING_STEP(IPC_RING_STEP_COMMIT);
    if (!(r->flags & IPC_RING_SPIN)) ipc__ring_wake(&h->consumer_sleeps);
    if (r->locked) ipc__ring_unlock(r);
}

IPC_DEF IPC__UNUSED int ipc_ring_reserve(ipc_ring *r, size_t n, void **where, int timeout_ms) {
    int rc = ipc__ring_reserve(r, n, timeout_ms);
    if (rc < 0) return rc;
    *where = r->data + (r->resv & r->mask) + 8;
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_ring_commit(ipc_ring *r, size_t n) {
    if (r->resv_len == SIZE_MAX || n > r->resv_len) return -EINVAL;
    ipc__ring_commit(r, n);
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_ring_send(ipc_ring *r, const void *data, size_t n, int timeout_ms) {
    int rc = ipc__ring_reserve(r, n, timeout_ms);
    if (rc < 0) return rc;
    if (n) memcpy(r->data + (r->resv & r->mask) + 8, data, n);
    IPC__RING_STEP(IPC_RING_STEP_COPY);
    ipc__ring_commit(r, n);
    return 0;
}

/* Makes released space visible to the producers, and wakes one that sleeps. */
IPC__HOT void ipc__ring_publish_head(ipc_ring *r) {
    if (r->flags & IPC_RING_SPIN) {
        IPC__REL(&r->h->head, r->head);
    } else {
        __atomic_store_n(&r->h->head, r->head, __ATOMIC_SEQ_CST);
        ipc__ring_wake(&r->h->producer_sleeps);
    }
}

/* The next record, waited for and checked: its payload and length. Every
   length and tag is read once from the region and bounded before use. */
static IPC__NOINLINE int ipc__ring_next_slow(ipc_ring *r, const uint8_t **payload, uint32_t *len, int timeout_ms) {
    int64_t deadline = IPC__RING_NO_DEADLINE_YET;
    int rc;
    if ((rc = ipc__ring_role(r, IPC__ROLE_CONSUMER)) < 0) return rc;
    for (;;) {
        uint64_t off, contig, avail;
        uint32_t n, tag;
        const uint32_t *rec;
        if (r->head == r->tail_seen) {
            uint64_t t = IPC__ACQ(&r->h->tail);
            if ((t & 7) || t - r->head > r->cap) return IPC_ECORRUPT;
            r->tail_seen = t;
            if (t == r->head) {
                if ((rc = ipc__ring_wait(r, IPC__ROLE_CONSUMER, t, ipc__ring_deadline(&deadline, timeout_ms))) < 0)
                    return rc;
                continue;
            }
        }
        off = r->head & r->mask;
        contig = r->cap - off;
        avail = r->tail_seen - r->head;
        rec = (const uint32_t *)(const void *)(r->data + off);
        n = IPC__RLX(&rec[0]);
        tag = IPC__RLX(&rec[1]);
        if (tag == IPC__REC_PAD) {
            if (n != contig - 8 || contig > avail) return IPC_ECORRUPT;
            r->head += contig;
            ipc__ring_publish_head(r);
            continue;
        }
        if (tag != IPC__REC_DATA || ipc__rec_size(n) > contig || ipc__rec_size(n) > avail) return IPC_ECORRUPT;
        *payload = (const uint8_t *)(rec + 2);
        *len = n;
        r->peeked = r->head + ipc__rec_size(n);
        r->peeking = 1;
        IPC__RING_STEP(IPC_RING_STEP_ACQUIRE);
        return 0;
    }
}

/* The common case inline: a data record already known to be committed. */
IPC__HOT int ipc__ring_next(ipc_ring *r, const uint8_t **payload, uint32_t *len, int timeout_ms) {
    if ((r->joined & IPC__ROLE_CONSUMER) && r->head != r->tail_seen) {
        uint64_t off = r->head & r->mask, avail = r->tail_seen - r->head;
        const uint32_t *rec = (const uint32_t *)(const void *)(r->data + off);
        uint32_t n = IPC__RLX(&rec[0]);
        uint64_t size = ipc__rec_size(n);
        if (IPC__RLX(&rec[1]) == IPC__REC_DATA && size <= r->cap - off && size <= avail) {
            *payload = (const uint8_t *)(rec + 2);
            *len = n;
            r->peeked = r->head + size;
            r->peeking = 1;
            IPC__RING_STEP(IPC_RING_STEP_ACQUIRE);
            return 0;
        }
    }
    return ipc__ring_next_slow(r, payload, len, timeout_ms);
}

IPC__HOT void ipc__ring_release(ipc_ring *r) {
    IPC__SET(&r->h->received, ++r->received); /* a store: see commit */
    r->head = r->peeked;
    r->peeking = 0;
    ipc__ring_publish_head(r);
    IPC__RING_STEP(IPC_RING_STEP_RELEASE);
}

IPC_DEF IPC__UNUSED ssize_t ipc_ring_peek(ipc_ring *r, const void **where, int timeout_ms) {
    const uint8_t *p;
    uint32_t n;
    int rc = ipc__ring_next(r, &p, &n, timeout_ms);
    if (rc < 0) return rc;
    *where = p;
    return (ssize_t)n;
}

IPC_DEF IPC__UNUSED int ipc_ring_release(ipc_ring *r) {
    if (!r->peeking) return -EINVAL;
    ipc__ring_release(r);
    return 0;
}

IPC_DEF IPC__UNUSED ssize_t ipc_ring_recv(ipc_ring *r, void *buf, size_t cap, int timeout_ms) {
    const uint8_t *p;
    uint32_t n;
    int peeked_before = r->peeking, rc = ipc__ring_next(r, &p, &n, timeout_ms);
    if (rc < 0) return rc;
    if (n > cap) { /* the record stays for a bigger buffer; a release drops it only if it was peeked */
        r->peeking = peeked_before;
        return -EMSGSIZE;
    }
    if (n) memcpy(buf, p, n);
    IPC__RING_STEP(IPC_RING_STEP_READ);
    ipc__ring_release(r);
    return (ssize_t)n;
}

IPC_DEF IPC__UNUSED size_t ipc_ring_max_record(const ipc_ring *r) { return (size_t)(r->cap / 2 - 8); }

IPC_DEF IPC__UNUSED int ipc_ring_stat(const ipc_ring *r, ipc_ring_info *info) {
    const struct ipc__ring_hdr *h = r->h;
    uint64_t t, hd, sent, recvd;
    int i;
    if (!h) return -EINVAL;
    memset(info, 0, sizeof *info);
    recvd = IPC__ACQ(&h->received); /* received first: depth never looks negative */
    hd = IPC__ACQ(&h->head);
    sent = IPC__ACQ(&h->sent);
    t = IPC__ACQ(&h->tail);
    info->capacity = (size_t)r->cap;
    info->used = (size_t)(t - hd > r->cap ? r->cap : t - hd);
    info->high_water = (size_t)IPC__RLX(&h->high_water);
    info->depth = sent - recvd > sent ? 0 : sent - recvd;
    info->sent = sent;
    info->received = recvd;
    info->full = IPC__RLX(&h->full);
    info->flags = h->flags;
    info->consumer = IPC__RLX(&h->consumer);
    for (i = 0; i < IPC__RING_SLOTS; i++) info->producers += IPC__RLX(&h->producer[i]) != 0;
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_ring_close(ipc_ring *r) {
    struct ipc__ring_hdr *h = r->h;
    /* A copy inherited across fork belongs to the parent's registration:
       the child only unmaps it. */
    if (h && r->joined && (pid_t)syscall(SYS_gettid) != r->tid) r->joined = 0;
    if (h && (r->joined & IPC__ROLE_PRODUCER)) {
        int32_t me = r->tid;
        if (r->locked) ipc__ring_unlock(r); /* an open reservation is dropped */
        __atomic_compare_exchange_n(&h->producer[r->slot], &me, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
        __atomic_store_n(&h->consumer_sleeps, 1, __ATOMIC_SEQ_CST); /* wake it whatever it was doing */
        ipc__ring_wake(&h->consumer_sleeps);
    }
    if (h && (r->joined & IPC__ROLE_CONSUMER)) {
        int32_t me = r->tid;
        IPC__REL(&h->consumer_closed, 1);
        __atomic_compare_exchange_n(&h->consumer, &me, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
        __atomic_store_n(&h->producer_sleeps, 1, __ATOMIC_SEQ_CST);
        ipc__ring_wake(&h->producer_sleeps);
    }
    r->h = NULL;
    r->joined = 0;
    return ipc_shm_close(&r->shm);
}

/* ==== 5. channels ========================================================= */

static const char *const ipc__scheme_names[] = {"", "stdio", "fd", "fifo", "unix", "unix-dgram", "unix-seqpacket",
                                                "mq", "sysv", "shm"};

IPC_DEF IPC__UNUSED const char *ipc_scheme_name(ipc_scheme scheme) {
    return scheme >= IPC_SCHEME_STDIO && scheme <= IPC_SCHEME_SHM ? ipc__scheme_names[scheme] : "?";
}

/* The number spelled by exactly the n bytes at p (digits only, at most
   31: no sign, no space; base 16 after a 0x the caller skipped), within
   [lo, hi]. errno is left as it was. */
static int ipc__parse_num(const char *p, size_t n, int base, long long lo, long long hi, long long *out) {
    char buf[32], *end;
    long long v;
    int saved = errno, bad;
    if (n == 0 || n >= sizeof buf || !isxdigit((unsigned char)p[0]) || (base != 16 && (p[0] < '0' || p[0] > '9')))
        return -EINVAL;
    memcpy(buf, p, n);
    buf[n] = 0;
    errno = 0;
    v = strtoll(buf, &end, base);
    bad = errno || *end || v < lo || v > hi;
    errno = saved;
    if (bad) return -EINVAL;
    *out = v;
    return 0;
}

/* The part of an address after "sysv:": a key (0x1234 hex, 4660 decimal --
   a leading 0 is not octal; not 0, which is IPC_PRIVATE and names
   nothing), or path#proj. */
static int ipc__parse_sysv(ipc_addr *a) {
    char *hash = strrchr(a->name, '#');
    long long v;
    if (hash) {
        if (hash == a->name || ipc__parse_num(hash + 1, strlen(hash + 1), 10, 1, 255, &v) < 0) return -EINVAL;
        *hash = 0;
        a->proj = (int)v;
        return 0;
    }
    if ((a->name[0] == '0' && (a->name[1] == 'x' || a->name[1] == 'X')
             ? ipc__parse_num(a->name + 2, strlen(a->name + 2), 16, 1, 0xFFFFFFFFll, &v)
             : ipc__parse_num(a->name, strlen(a->name), 10, 1, 0xFFFFFFFFll, &v)) < 0)
        return -EINVAL;
    a->key = (key_t)(uint32_t)v;
    a->name[0] = 0;
    return 0;
}

/* One option, key=value (the n bytes at p); *seen collects the keys met. */
static int ipc__parse_option(ipc_addr *a, const char *p, size_t n, unsigned *seen) {
    static const char *const keys[] = {"frame", "max", "cap", "msgsize", "mode", "prio", "type"};
    const char *eq = (const char *)memchr(p, '=', n), *v;
    size_t klen, vlen, k;
    long long x = 0;
    int rc = 0;
    if (!eq) return -EINVAL;
    klen = (size_t)(eq - p);
    v = eq + 1;
    vlen = n - klen - 1;
    for (k = 0; k < sizeof keys / sizeof *keys; k++)
        if (strlen(keys[k]) == klen && !memcmp(keys[k], p, klen)) break;
    if (k == sizeof keys / sizeof *keys || (*seen & (1u << k))) return -EINVAL; /* unknown or given twice */
    *seen |= 1u << k;
    switch (k) {
    case 0: {
        char name[8];
        if (vlen == 0 || vlen >= sizeof name) return -EINVAL;
        memcpy(name, v, vlen);
        name[vlen] = 0;
        return (a->codec = ipc_codec_parse(name)) ? 0 : -EINVAL;
    }
    case 1: rc = ipc__parse_num(v, vlen, 10, 1, INT32_MAX, &x), a->max = (size_t)x; break;
    case 2: rc = ipc__parse_num(v, vlen, 10, 1, 1 << 30, &x), a->cap = (long)x; break;
    case 3: rc = ipc__parse_num(v, vlen, 10, 1, 1 << 30, &x), a->msgsize = (long)x; break;
    case 4: rc = ipc__parse_num(v, vlen, 8, 0, 0777, &x), a->mode = (unsigned)x; break;
    case 5: rc = ipc__parse_num(v, vlen, 10, 0, 32767, &x), a->prio = (unsigned)x; break;
    default: rc = ipc__parse_num(v, vlen, 10, 1, LONG_MAX, &x), a->type = (long)x; break;
    }
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_addr_parse(ipc_addr *a, const char *text) {
    const char *rest, *q;
    size_t len, n;
    unsigned seen = 0;
    int s, rc = 0;
    long long v;
    memset(a, 0, sizeof *a);
    a->fd = -1;
    a->codec = IPC_LEN32;
    a->max = IPC_MAX_FRAME;
    a->mode = IPC_MODE_DEFAULT;
    if (!text) return -EINVAL;
    if (text[0] == '-' && (text[1] == 0 || text[1] == '?')) {
        a->scheme = IPC_SCHEME_STDIO;
        rest = text + 1;
    } else {
        if (!(rest = strchr(text, ':'))) return -EINVAL;
        len = (size_t)(rest - text);
        for (s = IPC_SCHEME_STDIO; s <= IPC_SCHEME_SHM; s++)
            if (strlen(ipc__scheme_names[s]) == len && !memcmp(ipc__scheme_names[s], text, len)) break;
        if (s > IPC_SCHEME_SHM) return -EINVAL;
        a->scheme = (ipc_scheme)s;
        rest++;
    }
    q = strchr(rest, '?');
    n = q ? (size_t)(q - rest) : strlen(rest);
    if (n >= sizeof a->name) return -ENAMETOOLONG;
    memcpy(a->name, rest, n);
    a->name[n] = 0;
    switch (a->scheme) {
    case IPC_SCHEME_STDIO: rc = n ? -EINVAL : 0; break;
    case IPC_SCHEME_FD:
        if ((rc = ipc__parse_num(a->name, n, 10, 0, INT_MAX, &v)) == 0) a->fd = (int)v;
        a->name[0] = 0;
        break;
    case IPC_SCHEME_FIFO: rc = n ? 0 : -EINVAL; break;
    case IPC_SCHEME_UNIX:
    case IPC_SCHEME_UNIX_DGRAM:
    case IPC_SCHEME_UNIX_SEQPACKET: {
        ipc_unix_addr ua;
        rc = ipc_unix_addr_set(&ua, a->name);
        break;
    }
    case IPC_SCHEME_MQ:
    case IPC_SCHEME_SHM: rc = ipc_mq_name_check(a->name); break;
    case IPC_SCHEME_SYSV: rc = ipc__parse_sysv(a); break;
    }
    while (rc == 0 && q) { /* the options: q is at the '?' or the '&' before each */
        const char *p = q + 1, *amp = strchr(p, '&');
        n = amp ? (size_t)(amp - p) : strlen(p);
        rc = ipc__parse_option(a, p, n, &seen);
        q = amp;
    }
    return rc;
}

/* ==== 6. monitoring ======================================================= */

IPC_DEF IPC__UNUSED const char *ipc_kind_name(ipc_kind kind) {
    switch (kind) {
    case IPC_KIND_SYSV_MSG: return "sysv-msg";
    case IPC_KIND_SYSV_SHM: return "sysv-shm";
    case IPC_KIND_SYSV_SEM: return "sysv-sem";
    case IPC_KIND_POSIX_MQ: return "posix-mq";
    case IPC_KIND_POSIX_SHM: return "posix-shm";
    case IPC_KIND_UNIX_SOCKET: return "unix";
    case IPC_KIND_PIPE: return "pipe";
    case IPC_KIND_FIFO: return "fifo";
    case IPC_KIND_SOCKET: return "socket";
    case IPC_KIND_MEMFD: return "memfd";
    }
    return "?";
}

static void ipc__object_init(ipc_object *o, ipc_kind kind) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->id = -1;
    o->bytes = o->count = o->capacity = -1;
    o->fd = -1;
}

/* Copies at most the name field's size, always terminated. */
static void ipc__object_name(ipc_object *o, const char *s) {
    size_t n = strlen(s);
    if (n >= sizeof o->name) n = sizeof o->name - 1;
    memcpy(o->name, s, n);
    o->name[n] = 0;
}

/* The next whitespace-separated field of *p, NUL-terminated in place;
   NULL when the line has no more. */
static char *ipc__field(char **p) {
    char *s = *p, *start;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++; /* a line may keep its newline */
    if (!*s) return NULL;
    start = s;
    while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') s++;
    if (*s) *s++ = 0;
    *p = s;
    return start;
}

/* A whole field as a number in base (8, 10, 16) within [lo, hi]. */
static int ipc__number(const char *s, int base, long long lo, long long hi, long long *out) {
    char *end;
    long long v;
    if (!s || !*s) return IPC_EFRAME;
    errno = 0;
    v = strtoll(s, &end, base);
    if (errno || *end || v < lo || v > hi) return IPC_EFRAME;
    *out = v;
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_parse_sysvipc(ipc_kind kind, const char *header, const char *line, ipc_object *o) {
    char hbuf[512], lbuf[512], *hp = hbuf, *lp = lbuf, *name, *val;
    const char *idcol = kind == IPC_KIND_SYSV_MSG ? "msqid" : kind == IPC_KIND_SYSV_SHM ? "shmid" : "semid";
    int fields = 0, seen_key = 0, seen_id = 0;
    if (kind != IPC_KIND_SYSV_MSG && kind != IPC_KIND_SYSV_SHM && kind != IPC_KIND_SYSV_SEM) return -EINVAL;
    if (strlen(header) >= sizeof hbuf || strlen(line) >= sizeof lbuf) return IPC_EFRAME;
    strcpy(hbuf, header);
    strcpy(lbuf, line);
    ipc__object_init(o, kind);
    /* Columns are matched by the header's names, so a kernel that adds one
       (shm gained rss and swap) still parses. */
    while ((name = ipc__field(&hp)) != NULL) {
        long long v;
        int rc;
        if (!(val = ipc__field(&lp))) return IPC_EFRAME;
        fields++;
        if (!strcmp(name, "perms")) rc = ipc__number(val, 8, 0, 07777, &v);
        else rc = ipc__number(val, 10, INT64_MIN + 1, INT64_MAX, &v);
        if (rc < 0) return rc;
        if (!strcmp(name, "key")) {
            if (v < INT32_MIN || v > INT32_MAX) return IPC_EFRAME;
            o->key = (int)v, seen_key = 1;
        } else if (!strcmp(name, idcol)) {
            if (v < 0 || v > INT32_MAX) return IPC_EFRAME;
            o->id = (int)v, seen_id = 1;
        } else if (!strcmp(name, "perms")) {
            o->mode = (unsigned)v & 0777;
        } else if (!strcmp(name, "uid") || !strcmp(name, "gid")) {
            if (v < 0 || v > UINT32_MAX) return IPC_EFRAME;
            if (name[0] == 'u') o->uid = (uid_t)v;
            else o->gid = (gid_t)v;
        } else if (!strcmp(name, "cbytes") || !strcmp(name, "size")) {
            if (v < 0) return IPC_EFRAME;
            o->bytes = v;
        } else if (!strcmp(name, "qnum") || !strcmp(name, "nattch") || !strcmp(name, "nsems")) {
            if (v < 0) return IPC_EFRAME;
            o->count = v;
        } else if (!strcmp(name, "lspid") || !strcmp(name, "cpid") || !strcmp(name, "lrpid") ||
                   !strcmp(name, "lpid")) {
            if (v < 0 || v > INT32_MAX) return IPC_EFRAME;
            o->pid[!strcmp(name, "lrpid") || !strcmp(name, "lpid")] = (pid_t)v; /* [0] send/creator, [1] receive/last */
        }
    }
    if (ipc__field(&lp) || !seen_key || !seen_id || fields < 3) return IPC_EFRAME;
    return 0;
}

IPC_DEF IPC__UNUSED int ipc_parse_net_unix(const char *line, ipc_object *o) {
    /* Num: RefCount Protocol Flags Type St Inode [Path], all hex but Inode;
       the path is the rest of the line (it may hold spaces). */
    static const int base[7] = {0 /* Num: only checked */, 16, 16, 16, 16, 16, 10};
    static const long long max[7] = {0, UINT32_MAX, UINT32_MAX, UINT32_MAX, 0xFFFF, 0xFF, INT64_MAX};
    char buf[512], *p = buf, *f;
    long long v[7];
    size_t len;
    int i;
    if (strlen(line) >= sizeof buf) return IPC_EFRAME;
    strcpy(buf, line);
    ipc__object_init(o, IPC_KIND_UNIX_SOCKET);
    for (i = 0; i < 7; i++) {
        if (!(f = ipc__field(&p))) return IPC_EFRAME;
        if (i == 0) { /* "Num:", a kernel address: hex digits, not a number we keep */
            if ((len = strlen(f)) < 2 || len > 17 || f[len - 1] != ':' || strspn(f, "0123456789abcdefABCDEF") != len - 1)
                return IPC_EFRAME;
            v[0] = 0;
            continue;
        }
        if (ipc__number(f, base[i], 0, max[i], &v[i]) < 0) return IPC_EFRAME;
    }
    while (*p == ' ' || *p == '\t') p++;
    len = strlen(p);
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r')) p[--len] = 0;
    if (len >= sizeof o->name) return IPC_EFRAME; /* a cut name would name another object */
    o->listening = (v[3] & 0x10000) != 0; /* __SO_ACCEPTCON */
    o->sock_type = (int)v[4];
    o->sock_state = (int)v[5];
    o->inode = (unsigned long)v[6];
    ipc__object_name(o, p);
    return 0;
}

/* Lines of a /proc file through a fixed buffer: no allocation, and a line
   longer than the buffer is skipped and counted, never cut in two. */
typedef struct ipc__lines {
    int fd;
    size_t start, end;
    char buf[4096];
} ipc__lines;

static int ipc__lines_open(ipc__lines *l, int dirfd, const char *path) {
    l->start = l->end = 0;
    l->fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    return l->fd < 0 ? ipc__err() : 0;
}

static char *ipc__lines_next(ipc__lines *l, unsigned *skipped) {
    int skipping = 0;
    for (;;) {
        char *nl = (char *)memchr(l->buf + l->start, '\n', l->end - l->start);
        ssize_t n;
        if (nl) {
            char *line = l->buf + l->start;
            *nl = 0;
            l->start = (size_t)(nl - l->buf) + 1;
            if (!skipping) return line;
            skipping = 0;
            continue;
        }
        if (l->start == 0 && l->end == sizeof l->buf - 1) { /* a line longer than the buffer */
            if (!skipping && skipped) ++*skipped;
            skipping = 1;
            l->end = 0;
        }
        memmove(l->buf, l->buf + l->start, l->end - l->start);
        l->end -= l->start;
        l->start = 0;
        n = read(l->fd, l->buf + l->end, sizeof l->buf - 1 - l->end);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { /* the end: a last line without its newline still counts */
            if (l->end == 0 || skipping) return NULL;
            l->buf[l->end] = 0;
            l->start = l->end;
            return l->buf;
        }
        l->end += (size_t)n;
    }
}

/* Scans one /proc/sysvipc table. */
static int ipc__scan_sysv_table(const char *path, ipc_kind kind, ipc_object_fn fn, void *arg, unsigned *skipped) {
    ipc__lines l;
    char header[512], *line;
    int rc = ipc__lines_open(&l, AT_FDCWD, path);
    if (rc < 0) return rc;
    if (!(line = ipc__lines_next(&l, skipped)) || strlen(line) >= sizeof header) {
        close(l.fd);
        return IPC_EFRAME;
    }
    strcpy(header, line);
    while (rc == 0 && (line = ipc__lines_next(&l, skipped)) != NULL) {
        ipc_object o;
        if (ipc_parse_sysvipc(kind, header, line, &o) < 0) {
            if (skipped) ++*skipped;
            continue;
        }
        if (kind == IPC_KIND_SYSV_MSG) {
            struct msqid_ds ds; /* the capacity is not in the table */
            if (msgctl(o.id, IPC_STAT, &ds) == 0) o.capacity = (int64_t)ds.msg_qbytes;
        }
        rc = fn(&o, arg);
    }
    close(l.fd);
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_scan_sysv(ipc_object_fn fn, void *arg, unsigned *skipped) {
    int rc = ipc__scan_sysv_table("/proc/sysvipc/msg", IPC_KIND_SYSV_MSG, fn, arg, skipped);
    if (rc == 0) rc = ipc__scan_sysv_table("/proc/sysvipc/shm", IPC_KIND_SYSV_SHM, fn, arg, skipped);
    if (rc == 0) rc = ipc__scan_sysv_table("/proc/sysvipc/sem", IPC_KIND_SYSV_SEM, fn, arg, skipped);
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_scan_unix_sockets(ipc_object_fn fn, void *arg, unsigned *skipped) {
    ipc__lines l;
    char *line;
    int rc = ipc__lines_open(&l, AT_FDCWD, "/proc/net/unix");
    if (rc < 0) return rc;
    (void)ipc__lines_next(&l, skipped); /* the header */
    while (rc == 0 && (line = ipc__lines_next(&l, skipped)) != NULL) {
        ipc_object o;
        if (ipc_parse_net_unix(line, &o) < 0) {
            if (skipped) ++*skipped;
            continue;
        }
        rc = fn(&o, arg);
    }
    close(l.fd);
    return rc;
}

/* Marks a shm object that holds an ipc.h ring, from a copy of its header:
   a valid one of the current version whose capacity matches the size.
   (Read, not mapped: a hostile object can neither fault nor block us.) */
static void ipc__scan_ring(int dir, const char *name, const struct stat *st, ipc_object *o) {
    struct ipc__ring_hdr h;
    int fd;
    if (st->st_size < IPC_RING_HEADER + IPC_RING_MIN) return;
    if ((fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) return;
    if (pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && h.magic == IPC__RING_MAGIC &&
        h.version == IPC_RING_VERSION && h.data_offset == IPC_RING_HEADER &&
        h.capacity == (uint64_t)st->st_size - IPC_RING_HEADER) {
        o->ring = 1;
        o->capacity = (int64_t)h.capacity;
        o->count = h.sent >= h.received ? (int64_t)(h.sent - h.received) : -1;
    }
    close(fd);
}

/* Every entry of a directory of IPC objects (/dev/shm, /dev/mqueue), with
   its owner, mode and size from fstatat (no link followed). */
static int ipc__scan_dir(const char *dir, ipc_kind kind, ipc_object_fn fn, void *arg, unsigned *skipped) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;
    if (!d) return ipc__err();
    while (rc == 0 && (e = readdir(d)) != NULL) {
        struct stat st;
        ipc_object o;
        char name[sizeof o.name];
        if (e->d_name[0] == '.') continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (skipped) ++*skipped; /* gone since readdir */
            continue;
        }
        ipc__object_init(&o, kind);
        name[0] = '/';
        name[1] = 0;
        strncat(name, e->d_name, sizeof name - 2);
        ipc__object_name(&o, name);
        o.uid = st.st_uid;
        o.gid = st.st_gid;
        o.mode = st.st_mode & 0777;
        o.inode = (unsigned long)st.st_ino;
        o.bytes = (int64_t)st.st_size;
        if (kind == IPC_KIND_POSIX_MQ) { /* depth and capacity, where we may open it */
            mqd_t q = mq_open(name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
            struct mq_attr a;
            if (q != (mqd_t)-1) {
                if (mq_getattr(q, &a) == 0) o.count = a.mq_curmsgs, o.capacity = a.mq_maxmsg;
                mq_close(q);
            }
        }
        if (kind == IPC_KIND_POSIX_SHM && S_ISREG(st.st_mode)) ipc__scan_ring(dirfd(d), e->d_name, &st, &o);
        rc = fn(&o, arg);
    }
    closedir(d);
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_scan_posix_mq(ipc_object_fn fn, void *arg, unsigned *skipped) {
    struct statfs sf;
    /* Only the real mqueue file system: an ordinary /dev/mqueue directory
       would list nothing true. */
    if (statfs("/dev/mqueue", &sf) < 0 || sf.f_type != 0x19800202 /* MQUEUE_MAGIC */) return -ENOENT;
    return ipc__scan_dir("/dev/mqueue", IPC_KIND_POSIX_MQ, fn, arg, skipped);
}

IPC_DEF IPC__UNUSED int ipc_scan_posix_shm(ipc_object_fn fn, void *arg, unsigned *skipped) {
    return ipc__scan_dir("/dev/shm", IPC_KIND_POSIX_SHM, fn, arg, skipped);
}

/* What a /proc/PID/fd link target or a maps path says an object is; proc
   is the /proc/PID/fd/N path to look through for what the name alone does
   not tell (a FIFO, a POSIX queue), or NULL for a mapping. 0: not IPC. */
static ipc_kind ipc__classify(const char *target, const char *proc) {
    struct stat st;
    struct statfs sf;
    if (!strncmp(target, "pipe:[", 6)) return IPC_KIND_PIPE;
    if (!strncmp(target, "socket:[", 8)) return IPC_KIND_SOCKET;
    if (!strncmp(target, "/memfd:", 7)) return IPC_KIND_MEMFD;
    if (!strncmp(target, "/dev/shm/", 9)) return IPC_KIND_POSIX_SHM;
    if (!strncmp(target, "/SYSV", 5)) return IPC_KIND_SYSV_SHM;
    if (!proc) return (ipc_kind)0;
    if (statfs(proc, &sf) == 0 && sf.f_type == 0x19800202 /* MQUEUE_MAGIC */) return IPC_KIND_POSIX_MQ;
    if (stat(proc, &st) == 0 && S_ISFIFO(st.st_mode)) return IPC_KIND_FIFO;
    return (ipc_kind)0;
}

/* The process's open descriptors. */
static int ipc__scan_fds(pid_t pid, ipc_object_fn fn, void *arg, unsigned *skipped) {
    char dir[48], proc[48 + sizeof(((struct dirent *)0)->d_name)];
    DIR *d;
    struct dirent *e;
    int rc = 0;
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    if (!(d = opendir(dir))) {
        if (errno != EACCES && errno != EPERM) return errno == ENOENT ? -ESRCH : ipc__err();
        if (skipped) ++*skipped; /* another user's process: its maps may still be readable */
        return 0;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        ipc_object o;
        struct stat st;
        ssize_t n;
        ipc_kind kind;
        if (e->d_name[0] == '.' || (pid == getpid() && atoi(e->d_name) == dirfd(d))) continue;
        n = readlinkat(dirfd(d), e->d_name, o.name, sizeof o.name - 1);
        if (n < 0 || (size_t)n == sizeof o.name - 1) { /* closed since readdir, not ours, or cut */
            if (skipped) ++*skipped;
            continue;
        }
        o.name[n] = 0;
        snprintf(proc, sizeof proc, "%s/%s", dir, e->d_name);
        if (!(kind = ipc__classify(o.name, proc))) continue;
        {
            char name[sizeof o.name];
            memcpy(name, o.name, sizeof name);
            ipc__object_init(&o, kind);
            ipc__object_name(&o, kind == IPC_KIND_POSIX_SHM ? name + 8 : name); /* "/NAME", as the shm scan says */
        }
        o.holder = pid;
        o.fd = atoi(e->d_name);
        if (stat(proc, &st) == 0) { /* through the link: the object itself */
            o.inode = (unsigned long)st.st_ino;
            o.uid = st.st_uid;
            o.gid = st.st_gid;
            o.mode = st.st_mode & 0777;
            if (S_ISREG(st.st_mode)) o.bytes = (int64_t)st.st_size;
        }
        rc = fn(&o, arg);
    }
    closedir(d);
    return rc;
}

/* The process's shared mappings: POSIX and System V shared memory and
   memfds, once per object (a mapping may span several lines). */
static int ipc__scan_maps(pid_t pid, ipc_object_fn fn, void *arg, unsigned *skipped) {
    char path[48], *line;
    unsigned long last = 0;
    ipc__lines l;
    int rc;
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    if ((rc = ipc__lines_open(&l, AT_FDCWD, path)) < 0) {
        if (rc != -EACCES && rc != -EPERM) return rc == -ENOENT ? -ESRCH : rc;
        if (skipped) ++*skipped;
        return 0;
    }
    while (rc == 0 && (line = ipc__lines_next(&l, skipped)) != NULL) {
        /* address perms offset dev inode path */
        char *p = line, *f[5], *file;
        long long ino;
        ipc_kind kind;
        ipc_object o;
        int i;
        for (i = 0; i < 5; i++)
            if (!(f[i] = ipc__field(&p))) break;
        if (i < 5 || ipc__number(f[4], 10, 0, INT64_MAX, &ino) < 0) continue;
        file = p;
        while (*file == ' ' || *file == '\t') file++;
        if (!*file || !(kind = ipc__classify(file, NULL)) || (unsigned long)ino == last) continue;
        last = (unsigned long)ino;
        ipc__object_init(&o, kind);
        ipc__object_name(&o, kind == IPC_KIND_POSIX_SHM ? file + 8 : file); /* "/NAME", as the shm scan says */
        o.inode = (unsigned long)ino;
        o.holder = pid;
        if (kind == IPC_KIND_SYSV_SHM) { /* "/SYSV%08x": the key */
            long long key;
            char hex[9];
            memcpy(hex, file + 5, 8);
            hex[8] = 0;
            if (ipc__number(hex, 16, 0, 0xFFFFFFFFLL, &key) == 0) o.key = (int)(uint32_t)key;
            if (ino <= INT32_MAX) o.id = (int)ino; /* a segment's inode number is its shmid */
        }
        rc = fn(&o, arg);
    }
    close(l.fd);
    return rc;
}

IPC_DEF IPC__UNUSED int ipc_scan_process(pid_t pid, ipc_object_fn fn, void *arg, unsigned *skipped) {
    char path[32];
    struct stat st;
    int rc;
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    if (pid <= 0 || stat(path, &st) < 0) return -ESRCH;
    rc = ipc__scan_fds(pid, fn, arg, skipped);
    return rc ? rc : ipc__scan_maps(pid, fn, arg, skipped);
}

#endif /* IPC_IMPLEMENTATION_DONE */
#endif /* IPC_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the ipc.h authors
Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this
software, either in source code form or as a compiled binary, for any purpose,
commercial or non-commercial, and by any means.
In jurisdictions that recognize copyright laws, the author or authors of this
software dedicate any and all copyright interest in the software to the public
domain. We make this dedication in addition to any and all other rights.
------------------------------------------------------------------------------
*/
