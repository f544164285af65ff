/* identity.c: checks the identity a caller proved (SPIFFE ID, DNS names, IP
 * addresses) before any of it goes into a certificate. */
#include <arpa/inet.h>
#include <string.h>

#include "internal.h"

#define DNS_LABEL_MAX 63
#define IP_TEXT_MAX   64 /* longer than any inet_pton input */

static int is_ldh(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* RFC 5280 4.2.1.6: a dNSName "MUST be in the "preferred name syntax", as
 * specified by Section 3.5 of [RFC1034]": LDH labels of 1..63 bytes that
 * neither start nor end with a hyphen. */
enum ca_err ca_dns_name_check(const char *name, size_t len, struct ca_error *err)
{
    if (name == NULL || len == 0 || len > CA_MAX_DNS_NAME_LEN) {
        return ca_fail(err, CA_ERR_INVALID_ARGUMENT, "DNS name must be 1..%d bytes",
                       CA_MAX_DNS_NAME_LEN);
    }
    size_t label_start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '.') {
            if (!is_ldh((unsigned char)name[i])) {
                return ca_fail(err, CA_ERR_INVALID_ARGUMENT,
                               "DNS name: character 0x%02x not allowed (letters, digits, '-')",
                               (unsigned char)name[i]);
            }
            continue;
        }
        size_t label_len = i - label_start;
        if (label_len == 0 || label_len > DNS_LABEL_MAX) {
            return ca_fail(err, CA_ERR_INVALID_ARGUMENT, "DNS name: labels must be 1..%d bytes",
                           DNS_LABEL_MAX);
        }
        if (name[label_start] == '-' || name[i - 1] == '-') {
            return ca_fail(err, CA_ERR_INVALID_ARGUMENT,
                           "DNS name: a label must not start or end with '-'");
        }
        label_start = i + 1;
    }
    return CA_OK;
}

/* parse_ip reads a textual IPv4 or IPv6 address with inet_pton. */
static enum ca_err parse_ip(const char *text, unsigned char out[16], size_t *out_len,
                            struct ca_error *err)
{
    size_t len = strnlen(text, IP_TEXT_MAX);
    if (len == 0 || len >= IP_TEXT_MAX) {
        return ca_fail(err, CA_ERR_INVALID_ARGUMENT, "IP address must be 1..%d bytes",
                       IP_TEXT_MAX - 1);
    }
    if (inet_pton(AF_INET, text, out) == 1) {
        *out_len = 4;
        return CA_OK;
    }
    if (inet_pton(AF_INET6, text, out) == 1) {
        *out_len = 16;
        return CA_OK;
    }
    return ca_fail(err, CA_ERR_INVALID_ARGUMENT, "not an IP address: %.64s", text);
}

enum ca_err ca_identity_check(const struct ca_identity *id, const char *trust_domain,
                              struct ca_ids *out, struct ca_error *err)
{
    enum ca_err rc = CA_OK;

    memset(out, 0, sizeof(*out));
    ENSURE(id != NULL && id->spiffe_id != NULL, CA_ERR_INVALID_SPIFFE_ID, "SPIFFE ID missing");
    ENSURE(id->num_dns_names <= CA_MAX_SANS && id->num_ips <= CA_MAX_SANS, CA_ERR_INVALID_ARGUMENT,
           "at most %d DNS names and %d IP addresses", CA_MAX_SANS, CA_MAX_SANS);
    ENSURE(id->num_dns_names == 0 || id->dns_names != NULL, CA_ERR_INVALID_ARGUMENT,
           "DNS names missing");
    ENSURE(id->num_ips == 0 || id->ips != NULL, CA_ERR_INVALID_ARGUMENT, "IP addresses missing");

    /* strnlen one past the cap, so an over-long ID is seen without reading on. */
    out->spiffe_id = id->spiffe_id;
    out->spiffe_id_len = strnlen(id->spiffe_id, CA_MAX_SPIFFE_ID_LEN + 1);
    TRY(ca_spiffe_id_check(out->spiffe_id, out->spiffe_id_len, trust_domain, err));

    for (size_t i = 0; i < id->num_dns_names; i++) {
        const char *name = id->dns_names[i];
        ENSURE(name != NULL, CA_ERR_INVALID_ARGUMENT, "DNS name missing");
        size_t len = strnlen(name, CA_MAX_DNS_NAME_LEN + 1);
        TRY(ca_dns_name_check(name, len, err));
        out->dns[out->num_dns] = name;
        out->dns_len[out->num_dns] = len;
        out->num_dns++;
    }
    for (size_t i = 0; i < id->num_ips; i++) {
        ENSURE(id->ips[i] != NULL, CA_ERR_INVALID_ARGUMENT, "IP address missing");
        TRY(parse_ip(id->ips[i], out->ip[out->num_ips], &out->ip_len[out->num_ips], err));
        out->num_ips++;
    }
out:
    return rc;
}
