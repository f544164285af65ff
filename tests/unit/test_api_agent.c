/* test_api_agent.c: api/agent.c's pure and file parts: backoff bounds, atomic
 * file replacement (no temp files left, modes), publication of key and
 * certificate through one symlink swap, reading an SVID back, token files. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "../../api/internal.h"
#include "testfs.h"
#include "testpki.h"

static char dir[64];
static struct testpki pki;

static void setup(void)
{
    umask(022);
    snprintf(dir, sizeof(dir), "/tmp/test_api_agent.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    testpki_init(&pki, "example.org");
}

static void teardown(void)
{
    testfs_rmtree(dir);
    testpki_cleanup(&pki);
}

TestSuite(api_agent, .init = setup, .fini = teardown);

static char *pem_x509(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;

    cr_assert(PEM_write_bio_X509(bio, x) == 1);
    long n = BIO_get_mem_data(bio, &data);
    char *s = malloc((size_t)n + 1);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    BIO_free(bio);
    return s;
}

/* make_svid fills |s| with a fresh key and a leaf for it valid until |not_after|. */
static void make_svid(struct api_agent_svid *s, int64_t not_after)
{
    int64_t now = (int64_t)time(NULL);

    memset(s, 0, sizeof(*s));
    s->key = testpki_key_new(TESTPKI_P256);
    X509 *leaf =
        testpki_sign_leaf(&pki, s->key, "spiffe://example.org/app", now - 120, not_after, 0);
    s->key_pem = testpki_key_pem(s->key, &s->key_pem_len);
    s->cert_pem = pem_x509(leaf);
    s->cert_pem_len = strlen(s->cert_pem);
    s->bundle_pem = pem_x509(pki.root);
    s->bundle_pem_len = strlen(s->bundle_pem);
    X509_free(leaf);
}

static size_t count_entries(const char *path, const char *prefix)
{
    DIR *d = opendir(path);
    struct dirent *e;
    size_t n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

Test(api_agent, backoff_stays_within_its_exponential_ceiling_and_the_cap)
{
    for (unsigned attempt = 0; attempt < 12; attempt++) {
        int64_t ceiling = 1000LL << attempt;
        if (ceiling > 60000) {
            ceiling = 60000;
        }
        for (int i = 0; i < 2000; i++) {
            uint64_t r;
            cr_assert(RAND_bytes((unsigned char *)&r, sizeof(r)) == 1);
            int64_t d = api_agent_backoff_ms(attempt, 1000, 60000, r);
            cr_assert(d >= 100 && d <= ceiling, "attempt %u: %lld", attempt, (long long)d);
        }
    }
}

Test(api_agent, backoff_is_jittered_over_the_whole_range)
{
    int64_t lo = INT64_MAX, hi = 0;

    for (int i = 0; i < 2000; i++) {
        uint64_t r;
        cr_assert(RAND_bytes((unsigned char *)&r, sizeof(r)) == 1);
        int64_t d = api_agent_backoff_ms(6, 1000, 60000, r);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    /* Full jitter over [100, 60000]: 2000 draws reach both ends of it. */
    cr_assert_lt(lo, 6000);
    cr_assert_gt(hi, 54000);
}

Test(api_agent, backoff_does_not_overflow_after_many_attempts)
{
    cr_assert_eq(api_agent_backoff_ms(4000000000u, 1000, 60000, UINT64_MAX),
                 100 + (int64_t)(UINT64_MAX % 59901));
    cr_assert_leq(api_agent_backoff_ms(200, 1000, 60000, 12345), 60000);
}

Test(api_agent, file_replace_writes_the_data_with_the_mode_and_leaves_no_temp_file)
{
    char path[128];
    struct stat st;
    struct api_error err = {0};

    cr_assert_eq(api_agent_file_replace(dir, "crl.pem", "one", 3, 0644, &err), API_OK, "%s",
                 err.msg);
    cr_assert_eq(api_agent_file_replace(dir, "crl.pem", "second", 6, 0644, &err), API_OK);
    cr_assert_eq(api_agent_file_replace(dir, "svid.key", "k", 1, 0600, &err), API_OK);
    snprintf(path, sizeof(path), "%s/crl.pem", dir);
    char *text = slurp(path);
    cr_assert_str_eq(text, "second");
    free(text);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644);
    snprintf(path, sizeof(path), "%s/svid.key", dir);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(count_entries(dir, "."), 2, "only . and .. besides the files");
}

Test(api_agent, file_replace_replaces_a_symlink_instead_of_writing_through_it)
{
    char target[128], link[128];
    struct api_error err = {0};

    snprintf(target, sizeof(target), "%s/target", dir);
    snprintf(link, sizeof(link), "%s/crl.pem", dir);
    FILE *f = fopen(target, "w");
    fputs("precious", f);
    fclose(f);
    cr_assert_eq(symlink(target, link), 0);
    cr_assert_eq(api_agent_file_replace(dir, "crl.pem", "new", 3, 0644, &err), API_OK);
    char *t = slurp(target);
    cr_assert_str_eq(t, "precious");
    free(t);
    struct stat st;
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert(S_ISREG(st.st_mode));
}

Test(api_agent, file_replace_fails_cleanly_in_a_missing_folder)
{
    struct api_error err = {0};
    char missing[128];

    snprintf(missing, sizeof(missing), "%s/nope", dir);
    cr_assert_eq(api_agent_file_replace(missing, "crl.pem", "x", 1, 0644, &err),
                 API_ERR_UNAVAILABLE);
}

Test(api_agent, publish_links_key_certificate_and_bundle_through_current)
{
    struct api_agent_svid s;
    struct api_error err = {0};
    char gen[256], path[256], target[256];
    struct stat st;

    make_svid(&s, (int64_t)time(NULL) + 3600);
    cr_assert_eq(api_agent_publish(dir, &s, NULL, gen, sizeof(gen), &err), API_OK, "%s", err.msg);
    snprintf(path, sizeof(path), "%s/current", dir);
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    cr_assert_gt(n, 0);
    target[n] = '\0';
    cr_assert_str_eq(target, gen);
    static const char *const names[] = {"svid.pem", "svid.key", "bundle.pem"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        n = readlink(path, target, sizeof(target) - 1);
        cr_assert_gt(n, 0, "%s is a symlink", names[i]);
        target[n] = '\0';
        char want[64];
        snprintf(want, sizeof(want), "current/%s", names[i]);
        cr_assert_str_eq(target, want);
    }
    snprintf(path, sizeof(path), "%s/svid.key", dir);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    char *key = slurp(path);
    cr_assert_str_eq(key, s.key_pem);
    free(key);
    snprintf(path, sizeof(path), "%s/svid.pem", dir);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644);
    api_agent_svid_cleanup(&s);
}

Test(api_agent, publish_keeps_the_previous_generation_and_removes_older_ones)
{
    char gens[3][256];
    struct api_error err = {0};

    for (int i = 0; i < 3; i++) {
        struct api_agent_svid s;
        make_svid(&s, (int64_t)time(NULL) + 3600);
        cr_assert_eq(
            api_agent_publish(dir, &s, i > 0 ? gens[i - 1] : NULL, gens[i], sizeof(gens[i]), &err),
            API_OK, "%s", err.msg);
        api_agent_svid_cleanup(&s);
    }
    char path[512];
    struct stat st;
    cr_assert_eq(count_entries(dir, ".svid."), 2);
    snprintf(path, sizeof(path), "%s/%s", dir, gens[1]);
    cr_assert_eq(stat(path, &st), 0, "the previous generation stays for readers in flight");
    snprintf(path, sizeof(path), "%s/%s", dir, gens[0]);
    cr_assert_neq(stat(path, &st), 0, "older generations are removed");
    cr_assert_eq(count_entries(dir, ".current"), 0, "no temporary symlink is left");
}

Test(api_agent, load_reads_back_what_publish_wrote)
{
    struct api_agent_svid s, back;
    struct api_error err = {0};
    char gen[256];
    int64_t now = (int64_t)time(NULL);

    make_svid(&s, now + 3600);
    cr_assert_eq(api_agent_publish(dir, &s, NULL, gen, sizeof(gen), &err), API_OK);
    cr_assert_eq(api_agent_load(dir, now, &back, &err), API_OK, "%s", err.msg);
    cr_assert_str_eq(back.spiffe_id, "spiffe://example.org/app");
    cr_assert_eq(back.not_after, now + 3600);
    cr_assert_eq(EVP_PKEY_eq(back.key, s.key), 1);
    cr_assert_str_eq(back.cert_pem, s.cert_pem);
    cr_assert(back.renew_after > now && back.renew_after < back.not_after);
    cr_assert_neq(back.serial[0], '\0');
    api_agent_svid_cleanup(&back);
    api_agent_svid_cleanup(&s);
}

Test(api_agent, load_says_not_found_for_an_empty_folder)
{
    struct api_agent_svid back;
    struct api_error err = {0};

    cr_assert_eq(api_agent_load(dir, (int64_t)time(NULL), &back, &err), API_ERR_NOT_FOUND);
    api_agent_svid_cleanup(&back);
}

Test(api_agent, load_refuses_an_expired_svid)
{
    struct api_agent_svid s, back;
    struct api_error err = {0};
    char gen[256];
    int64_t now = (int64_t)time(NULL);

    make_svid(&s, now - 10);
    cr_assert_eq(api_agent_publish(dir, &s, NULL, gen, sizeof(gen), &err), API_OK);
    cr_assert_eq(api_agent_load(dir, now, &back, &err), API_ERR_BAD_REQUEST);
    cr_assert_not_null(strstr(err.msg, "expired"));
    api_agent_svid_cleanup(&back);
    api_agent_svid_cleanup(&s);
}

Test(api_agent, load_refuses_a_key_that_does_not_match_the_certificate)
{
    struct api_agent_svid s, other, back;
    struct api_error err = {0};
    int64_t now = (int64_t)time(NULL);

    make_svid(&s, now + 3600);
    make_svid(&other, now + 3600);
    cr_assert_eq(api_agent_file_replace(dir, "svid.pem", s.cert_pem, s.cert_pem_len, 0644, &err),
                 API_OK);
    cr_assert_eq(
        api_agent_file_replace(dir, "svid.key", other.key_pem, other.key_pem_len, 0600, &err),
        API_OK);
    cr_assert_eq(api_agent_load(dir, now, &back, &err), API_ERR_BAD_REQUEST);
    cr_assert_not_null(strstr(err.msg, "does not match"));
    api_agent_svid_cleanup(&back);
    api_agent_svid_cleanup(&other);
    api_agent_svid_cleanup(&s);
}

static enum api_err token_from(const char *content, char **out, size_t *out_len,
                               struct api_error *err)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/token", dir);
    FILE *f = fopen(path, "w");
    fputs(content, f);
    fclose(f);
    return api_agent_token_read(path, out, out_len, err);
}

Test(api_agent, token_read_strips_surrounding_whitespace)
{
    char *tok = NULL;
    size_t len = 0;
    struct api_error err = {0};

    cr_assert_eq(token_from("\n  aaa.bbb.ccc \r\n", &tok, &len, &err), API_OK, "%s", err.msg);
    cr_assert_str_eq(tok, "aaa.bbb.ccc");
    cr_assert_eq(len, 11);
    OPENSSL_clear_free(tok, len + 1);
}

Test(api_agent, token_read_refuses_an_empty_file)
{
    char *tok = NULL;
    size_t len = 0;
    struct api_error err = {0};

    cr_assert_eq(token_from(" \n", &tok, &len, &err), API_ERR_BAD_REQUEST);
    cr_assert_null(tok);
}

Test(api_agent, token_read_refuses_characters_a_jwt_cannot_hold_without_echoing_them)
{
    char *tok = NULL;
    size_t len = 0;
    struct api_error err = {0};

    cr_assert_eq(token_from("aaa.b b.secret", &tok, &len, &err), API_ERR_BAD_REQUEST);
    cr_assert_null(strstr(err.msg, "secret"));
}

Test(api_agent, token_read_refuses_an_oversized_token)
{
    char *big = malloc(API_MAX_TOKEN_LEN + 2);
    char *tok = NULL;
    size_t len = 0;
    struct api_error err = {0};

    memset(big, 'a', API_MAX_TOKEN_LEN + 1);
    big[API_MAX_TOKEN_LEN + 1] = '\0';
    cr_assert_eq(token_from(big, &tok, &len, &err), API_ERR_BAD_REQUEST);
    free(big);
}

Test(api_agent, token_read_refuses_a_missing_file)
{
    char *tok = NULL;
    size_t len = 0;
    struct api_error err = {0};

    cr_assert_eq(api_agent_token_read("/nonexistent/token", &tok, &len, &err), API_ERR_BAD_REQUEST);
}
