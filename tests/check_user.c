/* check.sh: a second translation unit that only includes the header and
   touches one symbol of each section, so the link proves each is there. */
#include "ipc.h"
#include <string.h>

#ifndef __cplusplus
int main(void) {
    uint8_t h[IPC_HEADER_MAX];
    const char *s = ipc_strerror(IPC_EFRAME);                    /* 0 */
    int n = ipc_varint_encode(h, 300);                           /* 1 */
    int rc = ipc_write_all(-1, "x", 1, NULL, 0);                 /* 2 */
    return (s && strlen(s) > 0 && n == 2 && rc < 0) ? 0 : 1;
}
#endif
