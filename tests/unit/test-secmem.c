/* Unit tests of src/util/secmem.c: allocations are whole pages, excluded from core dumps
 * (smaps' "dd" flag), and nook_secmem_read_fd reads to the end, growing, and refuses
 * more than its bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/secmem.h"

/* n bytes of a pattern through a pipe, read back with the bound max. */
static int through_pipe(size_t n, size_t max, void **ret, size_t *ret_len, size_t *ret_cap) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(p[0]);
                char b[1000];
                for (size_t i = 0; i < sizeof(b); i++)
                        b[i] = (char)('a' + i % 26);
                for (size_t off = 0; off < n;) {
                        size_t k = n - off < sizeof(b) ? n - off : sizeof(b);
                        if (write(p[1], b, k) != (ssize_t)k)
                                _exit(1);
                        off += k;
                }
                _exit(0);
        }
        close(p[1]);
        int r = nook_secmem_read_fd(p[0], max, ret, ret_len, ret_cap);
        close(p[0]);
        return r;
}

static void test_read_fd_reads_to_the_end_within_its_bound(void **state) {
        (void)state;
        size_t sizes[] = { 0, 1, 4095, 4096, 4097, 100000 };
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                void *buf = NULL;
                size_t len = 0, cap = 0;
                assert_int_equal(through_pipe(sizes[i], 100000, &buf, &len, &cap), 0);
                assert_int_equal(len, sizes[i]);
                assert_true(cap >= len);
                for (size_t k = 0; k < len; k++)
                        assert_int_equal(((char *)buf)[k], 'a' + (k % 1000) % 26);
                nook_secmem_free(buf, cap);
        }
}

static void test_read_fd_refuses_more_than_its_bound(void **state) {
        (void)state;
        void *buf = (void *)1;
        size_t len = 7, cap = 7;
        assert_int_equal(through_pipe(100001, 100000, &buf, &len, &cap), -EFBIG);
        assert_ptr_equal(buf, (void *)1); /* nothing returned */
        assert_int_equal(through_pipe(5000, 4096, &buf, &len, &cap), -EFBIG);
        assert_int_equal(through_pipe(4096, 4096, &buf, &len, &cap), 0);
        assert_int_equal(len, 4096);
        nook_secmem_free(buf, cap);
}

/* The allocation's mapping is marked "dd" (do not dump) in /proc/self/smaps. */
static void test_alloc_is_not_dumped(void **state) {
        (void)state;
        char *p = nook_secmem_alloc(10000);
        assert_non_null(p);
        memset(p, 'x', 10000);
        FILE *f = fopen("/proc/self/smaps", "re");
        assert_non_null(f);
        char line[512];
        bool in = false, dd = false;
        while (fgets(line, sizeof(line), f)) {
                unsigned long lo, hi;
                if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
                        in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
                if (in && strncmp(line, "VmFlags:", 8) == 0 && strstr(line, " dd"))
                        dd = true;
        }
        fclose(f);
        assert_true(dd);
        nook_secmem_free(p, 10000);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_fd_reads_to_the_end_within_its_bound),
                cmocka_unit_test(test_read_fd_refuses_more_than_its_bound),
                cmocka_unit_test(test_alloc_is_not_dumped),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
