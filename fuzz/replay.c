/* A plain driver for the fuzz harnesses, with no fuzzing engine: links with
   one fuzz/fuzz_NAME.c and feeds every file of the directories (or files)
   named on the command line to LLVMFuzzerTestOneInput, in name order.
       build/replay/NAME fuzz/corpus/NAME fuzz/regressions/NAME
   A missing or empty directory is fine. Ends with "N passed, N failed": N
   passed is the inputs replayed; a file that cannot be read is a failure. An
   input that breaks an invariant aborts inside the harness (the make step
   fails), after this driver has named the file on stderr. */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a harness, as with libFuzzer. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);
/* Present when built with a sanitizer: called before it ends the process. */
__attribute__((weak)) void __sanitizer_set_death_callback(void (*callback)(void));

static const char *current; /* the input being replayed, for the crash note */

static void say_current(void) {
    if (current) {
        (void)!write(2, "replay: failed on ", 18);
        (void)!write(2, current, strlen(current));
        (void)!write(2, "\n", 1);
    }
}
static void on_abort(int sig) {
    say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays one file; returns 0, or -1 when it cannot be read. */
static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t size = 0, room = 0, got;
    int ok = 1;
    if (!f) {
        perror(path);
        return -1;
    }
    for (;;) {
        if (size == room) {
            uint8_t *p = (uint8_t *)realloc(data, room = room ? 2 * room : 4096);
            if (!p) {
                ok = 0;
                break;
            }
            data = p;
        }
        got = fread(data + size, 1, room - size, f);
        size += got;
        if (got == 0) {
            if (ferror(f)) {
                perror(path);
                ok = 0;
            }
            break;
        }
    }
    fclose(f);
    if (ok) {
        /* The input in a buffer of exactly its size, as libFuzzer gives it,
           so an over-read by the harness or the library is caught. */
        uint8_t *exact = (uint8_t *)malloc(size ? size : 1);
        if (!exact) {
            ok = 0;
        } else {
            if (size) memcpy(exact, data, size);
            current = path;
            LLVMFuzzerTestOneInput(exact, size);
            current = NULL;
            free(exact);
        }
    }
    free(data);
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    unsigned long passed = 0, failed = 0;
    int i;
    signal(SIGABRT, on_abort);
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(say_current);
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    for (i = 1; i < argc; i++) {
        struct stat st;
        DIR *dir;
        struct dirent *e;
        char **names = NULL;
        size_t n = 0, room = 0, k;
        if (stat(argv[i], &st) < 0) continue; /* a missing directory: nothing to replay */
        if (S_ISREG(st.st_mode)) {
            if (replay_file(argv[i]) == 0)
                passed++;
            else
                failed++;
            continue;
        }
        if (!(dir = opendir(argv[i]))) {
            perror(argv[i]);
            failed++;
            continue;
        }
        while ((e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.') continue; /* ., .., .gitkeep */
            if (n == room) {
                char **p = (char **)realloc(names, (room = room ? 2 * room : 64) * sizeof *names);
                if (!p) break;
                names = p;
            }
            names[n] = (char *)malloc(strlen(argv[i]) + strlen(e->d_name) + 2);
            if (!names[n]) break;
            sprintf(names[n], "%s/%s", argv[i], e->d_name);
            n++;
        }
        closedir(dir);
        if (n) qsort(names, n, sizeof *names, cmp_names);
        for (k = 0; k < n; k++) {
            if (stat(names[k], &st) == 0 && S_ISREG(st.st_mode)) {
                if (replay_file(names[k]) == 0)
                    passed++;
                else
                    failed++;
            }
            free(names[k]);
        }
        free(names);
    }
    printf("%lu passed, %lu failed\n", passed, failed);
    return failed ? 1 : 0;
}
