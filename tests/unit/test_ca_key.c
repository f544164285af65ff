/* test_ca_key.c: ca/key.c against the real OpenSSL: key generation for each
 * type, PKCS#8 files (plain and scrypt-encrypted), modes, refusals. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca.h"
#include "testfs.h"

static char dir[64];

static void setup(void)
{
    umask(022);
    snprintf(dir, sizeof(dir), "/tmp/test_ca_key.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    testfs_rmtree(dir);
}

TestSuite(ca_key, .init = setup, .fini = teardown);

static void path_in(char *out, size_t len, const char *name)
{
    cr_assert(snprintf(out, len, "%s/%s", dir, name) < (int)len);
}

static EVP_PKEY *new_key(enum ca_key_type type)
{
    struct ca_error err = {0};
    EVP_PKEY *key = NULL;
    cr_assert_eq(ca_key_generate(type, &key, &err), CA_OK, "%s", err.msg);
    return key;
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

Test(ca_key, parses_each_key_type_name)
{
    enum ca_key_type t;
    cr_assert_eq(ca_key_type_parse("ec-p256", &t, NULL), CA_OK);
    cr_assert_eq(t, CA_KEY_EC_P256);
    cr_assert_eq(ca_key_type_parse("ec-p384", &t, NULL), CA_OK);
    cr_assert_eq(t, CA_KEY_EC_P384);
    cr_assert_eq(ca_key_type_parse("ed25519", &t, NULL), CA_OK);
    cr_assert_eq(t, CA_KEY_ED25519);
    cr_assert_eq(ca_key_type_parse("rsa-3072", &t, NULL), CA_OK);
    cr_assert_eq(t, CA_KEY_RSA_3072);
}

Test(ca_key, refuses_an_unknown_key_type_name_with_invalid_argument)
{
    struct ca_error err = {0};
    enum ca_key_type t;
    cr_assert_eq(ca_key_type_parse("ec-p521", &t, &err), CA_ERR_INVALID_ARGUMENT);
    cr_assert_eq(err.code, CA_ERR_INVALID_ARGUMENT);
    cr_assert_eq(ca_key_type_parse("EC-P256", &t, NULL), CA_ERR_INVALID_ARGUMENT);
    cr_assert_eq(ca_key_type_parse("", &t, NULL), CA_ERR_INVALID_ARGUMENT);
    cr_assert_eq(ca_key_type_parse(NULL, &t, NULL), CA_ERR_INVALID_ARGUMENT);
}

struct roundtrip {
    enum ca_key_type type;
    int encrypted;
};

ParameterizedTestParameters(ca_key, writes_0600_and_reads_back_the_same_key)
{
    static struct roundtrip params[] = {
        {CA_KEY_EC_P256, 0}, {CA_KEY_EC_P384, 0}, {CA_KEY_ED25519, 0}, {CA_KEY_RSA_3072, 0},
        {CA_KEY_EC_P256, 1}, {CA_KEY_EC_P384, 1}, {CA_KEY_ED25519, 1}, {CA_KEY_RSA_3072, 1},
    };
    return cr_make_param_array(struct roundtrip, params, sizeof(params) / sizeof(params[0]));
}

ParameterizedTest(struct roundtrip *p, ca_key, writes_0600_and_reads_back_the_same_key)
{
    struct ca_error err = {0};
    char path[128];
    struct stat st;
    EVP_PKEY *back = NULL;
    static const char pass[] = "correct horse";
    EVP_PKEY *key = new_key(p->type);

    path_in(path, sizeof(path), "k.key");
    cr_assert_eq(
        ca_key_write(path, key, p->encrypted ? pass : NULL, p->encrypted ? strlen(pass) : 0, &err),
        CA_OK, "%s", err.msg);
    cr_assert_eq(lstat(path, &st), 0);
    cr_assert(S_ISREG(st.st_mode));
    cr_assert_eq(st.st_mode & 07777, 0600);
    const char *text = slurp(path);
    if (p->encrypted) {
        cr_assert_not_null(strstr(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    } else {
        cr_assert_eq(strncmp(text, "-----BEGIN PRIVATE KEY-----", 27), 0);
    }
    cr_assert_eq(
        ca_key_read(path, p->encrypted ? pass : NULL, p->encrypted ? strlen(pass) : 0, &back, &err),
        CA_OK, "%s", err.msg);
    cr_assert_eq(EVP_PKEY_eq(key, back), 1);
    cr_assert_eq(EVP_PKEY_get_base_id(back), EVP_PKEY_get_base_id(key));
    EVP_PKEY_free(back);
    EVP_PKEY_free(key);
}

Test(ca_key, generates_the_requested_curve_and_size)
{
    EVP_PKEY *k = new_key(CA_KEY_EC_P384);
    char group[32];
    cr_assert_eq(EVP_PKEY_get_group_name(k, group, sizeof(group), NULL), 1);
    cr_assert_str_eq(group, "secp384r1");
    EVP_PKEY_free(k);
    k = new_key(CA_KEY_EC_P256);
    cr_assert_eq(EVP_PKEY_get_group_name(k, group, sizeof(group), NULL), 1);
    cr_assert_str_eq(group, "prime256v1");
    EVP_PKEY_free(k);
    k = new_key(CA_KEY_ED25519);
    cr_assert_eq(EVP_PKEY_get_base_id(k), EVP_PKEY_ED25519);
    EVP_PKEY_free(k);
}

Test(ca_key, encrypts_with_scrypt_and_aes_256_cbc)
{
    struct ca_error err = {0};
    char path[128];
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    path_in(path, sizeof(path), "enc.key");
    cr_assert_eq(ca_key_write(path, key, "pw", 2, &err), CA_OK, "%s", err.msg);

    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    X509_SIG *p8 = PEM_read_PKCS8(f, NULL, NULL, NULL);
    fclose(f);
    cr_assert_not_null(p8);
    const X509_ALGOR *alg = NULL;
    X509_SIG_get0(p8, &alg, NULL);
    cr_assert_eq(OBJ_obj2nid(alg->algorithm), NID_pbes2);
    PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
    cr_assert_not_null(pbe2);
    cr_assert_eq(OBJ_obj2nid(pbe2->keyfunc->algorithm), NID_id_scrypt);
    cr_assert_eq(OBJ_obj2nid(pbe2->encryption->algorithm), NID_aes_256_cbc);
    PBE2PARAM_free(pbe2);
    X509_SIG_free(p8);
    EVP_PKEY_free(key);
}

Test(ca_key, refuses_a_wrong_passphrase_with_bad_passphrase)
{
    struct ca_error err = {0};
    char path[128];
    EVP_PKEY *back = NULL;
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    path_in(path, sizeof(path), "enc.key");
    cr_assert_eq(ca_key_write(path, key, "right", 5, &err), CA_OK, "%s", err.msg);
    cr_assert_eq(ca_key_read(path, "wrong", 5, &back, &err), CA_ERR_BAD_PASSPHRASE);
    cr_assert_eq(err.code, CA_ERR_BAD_PASSPHRASE);
    cr_assert_null(back);
    /* A prefix of the right passphrase is a wrong one too. */
    cr_assert_eq(ca_key_read(path, "righ", 4, &back, &err), CA_ERR_BAD_PASSPHRASE);
    cr_assert_null(back);
    EVP_PKEY_free(key);
}

Test(ca_key, refuses_an_encrypted_key_without_passphrase_with_bad_passphrase)
{
    struct ca_error err = {0};
    char path[128];
    EVP_PKEY *back = NULL;
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    path_in(path, sizeof(path), "enc.key");
    cr_assert_eq(ca_key_write(path, key, "right", 5, &err), CA_OK, "%s", err.msg);
    cr_assert_eq(ca_key_read(path, NULL, 0, &back, &err), CA_ERR_BAD_PASSPHRASE);
    cr_assert_null(back);
    EVP_PKEY_free(key);
}

/* The root key is read with a passphrase: a plain key put in its place by
 * hand would make the passphrase protect nothing. */
Test(ca_key, refuses_a_plain_key_when_a_passphrase_is_given_with_invalid_key)
{
    struct ca_error err = {0};
    char path[128];
    EVP_PKEY *back = NULL;
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    path_in(path, sizeof(path), "plain.key");
    cr_assert_eq(ca_key_write(path, key, NULL, 0, &err), CA_OK, "%s", err.msg);
    cr_assert_eq(ca_key_read(path, "anything", 8, &back, &err), CA_ERR_INVALID_KEY);
    cr_assert_not_null(strstr(err.msg, "not encrypted"), "%s", err.msg);
    cr_assert_null(back);
    cr_assert_eq(ca_key_read(path, NULL, 0, &back, &err), CA_OK, "%s", err.msg);
    EVP_PKEY_free(back);
    EVP_PKEY_free(key);
}

Test(ca_key, refuses_an_empty_passphrase_when_writing_with_invalid_argument)
{
    char path[128];
    struct stat st;
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    path_in(path, sizeof(path), "k.key");
    cr_assert_eq(ca_key_write(path, key, "", 0, NULL), CA_ERR_INVALID_ARGUMENT);
    cr_assert_neq(lstat(path, &st), 0, "no file is left behind");
    EVP_PKEY_free(key);
}

Test(ca_key, refuses_an_existing_file_with_exists_and_leaves_it_unchanged)
{
    struct ca_error err = {0};
    char path[128];
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    path_in(path, sizeof(path), "k.key");
    write_text(path, "precious\n");
    cr_assert_eq(ca_key_write(path, key, NULL, 0, &err), CA_ERR_EXISTS);
    cr_assert_eq(err.code, CA_ERR_EXISTS);
    cr_assert_str_eq(slurp(path), "precious\n");
    cr_assert_eq(ca_key_write(path, key, "pw", 2, NULL), CA_ERR_EXISTS);
    cr_assert_str_eq(slurp(path), "precious\n");
    EVP_PKEY_free(key);
}

Test(ca_key, refuses_a_symlink_at_the_path_with_exists)
{
    char path[128];
    char target[128];
    struct stat st;
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    path_in(path, sizeof(path), "link.key");
    path_in(target, sizeof(target), "target");
    cr_assert_eq(symlink(target, path), 0);
    /* Dangling: following it would create the target. */
    cr_assert_eq(ca_key_write(path, key, NULL, 0, NULL), CA_ERR_EXISTS);
    cr_assert_neq(lstat(target, &st), 0, "the symlink was followed");
    write_text(target, "other\n");
    cr_assert_eq(ca_key_write(path, key, NULL, 0, NULL), CA_ERR_EXISTS);
    cr_assert_str_eq(slurp(target), "other\n");
    EVP_PKEY_free(key);
}

Test(ca_key, refuses_a_missing_file_with_io)
{
    char path[128];
    EVP_PKEY *back = NULL;
    path_in(path, sizeof(path), "absent.key");
    cr_assert_eq(ca_key_read(path, NULL, 0, &back, NULL), CA_ERR_IO);
    cr_assert_null(back);
}

Test(ca_key, refuses_garbage_with_invalid_key)
{
    char path[128];
    EVP_PKEY *back = NULL;
    path_in(path, sizeof(path), "garbage.key");
    write_text(path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    cr_assert_eq(ca_key_read(path, NULL, 0, &back, NULL), CA_ERR_INVALID_KEY);
    write_text(path, "not a key at all\n");
    cr_assert_eq(ca_key_read(path, NULL, 0, &back, NULL), CA_ERR_INVALID_KEY);
    cr_assert_null(back);
}

Test(ca_key, refuses_trailing_data_after_the_key_with_invalid_key)
{
    char path[128];
    char copy[128];
    EVP_PKEY *back = NULL;
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    path_in(path, sizeof(path), "k.key");
    cr_assert_eq(ca_key_write(path, key, NULL, 0, NULL), CA_OK);
    char text[4096];
    cr_assert(snprintf(text, sizeof(text), "%s\ntrailing\n", slurp(path)) < (int)sizeof(text));
    path_in(copy, sizeof(copy), "trailing.key");
    write_text(copy, text);
    cr_assert_eq(ca_key_read(copy, NULL, 0, &back, NULL), CA_ERR_INVALID_KEY);
    cr_assert_null(back);
    EVP_PKEY_free(key);
}

Test(ca_key, refuses_a_key_on_another_curve_with_unsupported_key)
{
    char path[128];
    EVP_PKEY *back = NULL;
    EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
    cr_assert_not_null(k1);
    path_in(path, sizeof(path), "k1.key");
    cr_assert_eq(ca_key_write(path, k1, NULL, 0, NULL), CA_ERR_UNSUPPORTED_KEY);
    FILE *f = fopen(path, "wx");
    cr_assert_not_null(f);
    cr_assert_eq(PEM_write_PKCS8PrivateKey(f, k1, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    cr_assert_eq(ca_key_read(path, NULL, 0, &back, NULL), CA_ERR_UNSUPPORTED_KEY);
    cr_assert_null(back);
    EVP_PKEY_free(k1);
}

Test(ca_key, writes_the_public_key_0644_as_spki)
{
    struct ca_error err = {0};
    char path[128];
    struct stat st;
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    path_in(path, sizeof(path), "p.pub");
    cr_assert_eq(ca_pubkey_write(path, key, &err), CA_OK, "%s", err.msg);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0644);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    EVP_PKEY *pub = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    cr_assert_not_null(pub);
    cr_assert_eq(EVP_PKEY_eq(key, pub), 1);
    cr_assert_null(strstr(slurp(path), "PRIVATE"));
    cr_assert_eq(ca_pubkey_write(path, key, &err), CA_ERR_EXISTS);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(key);
}

/* ca_key_parse is ca_key_read without the file: the agent and the mTLS client
 * hand it PEM held in memory. */
Test(ca_key, parses_a_plain_key_from_memory)
{
    char path[128];
    EVP_PKEY *back = NULL;
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    struct ca_error err = {0};
    path_in(path, sizeof(path), "mem.key");
    cr_assert_eq(ca_key_write(path, key, NULL, 0, NULL), CA_OK);
    const char *text = slurp(path);
    cr_assert_eq(ca_key_parse(text, strlen(text), NULL, 0, &back, &err), CA_OK, "%s", err.msg);
    cr_assert_eq(EVP_PKEY_eq(key, back), 1);
    EVP_PKEY_free(back);
    EVP_PKEY_free(key);
}

Test(ca_key, parses_an_encrypted_key_from_memory_with_its_passphrase)
{
    char path[128];
    EVP_PKEY *back = NULL;
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    path_in(path, sizeof(path), "mem-enc.key");
    cr_assert_eq(ca_key_write(path, key, "pass", 4, NULL), CA_OK);
    const char *text = slurp(path);
    cr_assert_eq(ca_key_parse(text, strlen(text), "wrong", 5, &back, NULL), CA_ERR_BAD_PASSPHRASE);
    cr_assert_null(back);
    cr_assert_eq(ca_key_parse(text, strlen(text), "pass", 4, &back, NULL), CA_OK);
    cr_assert_eq(EVP_PKEY_eq(key, back), 1);
    EVP_PKEY_free(back);
    EVP_PKEY_free(key);
}

/* The text is a view: no NUL is needed, and bytes past its length are ignored. */
Test(ca_key, parses_only_the_given_length_of_the_text)
{
    char path[128];
    EVP_PKEY *back = NULL;
    EVP_PKEY *key = new_key(CA_KEY_EC_P256);
    path_in(path, sizeof(path), "view.key");
    cr_assert_eq(ca_key_write(path, key, NULL, 0, NULL), CA_OK);
    char text[4096];
    int n = snprintf(text, sizeof(text), "%strailing garbage", slurp(path));
    cr_assert(n > 0 && n < (int)sizeof(text));
    size_t key_len = (size_t)n - strlen("trailing garbage");
    cr_assert_eq(ca_key_parse(text, (size_t)n, NULL, 0, &back, NULL), CA_ERR_INVALID_KEY);
    cr_assert_eq(ca_key_parse(text, key_len, NULL, 0, &back, NULL), CA_OK);
    EVP_PKEY_free(back);
    EVP_PKEY_free(key);
}

Test(ca_key, refuses_an_empty_text_with_invalid_key)
{
    EVP_PKEY *back = NULL;
    cr_assert_eq(ca_key_parse("", 0, NULL, 0, &back, NULL), CA_ERR_INVALID_KEY);
    cr_assert_eq(ca_key_parse(NULL, 0, NULL, 0, &back, NULL), CA_ERR_INVALID_KEY);
    cr_assert_null(back);
}
