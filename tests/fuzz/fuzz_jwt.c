/* fuzz_jwt.c: api_auth_bearer (token shape, base64url, header and payload
 * JSON, key selection) and the JWKS parser over arbitrary bytes. The verifier
 * is built once with a JWKS and a provisioner key (and a real store). */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../../api/internal.h"

/* The RFC 7515 appendix A.3 public key. */
static const char jwks[] = "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"k1\",\"crv\":\"P-256\","
                           "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                           "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";

static char dir[64];
static struct store *st;
static struct api_auth *auth;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    api_auth_free(auth);
    store_close(st);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void init(void)
{
    static struct api_config cfg;
    struct api_error err;
    snprintf(dir, sizeof(dir), "/tmp/signet-fuzz-jwt-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        abort();
    }
    snprintf(cfg.trust_domain, sizeof(cfg.trust_domain), "example.org");
    cfg.k8s_enabled = 1;
    snprintf(cfg.k8s_issuer, sizeof(cfg.k8s_issuer), "https://kubernetes.default.svc");
    snprintf(cfg.k8s_audiences[0], sizeof(cfg.k8s_audiences[0]), "signet");
    cfg.num_k8s_audiences = 1;
    snprintf(cfg.k8s_jwks_file, sizeof(cfg.k8s_jwks_file), "%s/jwks.json", dir);
    FILE *f = fopen(cfg.k8s_jwks_file, "w");
    if (f == NULL || fputs(jwks, f) < 0 || fclose(f) != 0) {
        abort();
    }
    snprintf(cfg.provisioners[0].name, sizeof(cfg.provisioners[0].name), "bootstrap");
    snprintf(cfg.provisioners[0].public_key, sizeof(cfg.provisioners[0].public_key),
             "%s/bootstrap.pub", dir);
    cfg.provisioners[0].max_ttl_s = 3600;
    cfg.num_provisioners = 1;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    f = fopen(cfg.provisioners[0].public_key, "w");
    if (key == NULL || f == NULL || PEM_write_PUBKEY(f, key) != 1 || fclose(f) != 0) {
        abort();
    }
    EVP_PKEY_free(key);
    char db[128];
    snprintf(db, sizeof(db), "%s/db", dir);
    struct store_options opts = {.path = db, .map_size = 8 << 20};
    if (store_open(&opts, &st) != STORE_OK || api_auth_new(&cfg, st, &auth, &err) != API_OK) {
        abort();
    }
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_principal who;
    struct api_error err;
    if (auth == NULL) {
        init();
    }
    enum api_err rc = api_auth_bearer(auth, (const char *)data, size, 1900000000, &who, &err);
    (void)rc;

    unsigned char *raw = NULL;
    size_t raw_len = 0;
    if (api_b64url_decode((const char *)data, size, &raw, &raw_len, NULL) == API_OK) {
        OPENSSL_clear_free(raw, raw_len + 1);
    }

    /* The same bytes as a JWKS file. */
    int fd = memfd_create("signet-fuzz-jwks", 0);
    if (fd >= 0 && write(fd, data, size) == (ssize_t)size) {
        char path[64];
        struct api_jwk *keys = NULL;
        size_t num = 0;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (api_jwks_load(path, &keys, &num, &err) == API_OK) {
            for (size_t i = 0; i < num; i++) {
                api_jwk_cleanup(&keys[i]);
            }
            free(keys);
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    return 0;
}
