/* The one translation unit of the unit tests that holds the implementation,
   with the test hooks compiled in (IPC_TEST_HOOKS comes from the Makefile). */
#define _GNU_SOURCE
#define IPC_IMPLEMENTATION
#include "ipc.h"
