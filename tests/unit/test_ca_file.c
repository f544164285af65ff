/* test_ca_file.c: ca/file.c against the real OpenSSL: certificate and CSR
 * files, strict PEM reading (only certificates and blank lines), O_EXCL. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca.h"
#include "testfs.h"

static char dir[64];
static EVP_PKEY *key;
static X509 *certs[3];

static void setup(void)
{
    struct ca_error err = {0};
    const char *tds[3] = {"one.org", "two.org", "three.org"};

    umask(022);
    snprintf(dir, sizeof(dir), "/tmp/test_ca_file.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(ca_key_generate(CA_KEY_EC_P256, &key, &err), CA_OK, "%s", err.msg);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ca_root_create(key, tds[i], (int64_t)time(NULL), 3600, &certs[i], &err), CA_OK,
                     "%s", err.msg);
    }
}

static void teardown(void)
{
    for (int i = 0; i < 3; i++) {
        X509_free(certs[i]);
    }
    EVP_PKEY_free(key);
    testfs_rmtree(dir);
}

TestSuite(ca_file, .init = setup, .fini = teardown);

static void path_in(char *out, size_t len, const char *name)
{
    cr_assert(snprintf(out, len, "%s/%s", dir, name) < (int)len);
}

/* cert_pem returns certs[i] as PEM in a static buffer of its own. */
static const char *cert_pem(int i)
{
    static char bufs[3][4096];
    BIO *bio = BIO_new(BIO_s_mem());
    cr_assert_eq(PEM_write_bio_X509(bio, certs[i]), 1);
    int n = BIO_read(bio, bufs[i], sizeof(bufs[i]) - 1);
    cr_assert(n > 0);
    bufs[i][n] = '\0';
    BIO_free(bio);
    return bufs[i];
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path)
{
    static char buf[16384];
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* read_text writes |text| to a file and runs ca_certs_read on it. */
static enum ca_err read_text(const char *text, STACK_OF(X509) **out)
{
    char path[128];
    path_in(path, sizeof(path), "in.pem");
    unlink(path);
    write_text(path, text);
    return ca_certs_read(path, out, NULL);
}

Test(ca_file, writes_a_certificate_0644_that_reads_back_equal)
{
    struct ca_error err = {0};
    char path[128];
    struct stat st;
    STACK_OF(X509) *got = NULL;
    path_in(path, sizeof(path), "c.crt");
    cr_assert_eq(ca_cert_write(path, certs[0], &err), CA_OK, "%s", err.msg);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0644);
    cr_assert_eq(ca_certs_read(path, &got, &err), CA_OK, "%s", err.msg);
    cr_assert_eq(sk_X509_num(got), 1);
    cr_assert_eq(X509_cmp(sk_X509_value(got, 0), certs[0]), 0);
    sk_X509_pop_free(got, X509_free);
}

Test(ca_file, refuses_to_overwrite_a_certificate_with_exists)
{
    struct ca_error err = {0};
    char path[128];
    path_in(path, sizeof(path), "c.crt");
    write_text(path, "keep me\n");
    cr_assert_eq(ca_cert_write(path, certs[0], &err), CA_ERR_EXISTS);
    cr_assert_eq(err.code, CA_ERR_EXISTS);
    cr_assert_str_eq(slurp(path), "keep me\n");
}

Test(ca_file, refuses_a_symlink_at_the_certificate_path_with_exists)
{
    char path[128];
    char target[128];
    struct stat st;
    path_in(path, sizeof(path), "link.crt");
    path_in(target, sizeof(target), "elsewhere");
    cr_assert_eq(symlink(target, path), 0);
    cr_assert_eq(ca_cert_write(path, certs[0], NULL), CA_ERR_EXISTS);
    cr_assert_neq(lstat(target, &st), 0);
}

Test(ca_file, reads_three_certificates_in_order_with_blank_lines)
{
    char text[16384];
    STACK_OF(X509) *got = NULL;
    snprintf(text, sizeof(text), "\n%s\n\n%s\r\n%s\n\n", cert_pem(0), cert_pem(1), cert_pem(2));
    cr_assert_eq(read_text(text, &got), CA_OK);
    cr_assert_eq(sk_X509_num(got), 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(X509_cmp(sk_X509_value(got, i), certs[i]), 0, "certificate %d", i);
    }
    sk_X509_pop_free(got, X509_free);
}

Test(ca_file, refuses_garbage_with_invalid_cert)
{
    STACK_OF(X509) *got = NULL;
    cr_assert_eq(read_text("hello world\n", &got), CA_ERR_INVALID_CERT);
    cr_assert_eq(read_text("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", &got),
                 CA_ERR_INVALID_CERT);
    cr_assert_null(got);
}

Test(ca_file, refuses_an_empty_file_with_invalid_cert)
{
    STACK_OF(X509) *got = NULL;
    cr_assert_eq(read_text("", &got), CA_ERR_INVALID_CERT);
    cr_assert_eq(read_text("\n\n  \n", &got), CA_ERR_INVALID_CERT);
    cr_assert_null(got);
}

Test(ca_file, refuses_trailing_garbage_with_invalid_cert)
{
    char text[16384];
    STACK_OF(X509) *got = NULL;
    snprintf(text, sizeof(text), "%s%sgarbage\n", cert_pem(0), cert_pem(1));
    cr_assert_eq(read_text(text, &got), CA_ERR_INVALID_CERT);
    cr_assert_null(got);
}

Test(ca_file, refuses_text_before_or_between_certificates_with_invalid_cert)
{
    char text[16384];
    STACK_OF(X509) *got = NULL;
    snprintf(text, sizeof(text), "subject=foo\n%s", cert_pem(0));
    cr_assert_eq(read_text(text, &got), CA_ERR_INVALID_CERT);
    snprintf(text, sizeof(text), "%scomment\n%s", cert_pem(0), cert_pem(1));
    cr_assert_eq(read_text(text, &got), CA_ERR_INVALID_CERT);
    cr_assert_null(got);
}

Test(ca_file, refuses_another_pem_object_with_invalid_cert)
{
    char text[16384];
    STACK_OF(X509) *got = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    cr_assert_eq(PEM_write_bio_PUBKEY(bio, key), 1);
    int n = BIO_read(bio, text, sizeof(text) - 1);
    BIO_free(bio);
    text[n] = '\0';
    cr_assert_eq(read_text(text, &got), CA_ERR_INVALID_CERT);
}

Test(ca_file, refuses_der_with_trailing_bytes_inside_the_pem_with_invalid_cert)
{
    unsigned char *der = NULL;
    char text[16384];
    STACK_OF(X509) *got = NULL;
    int len = i2d_X509(certs[0], &der);
    cr_assert(len > 0);
    unsigned char padded[4096];
    memcpy(padded, der, (size_t)len);
    padded[len] = 0;
    OPENSSL_free(der);
    BIO *bio = BIO_new(BIO_s_mem());
    cr_assert(PEM_write_bio(bio, "CERTIFICATE", "", padded, len + 1) > 0);
    int n = BIO_read(bio, text, sizeof(text) - 1);
    BIO_free(bio);
    text[n] = '\0';
    cr_assert_eq(read_text(text, &got), CA_ERR_INVALID_CERT);
}

Test(ca_file, refuses_a_missing_file_with_io)
{
    char path[128];
    STACK_OF(X509) *got = NULL;
    path_in(path, sizeof(path), "absent.pem");
    cr_assert_eq(ca_certs_read(path, &got, NULL), CA_ERR_IO);
    cr_assert_eq(ca_certs_read(dir, &got, NULL), CA_ERR_IO, "a directory is no file");
}

Test(ca_file, refuses_a_file_over_one_mebibyte_with_invalid_argument)
{
    char path[128];
    STACK_OF(X509) *got = NULL;
    path_in(path, sizeof(path), "big.pem");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 1024 * 1024 + 1; i++) {
        fputc('\n', f);
    }
    fclose(f);
    cr_assert_eq(ca_certs_read(path, &got, NULL), CA_ERR_INVALID_ARGUMENT);
}

static X509_REQ *make_csr(void)
{
    struct ca_error err = {0};
    X509_REQ *csr = NULL;
    cr_assert_eq(ca_intermediate_csr_create(key, "example.org", &csr, &err), CA_OK, "%s", err.msg);
    return csr;
}

Test(ca_file, writes_a_csr_0644_that_reads_back_equal)
{
    struct ca_error err = {0};
    char path[128];
    struct stat st;
    X509_REQ *back = NULL;
    X509_REQ *csr = make_csr();
    path_in(path, sizeof(path), "i.csr");
    cr_assert_eq(ca_csr_write(path, csr, &err), CA_OK, "%s", err.msg);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0644);
    cr_assert_eq(ca_csr_write(path, csr, &err), CA_ERR_EXISTS);
    cr_assert_eq(ca_csr_read(path, &back, &err), CA_OK, "%s", err.msg);
    EVP_PKEY *pub = X509_REQ_get0_pubkey(back);
    cr_assert_eq(EVP_PKEY_eq(pub, key), 1);
    X509_REQ_free(back);
    X509_REQ_free(csr);
}

Test(ca_file, refuses_a_csr_with_a_bad_signature_with_invalid_csr)
{
    unsigned char *der = NULL;
    char path[128];
    X509_REQ *back = NULL;
    X509_REQ *csr = make_csr();
    int len = i2d_X509_REQ(csr, &der);
    cr_assert(len > 0);
    /* Change one letter of the signed subject: still well-formed, no longer signed. */
    unsigned char *hit = memmem(der, (size_t)len, "intermediate", 12);
    cr_assert_not_null(hit);
    hit[0] = 'j';
    path_in(path, sizeof(path), "bad.csr");
    BIO *bio = BIO_new_file(path, "w");
    cr_assert_not_null(bio);
    cr_assert(PEM_write_bio(bio, "CERTIFICATE REQUEST", "", der, len) > 0);
    BIO_free(bio);
    OPENSSL_free(der);
    cr_assert_eq(ca_csr_read(path, &back, NULL), CA_ERR_INVALID_CSR);
    cr_assert_null(back);
    X509_REQ_free(csr);
}

Test(ca_file, refuses_a_file_with_two_csrs_with_invalid_csr)
{
    char path[128];
    X509_REQ *back = NULL;
    X509_REQ *csr = make_csr();
    path_in(path, sizeof(path), "two.csr");
    BIO *bio = BIO_new_file(path, "w");
    cr_assert_not_null(bio);
    cr_assert_eq(PEM_write_bio_X509_REQ(bio, csr), 1);
    cr_assert_eq(PEM_write_bio_X509_REQ(bio, csr), 1);
    BIO_free(bio);
    cr_assert_eq(ca_csr_read(path, &back, NULL), CA_ERR_INVALID_CSR);
    cr_assert_null(back);
    X509_REQ_free(csr);
}

Test(ca_file, refuses_a_certificate_given_as_csr_with_invalid_csr)
{
    char path[128];
    X509_REQ *back = NULL;
    path_in(path, sizeof(path), "cert.csr");
    cr_assert_eq(ca_cert_write(path, certs[0], NULL), CA_OK);
    cr_assert_eq(ca_csr_read(path, &back, NULL), CA_ERR_INVALID_CSR);
    cr_assert_null(back);
}
