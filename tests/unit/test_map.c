/*
 * test_map.c — the string map: put/get/del, growth with tombstones, walks that delete, and the sliced
 * sweep that services use to forget old entries without stopping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "map.h"

static void *val(long i) { return (void *)(intptr_t)(i + 1); }

static void put_get_replace_delete(void **state)
{
    (void)state;
    sq_map *m = sq_map_new(0);
    assert_null(sq_map_get(m, "a"));
    assert_null(sq_map_put(m, "a", val(1)));
    assert_ptr_equal(sq_map_put(m, "a", val(2)), val(1)); /* replace returns the old value */
    assert_ptr_equal(sq_map_get(m, "a"), val(2));
    assert_int_equal(sq_map_len(m), 1);
    assert_null(sq_map_put(m, "", val(3))); /* the empty key is a key */
    assert_ptr_equal(sq_map_get(m, ""), val(3));
    assert_ptr_equal(sq_map_del(m, "a"), val(2));
    assert_null(sq_map_del(m, "a"));
    assert_null(sq_map_get(m, "a"));
    assert_int_equal(sq_map_len(m), 1);
    sq_map_free(m);
    sq_map_free(NULL);
}

/* Keys that share a long prefix and differ only at the end; many deletes leave tombstones the map must
 * reuse and clean without losing a live key. */
static void many_similar_keys_with_churn(void **state)
{
    (void)state;
    enum { N = 200000 };
    sq_map *m = sq_map_new(16);
    char k[64];
    for (long i = 0; i < N; i++) {
        snprintf(k, sizeof k, "bench.0123abcd.ticket-%ld", i);
        assert_null(sq_map_put(m, k, val(i)));
        if (i % 3 == 0) { /* delete an older one as we go */
            snprintf(k, sizeof k, "bench.0123abcd.ticket-%ld", i / 2);
            sq_map_del(m, k);
        }
    }
    long live = 0;
    for (long i = 0; i < N; i++) {
        snprintf(k, sizeof k, "bench.0123abcd.ticket-%ld", i);
        void *v = sq_map_get(m, k);
        if (v) {
            assert_ptr_equal(v, val(i));
            live++;
        }
    }
    assert_int_equal(live, (long)sq_map_len(m));
    assert_true(live > N / 2 && live < N);
    sq_map_free(m);
}

static int drop_odd(void *ctx, const char *key, void *value)
{
    long *visits = ctx;
    (*visits)++;
    (void)key;
    return ((intptr_t)value - 1) % 2 == 1;
}

/* A map of k0..k(n-1), each with val(i). */
static sq_map *numbered(long n)
{
    sq_map *m = sq_map_new(4);
    char k[32];
    for (long i = 0; i < n; i++) {
        snprintf(k, sizeof k, "k%ld", i);
        sq_map_put(m, k, val(i));
    }
    return m;
}

static void each_deletes_what_it_is_told(void **state)
{
    (void)state;
    sq_map *m = numbered(1000);
    long visits = 0;
    sq_map_each(m, drop_odd, &visits);
    assert_int_equal(visits, 1000);
    assert_int_equal(sq_map_len(m), 500);
    assert_non_null(sq_map_get(m, "k2"));
    assert_null(sq_map_get(m, "k3"));
    sq_map_free(m);
}

static long freed;
static void count_free(void *v)
{
    freed++;
    free(v);
}

static void clear_frees_every_value_and_the_map_serves_again(void **state)
{
    sq_map *m = sq_map_new(16);
    char key[32];
    for (long i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k-%ld", i);
        assert_null(sq_map_put(m, key, malloc(8)));
    }
    for (long i = 0; i < 5000; i += 2) { /* tombstones */
        snprintf(key, sizeof key, "k-%ld", i);
        free(sq_map_del(m, key));
    }
    freed = 0;
    sq_map_clear(m, count_free);
    assert_int_equal(freed, 2500);
    assert_int_equal(sq_map_len(m), 0);
    for (long i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k-%ld", i);
        assert_null(sq_map_get(m, key));
    }
    /* used again, batch after batch, as the recorder does with its newest-snapshot map */
    for (int round = 0; round < 50; round++) {
        for (long i = 0; i < 3000; i++) {
            snprintf(key, sizeof key, "r%d-%ld", round, i);
            assert_null(sq_map_put(m, key, val(i)));
        }
        assert_int_equal(sq_map_len(m), 3000);
        snprintf(key, sizeof key, "r%d-%d", round, 1234);
        assert_ptr_equal(sq_map_get(m, key), val(1234));
        sq_map_clear(m, NULL);
    }
    sq_map_clear(m, NULL); /* an empty map */
    assert_int_equal(sq_map_len(m), 0);
    sq_map_free(m);
}

static void sweep_covers_the_map_in_share_calls(void **state)
{
    (void)state;
    sq_map *m = numbered(50000);
    size_t cursor = 0;
    long visits = 0;
    int calls = 0;
    do { /* one round: until the cursor wraps */
        sq_map_sweep(m, &cursor, 100, drop_odd, &visits);
        calls++;
    } while (cursor != 0 && calls < 1000);
    assert_true(calls >= 99 && calls <= 101); /* a hundredth of the slots per call */
    assert_int_equal(visits, 50000);          /* every entry once */
    assert_int_equal(sq_map_len(m), 25000);
    assert_null(sq_map_get(m, "k49999"));
    assert_non_null(sq_map_get(m, "k49998"));
    /* a small map is swept in slices of at least 64 slots, and a cursor past the end starts over */
    sq_map *small = sq_map_new(4);
    sq_map_put(small, "x", val(1));
    cursor = 1u << 30;
    visits = 0;
    sq_map_sweep(small, &cursor, 100, drop_odd, &visits);
    assert_int_equal(visits, 1);
    assert_int_equal(cursor, 0);
    assert_int_equal(sq_map_len(small), 0);
    sq_map_free(small);
    sq_map_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_replace_delete),
        cmocka_unit_test(many_similar_keys_with_churn),
        cmocka_unit_test(each_deletes_what_it_is_told),
        cmocka_unit_test(sweep_covers_the_map_in_share_calls),
        cmocka_unit_test(clear_frees_every_value_and_the_map_serves_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
