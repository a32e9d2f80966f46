/* test_util.c - SHA-256 vectors, the PRNG, paths, edit distance. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "rng.h"
#include "tb_test.h"
#include "util.h"

static void test_sha256_vectors(void)
{
    char hex[65];
    /* FIPS 180-4 examples. */
    tb_sha256_hex("abc", 3, 32, hex);
    CU_ASSERT_STRING_EQUAL(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    tb_sha256_hex("", 0, 32, hex);
    CU_ASSERT_STRING_EQUAL(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    tb_sha256_hex(two, strlen(two), 32, hex);
    CU_ASSERT_STRING_EQUAL(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* One million 'a', fed in uneven pieces to exercise the block logic. */
    tb_sha256 h;
    uint8_t d[32];
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    tb_sha256_init(&h);
    size_t off = 0, step = 1;
    while (off < 1000000) {
        size_t n = step < 1000000 - off ? step : 1000000 - off;
        tb_sha256_update(&h, a + off, n);
        off += n;
        step = step * 3 % 997 + 1;
    }
    tb_sha256_final(&h, d);
    free(a);
    CU_ASSERT_EQUAL(d[0], 0xcd);
    CU_ASSERT_EQUAL(d[1], 0xc7);
    CU_ASSERT_EQUAL(d[31], 0xd0);
    tb_sha256_hex("abc", 3, 8, hex);
    CU_ASSERT_STRING_EQUAL(hex, "ba7816bf8f01cfea");
}

static void test_rng_deterministic(void)
{
    tb_rng a, b;
    tb_rng_seed(&a, 42);
    tb_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(tb_rng_next(&a), tb_rng_next(&b));
    tb_rng_seed(&b, 43);
    CU_ASSERT_NOT_EQUAL(tb_rng_next(&a), tb_rng_next(&b));
    /* splitmix64(0) first output is a published constant. */
    tb_rng_seed(&a, 0);
    CU_ASSERT_EQUAL(a.s[0], 0xe220a8397b1dcdafULL);
    /* below() stays in range and hits every value. */
    int seen[7] = {0};
    for (int i = 0; i < 700; i++) {
        uint64_t v = tb_rng_below(&a, 7);
        CU_ASSERT(v < 7);
        if (v < 7)
            seen[v]++;
    }
    for (int i = 0; i < 7; i++)
        CU_ASSERT(seen[i] > 50);
    double u = tb_rng_uniform(&a);
    CU_ASSERT(u >= 0.0 && u < 1.0);
    CU_ASSERT_NOT_EQUAL(tb_rng_derive(1, "a"), tb_rng_derive(1, "b"));
    CU_ASSERT_EQUAL(tb_rng_derive(1, "a"), tb_rng_derive(1, "a"));
}

static void check_resolve(const char *base, const char *path, const char *want)
{
    char *got = tb_path_resolve(base, path);
    CU_ASSERT_STRING_EQUAL(got, want);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "resolve(%s, %s) = %s, want %s\n", base ? base : "(null)",
                path ? path : "(null)", got ? got : "(null)", want);
    free(got);
}

static void test_paths(void)
{
    check_resolve("/a/b", "c.yaml", "/a/b/c.yaml");
    check_resolve("/a/b", "../shared/x", "/a/shared/x");
    check_resolve("/a/b", "/abs/./y", "/abs/y");
    check_resolve("/a/b", "../../../x", "/x");
    check_resolve("rel", "../../x", "../x");
    check_resolve("", "a/./b/../c", "a/c");
    check_resolve(NULL, ".", ".");
    char *d = tb_path_dirname("/a/b/c");
    CU_ASSERT_STRING_EQUAL(d, "/a/b");
    free(d);
    d = tb_path_dirname("c");
    CU_ASSERT_STRING_EQUAL(d, ".");
    free(d);
}

static void test_edit_distance(void)
{
    CU_ASSERT_EQUAL(tb_edit_distance("kitten", "sitting"), 3);
    CU_ASSERT_EQUAL(tb_edit_distance("", "abc"), 3);
    CU_ASSERT_EQUAL(tb_edit_distance("same", "same"), 0);
    const char *keys[] = {"models", "benchmarks", "compressions", "seed"};
    CU_ASSERT_EQUAL(tb_edit_distance("sede", "seed"), 1);
    const char *c = tb_closest("benchmark", keys, 4);
    CU_ASSERT(c && !strcmp(c, "benchmarks"));
    c = tb_closest("sede", keys, 4);
    CU_ASSERT(c && !strcmp(c, "seed"));
    CU_ASSERT_PTR_NULL(tb_closest("zzzzzz", keys, 4));
}

static void test_buf_json(void)
{
    tb_buf b = {0};
    tb_buf_json_string(&b, "a\"b\\c\n\x01");
    CU_ASSERT_STRING_EQUAL(tb_buf_str(&b), "\"a\\\"b\\\\c\\n\\u0001\"");
    tb_buf_free(&b);
    tb_buf_printf(&b, "%d-%s", 7, "x");
    CU_ASSERT_STRING_EQUAL(tb_buf_str(&b), "7-x");
    CU_ASSERT_EQUAL(b.len, 3);
    tb_buf_free(&b);
}

int tb_test_register(void)
{
    static const tb_test_case cases[] = {
        {"sha256 FIPS vectors", test_sha256_vectors},
        {"rng deterministic", test_rng_deterministic},
        {"path resolution", test_paths},
        {"edit distance and did-you-mean", test_edit_distance},
        {"buffer and JSON strings", test_buf_json},
        {NULL, NULL}};
    return tb_test_add_suite("util", cases);
}
