/* der.c: the few steps that take a DER structure apart with OpenSSL's own
 * decoders, shared by the CSR check (csr.c) and the client certificate check
 * (peer.c). d2i_ASN1_SEQUENCE_ANY splits a SEQUENCE into its elements without
 * interpreting them (a public key stays bytes); these helpers only say which
 * element is which and check its type. */
#include <string.h>
#include <time.h>

#include "internal.h"

ASN1_SEQUENCE_ANY *ca_der_split(const unsigned char *der, long len, int num)
{
    const unsigned char *p = der;
    ASN1_SEQUENCE_ANY *seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, len);
    if (seq == NULL || p != der + len || sk_ASN1_TYPE_num(seq) != num) {
        sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
        ERR_clear_error();
        return NULL;
    }
    return seq;
}

void ca_der_split_free(ASN1_SEQUENCE_ANY *seq)
{
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
}

const unsigned char *ca_der_seq(const ASN1_SEQUENCE_ANY *seq, int i, long *out_len)
{
    const ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);
    if (t == NULL || t->type != V_ASN1_SEQUENCE || t->value.sequence == NULL) {
        return NULL;
    }
    *out_len = t->value.sequence->length;
    return t->value.sequence->data;
}

const ASN1_BIT_STRING *ca_der_bits(const ASN1_SEQUENCE_ANY *seq, int i)
{
    const ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);
    if (t == NULL || t->type != V_ASN1_BIT_STRING || t->value.bit_string == NULL) {
        return NULL;
    }
    const ASN1_BIT_STRING *bs = t->value.bit_string;
    if ((bs->flags & ASN1_STRING_FLAG_BITS_LEFT) != 0 && (bs->flags & 0x07) != 0) {
        return NULL;
    }
    return bs;
}

X509_ALGOR *ca_der_algor(const ASN1_SEQUENCE_ANY *seq, int i)
{
    long len = 0;
    const unsigned char *der = ca_der_seq(seq, i, &len);
    if (der == NULL) {
        return NULL;
    }
    const unsigned char *p = der;
    X509_ALGOR *alg = d2i_X509_ALGOR(NULL, &p, len);
    if (alg == NULL || p != der + len) {
        X509_ALGOR_free(alg);
        ERR_clear_error();
        return NULL;
    }
    return alg;
}

const unsigned char *ca_der_tagged(const ASN1_SEQUENCE_ANY *seq, int i, int tag, long *out_len)
{
    const ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);
    /* OpenSSL keeps a context-tagged element met as ANY whole, as V_ASN1_OTHER;
     * ASN1_get_object (OpenSSL's DER header decoder) opens it. */
    if (t == NULL || t->type != V_ASN1_OTHER || t->value.asn1_string == NULL) {
        return NULL;
    }
    const unsigned char *p = t->value.asn1_string->data;
    long total = t->value.asn1_string->length;
    long len = 0;
    int got_tag = 0;
    int xclass = 0;
    int ret = ASN1_get_object(&p, &len, &got_tag, &xclass, total);
    if (ret != V_ASN1_CONSTRUCTED || got_tag != tag || xclass != V_ASN1_CONTEXT_SPECIFIC ||
        p + len != t->value.asn1_string->data + total) {
        ERR_clear_error();
        return NULL;
    }
    *out_len = len;
    return p;
}

int64_t ca_time_unix(const ASN1_TIME *t)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        ERR_clear_error();
        return 0;
    }
    return (int64_t)timegm(&tm);
}
