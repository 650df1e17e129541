/* check.sh: the implementation's translation unit. With CHECK_STATIC it is
   the whole program (IPC_STATIC makes every function file-local). */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"
#include "ipc.h" /* a second include is harmless */

#ifdef CHECK_STATIC
int main(void) {
    uint8_t h[IPC_HEADER_MAX];
    ipc_decoder d;
    ipc_decoder_init(&d, IPC_VARINT, 0, NULL, 0);
    ipc_decoder_free(&d);
    return ipc_varint_encode(h, 300) == 2 && ipc_deadline(0) == IPC_DEADLINE_TRY &&
                   ipc_write_all(-1, "", 1, NULL, 0) == -EBADF
               ? 0
               : 1;
}
#endif
