/* Fuzzes the LEN32 incremental decoder: the stream decoded whole, a byte at a
   time and in input-chosen chunks, in both memory modes, must give exactly
   the frames and errors the wire format says (see fuzz_decoder.h for the
   input layout and every invariant checked). */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"

#define FUZZ_CODEC IPC_LEN32
#include "fuzz_decoder.h"
