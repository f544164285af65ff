/* file.c: the files of the offline ceremony: new files created exclusively,
 * whole-file reads with a size cap, certificates and requests as strict PEM. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "internal.h"

#define MAX_CERTS_FILE_LEN (1024 * 1024)
#define MAX_CERTS_IN_FILE  64

enum ca_err ca_file_write_new(const char *path, const void *data, size_t len, unsigned int mode,
                              struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    int fd = -1;
    int created = 0;
    const unsigned char *p = data;

    ENSURE(path != NULL && path[0] != '\0' && (data != NULL || len == 0), CA_ERR_INVALID_ARGUMENT,
           "no file name or data");
    fd = open(path, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, (mode_t)mode);
    ENSURE(fd >= 0 || errno != EEXIST, CA_ERR_EXISTS, "file already exists; refusing to overwrite");
    ENSURE(fd >= 0, CA_ERR_IO, "cannot create file: %s", strerror(errno));
    created = 1;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ENSURE(n > 0, CA_ERR_IO, "cannot write file: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    ENSURE(fsync(fd) == 0, CA_ERR_IO, "cannot sync file: %s", strerror(errno));
    int closed = close(fd);
    fd = -1;
    ENSURE(closed == 0, CA_ERR_IO, "cannot close file: %s", strerror(errno));
    created = 0; /* complete: keep it */
out:
    if (fd >= 0) {
        close(fd);
    }
    if (created) {
        /* We made it with O_EXCL a moment ago, so it is ours to remove. */
        unlink(path);
    }
    return rc;
}

enum ca_err ca_file_read_all(const char *path, size_t max_len, char **out_data, size_t *out_len,
                             struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    int fd = -1;
    char *buf = NULL;
    size_t cap = 0;
    size_t len = 0;
    struct stat st;

    ENSURE(path != NULL && max_len > 0 && max_len < SIZE_MAX / 2, CA_ERR_INVALID_ARGUMENT,
           "no file name");
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    ENSURE(fd >= 0, CA_ERR_IO, "cannot open file: %s", strerror(errno));
    ENSURE(fstat(fd, &st) == 0, CA_ERR_IO, "cannot stat file: %s", strerror(errno));
    ENSURE(S_ISREG(st.st_mode), CA_ERR_IO, "not a regular file");
    ENSURE((uint64_t)st.st_size <= max_len, CA_ERR_INVALID_ARGUMENT,
           "file is larger than %zu bytes", max_len);
    /* One byte more than the cap, so that a file growing under us is noticed. */
    cap = max_len + 1;
    buf = OPENSSL_zalloc(cap + 1);
    ENSURE(buf != NULL, CA_ERR_INTERNAL, "out of memory");
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ENSURE(n >= 0, CA_ERR_IO, "cannot read file: %s", strerror(errno));
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        ENSURE(len <= max_len, CA_ERR_INVALID_ARGUMENT, "file is larger than %zu bytes", max_len);
    }
    buf[len] = '\0';
    /* Shrink to len + 1 so the caller can free with the length it knows. */
    char *exact = OPENSSL_zalloc(len + 1);
    ENSURE(exact != NULL, CA_ERR_INTERNAL, "out of memory");
    memcpy(exact, buf, len + 1);
    *out_data = exact;
    *out_len = len;
out:
    OPENSSL_clear_free(buf, cap + 1);
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

enum ca_err ca_bio_write_new(const char *path, BIO *bio, unsigned int mode, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);

    ENSURE(len > 0 && data != NULL, CA_ERR_INTERNAL, "nothing to write");
    TRY(ca_file_write_new(path, data, (size_t)len, mode, err));
out:
    if (len > 0 && data != NULL) {
        OPENSSL_cleanse(data, (size_t)len);
    }
    return rc;
}

enum ca_err ca_cert_write(const char *path, X509 *cert, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    BIO *bio = NULL;

    ENSURE(cert != NULL, CA_ERR_INVALID_ARGUMENT, "no certificate");
    bio = BIO_new(BIO_s_mem());
    ENSURE(bio != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(PEM_write_bio_X509(bio, cert), CA_ERR_INTERNAL, "cannot encode the certificate");
    TRY(ca_bio_write_new(path, bio, 0644, err));
out:
    BIO_free(bio);
    return rc;
}

enum ca_err ca_csr_write(const char *path, X509_REQ *csr, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    BIO *bio = NULL;

    ENSURE(csr != NULL, CA_ERR_INVALID_ARGUMENT, "no certificate request");
    bio = BIO_new(BIO_s_mem());
    ENSURE(bio != NULL, CA_ERR_INTERNAL, "out of memory");
    OSSL(PEM_write_bio_X509_REQ(bio, csr), CA_ERR_INTERNAL, "cannot encode the request");
    TRY(ca_bio_write_new(path, bio, 0644, err));
out:
    BIO_free(bio);
    return rc;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int ca_pem_block_next(const char *text, size_t len, size_t *pos, const char *label,
                      const char *alt_label, unsigned char **out_der, long *out_der_len)
{
    int ret = -1;
    BIO *bio = NULL;
    char *name = NULL;
    char *header = NULL;
    unsigned char *der = NULL;
    long der_len = 0;
    size_t i = *pos;

    while (i < len && is_blank(text[i])) {
        i++;
    }
    if (i == len) {
        *pos = i;
        return 0;
    }
    if (len - i < 11 || memcmp(text + i, "-----BEGIN ", 11) != 0) {
        return -1; /* PEM_read_bio would skip text before the block: we refuse it */
    }
    bio = BIO_new_mem_buf(text + i, (int)(len - i)); /* len is capped by the caller */
    if (bio == NULL) {
        goto out;
    }
    /* PEM_FLAG_SECURE: PEM_read_bio frees the line buffers it reads the text
     * through with a plain free(), leaving the last line (a private key's
     * "-----END PRIVATE KEY-----", and base64 beside it) in freed memory.
     * With the flag it cleanses every buffer it frees; its results come from
     * the secure heap, so they are freed with OPENSSL_secure_clear_free. */
    if (PEM_read_bio_ex(bio, &name, &header, &der, &der_len,
                        PEM_FLAG_EAY_COMPATIBLE | PEM_FLAG_SECURE) != 1) {
        ERR_clear_error();
        goto out;
    }
    if ((label != NULL && strcmp(name, label) != 0 &&
         (alt_label == NULL || strcmp(name, alt_label) != 0)) ||
        header[0] != '\0' || der_len <= 0) {
        goto out;
    }
    /* The caller frees with OPENSSL_clear_free, as for any other buffer. */
    *out_der = OPENSSL_malloc((size_t)der_len);
    if (*out_der == NULL) {
        goto out;
    }
    memcpy(*out_der, der, (size_t)der_len);
    *out_der_len = der_len;
    /* PEM_read_bio reads line by line, so what is left is exactly the rest. */
    *pos = len - (size_t)BIO_pending(bio);
    ret = 1;
out:
    OPENSSL_secure_clear_free(name, name != NULL ? strlen(name) : 0);
    OPENSSL_secure_clear_free(header, header != NULL ? strlen(header) : 0);
    OPENSSL_secure_clear_free(der, der != NULL ? (size_t)der_len : 0);
    BIO_free(bio);
    return ret;
}

enum ca_err ca_certs_read(const char *path, STACK_OF(X509) **out_certs, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    char *text = NULL;
    size_t text_len = 0;
    STACK_OF(X509) *certs = NULL;
    X509 *cert = NULL;
    unsigned char *der = NULL;
    size_t pos = 0;

    TRY(ca_file_read_all(path, MAX_CERTS_FILE_LEN, &text, &text_len, err));
    certs = sk_X509_new_null();
    ENSURE(certs != NULL, CA_ERR_INTERNAL, "out of memory");
    for (;;) {
        long der_len = 0;
        int got = ca_pem_block_next(text, text_len, &pos, PEM_STRING_X509, NULL, &der, &der_len);
        if (got == 0) {
            break;
        }
        ENSURE(got == 1, CA_ERR_INVALID_CERT,
               "certificate %d: not a PEM certificate (only certificates and blank lines allowed)",
               sk_X509_num(certs) + 1);
        ENSURE(sk_X509_num(certs) < MAX_CERTS_IN_FILE, CA_ERR_INVALID_CERT,
               "more than %d certificates", MAX_CERTS_IN_FILE);
        const unsigned char *p = der;
        cert = d2i_X509(NULL, &p, der_len);
        ENSURE(cert != NULL && p == der + der_len, CA_ERR_INVALID_CERT,
               "certificate %d: undecodable DER", sk_X509_num(certs) + 1);
        OPENSSL_free(der);
        der = NULL;
        ENSURE(sk_X509_push(certs, cert) > 0, CA_ERR_INTERNAL, "out of memory");
        cert = NULL;
    }
    ENSURE(sk_X509_num(certs) > 0, CA_ERR_INVALID_CERT, "no certificate in the file");

    *out_certs = certs;
    certs = NULL;
out:
    ERR_clear_error();
    X509_free(cert);
    OPENSSL_free(der);
    sk_X509_pop_free(certs, X509_free);
    OPENSSL_clear_free(text, text_len + 1);
    return rc;
}

enum ca_err ca_csr_read(const char *path, X509_REQ **out_csr, struct ca_error *err)
{
    enum ca_err rc = CA_OK;
    char *text = NULL;
    size_t text_len = 0;
    unsigned char *der = NULL;
    long der_len = 0;
    X509_REQ *csr = NULL;
    EVP_PKEY *pub = NULL;
    size_t pos = 0;

    TRY(ca_file_read_all(path, CA_MAX_CSR_LEN, &text, &text_len, err));
    int got = ca_pem_block_next(text, text_len, &pos, PEM_STRING_X509_REQ, PEM_STRING_X509_REQ_OLD,
                                &der, &der_len);
    ENSURE(got == 1, CA_ERR_INVALID_CSR, "not a PEM certificate request");
    const unsigned char *p = der;
    csr = d2i_X509_REQ(NULL, &p, der_len);
    ENSURE(csr != NULL && p == der + der_len, CA_ERR_INVALID_CSR,
           "undecodable certificate request");
    long rest_len = 0;
    unsigned char *rest = NULL;
    got = ca_pem_block_next(text, text_len, &pos, NULL, NULL, &rest, &rest_len);
    OPENSSL_free(rest);
    ENSURE(got == 0, CA_ERR_INVALID_CSR, "unexpected data after the request");
    pub = X509_REQ_get_pubkey(csr); /* a new reference despite the name */
    ENSURE(pub != NULL, CA_ERR_INVALID_CSR, "unreadable public key");
    OSSL(X509_REQ_verify(csr, pub), CA_ERR_INVALID_CSR, "bad CSR signature");

    *out_csr = csr;
    csr = NULL;
out:
    ERR_clear_error();
    EVP_PKEY_free(pub);
    X509_REQ_free(csr);
    OPENSSL_free(der);
    OPENSSL_clear_free(text, text_len + 1);
    return rc;
}
