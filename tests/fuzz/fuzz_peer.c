/* fuzz_peer.c: ca_issuer_verify_peer (ca/peer.c), the check of a client
 * certificate, on the bytes as given and, when OpenSSL can decode them as a
 * certificate, on that certificate signed again by the fuzz issuer's own
 * intermediate: the first reaches everything before the signature check (the
 * DER split, the version, algorithm and issuer comparisons), the second
 * everything after it (extensions, dates, purpose, SANs, serial). What peer.c accepts is checked
 * again with OpenSSL's own parser and verifier (accepted_by_openssl), independently of peer.c. The
 * corpus (tests/fuzz/corpus/peer/) is described in tests/fuzz/corpus/README.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "fuzz_issuer.h"

static struct ca_issuer *issuer;
static EVP_PKEY *inter_key;

/* usage_allows: extension |nid| of |x| is absent, or has bit |bit| set (a
 * bit string) or names |want| (an extKeyUsage), as OpenSSL decodes it. */
static int usage_allows(X509 *x, int nid, int bit, int want)
{
    int crit = 0;
    void *ext = X509_get_ext_d2i(x, nid, &crit, NULL);
    int ok = ext == NULL && crit == -1;
    if (ext != NULL && nid == NID_ext_key_usage) {
        for (int i = 0; i < sk_ASN1_OBJECT_num(ext); i++) {
            ok |= OBJ_obj2nid(sk_ASN1_OBJECT_value(ext, i)) == want;
        }
        sk_ASN1_OBJECT_pop_free(ext, ASN1_OBJECT_free);
    } else if (ext != NULL) {
        ok = ASN1_BIT_STRING_get_bit(ext, bit) || (want >= 0 && ASN1_BIT_STRING_get_bit(ext, want));
        ASN1_BIT_STRING_free(ext);
    }
    return ok;
}

/* accepted_by_openssl: what peer.c accepted, OpenSSL's own parser and
 * verifier must say the same of: signed by the intermediate key, v3, within
 * its dates, CA:FALSE, usable for client authentication, exactly one URI SAN,
 * the SPIFFE ID returned. (Not X509_check_purpose as a whole: it also refuses
 * a malformed extension that peer.c never reads, such as a subjectKeyIdentifier,
 * in a certificate only this CA's key can have signed.) */
static int accepted_by_openssl(const unsigned char *der, size_t len, const struct ca_peer *peer)
{
    const unsigned char *p = der;
    int crit = 0;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    int ok = x != NULL && p == der + len && X509_verify(x, inter_key) == 1 &&
             X509_get_version(x) == X509_VERSION_3 &&
             X509_cmp_time(X509_get0_notBefore(x), &(time_t){FUZZ_NOW}) <= 0 &&
             X509_cmp_time(X509_get0_notAfter(x), &(time_t){FUZZ_NOW}) > 0;
    BASIC_CONSTRAINTS *bc = ok ? X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL) : NULL;
    ok = ok && (bc != NULL ? !bc->ca : crit == -1);
    BASIC_CONSTRAINTS_free(bc);
    /* keyUsage digitalSignature (0) or keyAgreement (4); nsCertType SSL client (0). */
    ok = ok && usage_allows(x, NID_key_usage, 0, 4) &&
         usage_allows(x, NID_netscape_cert_type, 0, -1) &&
         usage_allows(x, NID_ext_key_usage, 0, NID_client_auth);
    GENERAL_NAMES *gens = ok ? X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL) : NULL;
    int uris = 0;
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        int type = -1;
        const ASN1_STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, i), &type);
        if (type == GEN_URI) {
            uris++;
            ok &= (size_t)ASN1_STRING_length(s) == strlen(peer->spiffe_id) &&
                  memcmp(ASN1_STRING_get0_data(s), peer->spiffe_id, strlen(peer->spiffe_id)) == 0;
        }
    }
    ok &= uris == 1 && strncmp(peer->spiffe_id, "spiffe://example.org/", 21) == 0;
    GENERAL_NAMES_free(gens);
    X509_free(x);
    ERR_clear_error();
    return ok;
}

static void check(const unsigned char *der, size_t len)
{
    struct ca_peer peer;
    struct ca_error err = {0};
    enum ca_err rc = ca_issuer_verify_peer(issuer, der, len, FUZZ_NOW, &peer, &err);
    if (rc == CA_OK ? !accepted_by_openssl(der, len, &peer)
                    : err.code != rc || err.msg[0] == '\0' || peer.spiffe_id[0] != '\0') {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (issuer == NULL) {
        issuer = fuzz_issuer_new(&inter_key);
    }
    check(data, size);
    const unsigned char *p = data;
    X509 *x = d2i_X509(NULL, &p, (long)size);
    unsigned char *der = NULL;
    int der_len = 0;
    if (x != NULL && X509_sign(x, inter_key, EVP_sha256()) > 0 &&
        (der_len = i2d_X509(x, &der)) > 0) {
        check(der, (size_t)der_len);
    }
    ERR_clear_error();
    OPENSSL_free(der);
    X509_free(x);
    return 0;
}
