/* replay.c - runs a libFuzzer target over every file of its seed corpus, without
   libFuzzer. The Makefile builds each fuzzer that has tests/fuzz/corpus/NAME/ with
   this main and a plain C compiler (build/test/replay_NAME), so make test replays
   the seeds on every run (a crash or a failed assert is a failed test) and make
   sanitize replays them under ASan and UBSan (leaks included).

       build/test/replay_fuzz_redis_cmd [DIR]   (default: tests/fuzz/corpus/NAME)

   Prints test.h's summary line: one test per file. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef REPLAY_DIR
#error "build with -DREPLAY_DIR='\"tests/fuzz/corpus/NAME\"'"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : REPLAY_DIR;
    DIR *d = opendir(dir);
    struct dirent *de;
    int passed = 0, failed = 0;
    if (!d) {
        printf("%s: cannot open\n%s: 0 passed, 1 failed\n", dir, dir);
        return 1;
    }
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        unsigned char *buf;
        FILE *f;
        size_t n;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        buf = (unsigned char *)malloc((size_t)st.st_size + 1);
        f = fopen(path, "rb");
        n = f && buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
        if (f) fclose(f);
        if (!buf || n != (size_t)st.st_size) {
            printf("  FAIL %s: cannot read\n", path);
            failed++;
        } else {
            LLVMFuzzerTestOneInput(buf, n);     /* a failure aborts: no summary line */
            passed++;
        }
        free(buf);
    }
    closedir(d);
    if (passed + failed == 0) {
        printf("  FAIL %s: no seeds\n", dir);
        failed++;
    }
    printf("%s: %d passed, %d failed\n", dir, passed, failed);
    return failed ? 1 : 0;
}
