/* peer.c: the client certificate of an mTLS connection. GnuTLS only hands us
 * the bytes (the handshake asks for a certificate but never judges it); the
 * chain is verified by our own OpenSSL code, then the store says whether the
 * certificate is one we issued and have not revoked. */
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "internal.h"

/* Larger than any certificate we issue (STORE_CERT_MAX) with room to spare. */
#define API_MAX_PEER_DER (64 * 1024)

enum api_err api_peer_der(struct MHD_Connection *conn, unsigned char **out_der, size_t *out_len,
                          struct api_error *err)
{
    enum api_err rc = API_OK;
    unsigned int num = 0;

    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    ENSURE(ci != NULL && ci->tls_session != NULL, API_ERR_UNAUTHENTICATED,
           "client certificate required");
    gnutls_session_t session = ci->tls_session;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &num);
    ENSURE(peers != NULL && num > 0 && peers[0].size > 0, API_ERR_UNAUTHENTICATED,
           "client certificate required");
    ENSURE(peers[0].size <= API_MAX_PEER_DER, API_ERR_UNAUTHENTICATED,
           "client certificate too large");
    unsigned char *der = malloc(peers[0].size);
    ENSURE(der != NULL, API_ERR_INTERNAL, "out of memory");
    memcpy(der, peers[0].data, peers[0].size);
    *out_der = der;
    *out_len = peers[0].size;
out:
    return rc;
}

enum api_err api_peer_verify(const struct ca_issuer *issuer, struct store *st,
                             const unsigned char *der, size_t der_len, int64_t now,
                             struct ca_peer *out, int *out_revoked, struct api_error *err)
{
    enum api_err rc = API_OK;
    struct ca_error cerr = {0};
    struct store_record rec = {0};

    enum ca_err crc = ca_issuer_verify_peer(issuer, der, der_len, now, out, &cerr);
    if (crc == CA_ERR_INVALID_CERT || crc == CA_ERR_UNTRUSTED_CERT) {
        rc = api_fail(err, API_ERR_UNAUTHENTICATED, "client certificate refused: %s", cerr.msg);
        goto out;
    }
    ENSURE(crc == CA_OK, API_ERR_INTERNAL, "client certificate check failed");
    enum store_err src = store_get(st, out->serial, out->serial_len, &rec);
    ENSURE(src != STORE_ERR_NOT_FOUND, API_ERR_UNAUTHENTICATED,
           "client certificate refused: serial %s was not issued by this server", out->serial_hex);
    ENSURE(src == STORE_OK, API_ERR_UNAVAILABLE, "the issuance store cannot be read");
    /* The record must hold this very certificate: a serial alone is not proof. */
    ENSURE(rec.cert_der_len == der_len && CRYPTO_memcmp(rec.cert_der, der, der_len) == 0,
           API_ERR_UNAUTHENTICATED,
           "client certificate refused: serial %s was recorded for another certificate",
           out->serial_hex);
    if (out_revoked != NULL) {
        *out_revoked = rec.revoked_at != 0;
    } else {
        ENSURE(rec.revoked_at == 0, API_ERR_UNAUTHENTICATED,
               "client certificate refused: serial %s is revoked", out->serial_hex);
    }
out:
    store_record_cleanup(&rec);
    return rc;
}
