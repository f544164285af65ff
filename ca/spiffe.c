/* spiffe.c: trust domain and SPIFFE ID validation (SPIFFE-ID specification,
 * CONTRACT section 4). Hand-written validators: an explicit character set, one
 * pass over the input as a small state machine, and all of it consumed. */
#include <string.h>

#include "internal.h"

#define SPIFFE_SCHEME     "spiffe://"
#define SPIFFE_SCHEME_LEN (sizeof(SPIFFE_SCHEME) - 1)
#define TRUST_DOMAIN_MAX  255

/* SPIFFE-ID 2.1: "Trust domain names ... MUST contain only lowercase letters,
 * numbers, dots, dashes, and underscores ([a-z0-9.-_])." */
static int is_td_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/* SPIFFE-ID 2.2: "Valid path segment characters are letters, numbers, dots,
 * dashes, and underscores ([a-zA-Z0-9.-_])." */
static int is_path_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

/* bad_char names the rule a character outside the allowed set breaks. */
static enum ca_err bad_char(struct ca_error *err, unsigned char c, int in_td)
{
    switch (c) {
        case ':':
            return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID,
                           in_td ? "SPIFFE ID: a port is not allowed"
                                 : "SPIFFE ID: character ':' not allowed in the path");
        case '@':
            return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID, "SPIFFE ID: userinfo is not allowed");
        case '?':
            return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID, "SPIFFE ID: a query is not allowed");
        case '#':
            return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID, "SPIFFE ID: a fragment is not allowed");
        case '%':
            return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID,
                           "SPIFFE ID: percent-encoding is not allowed");
        default:
            break;
    }
    if (in_td && c >= 'A' && c <= 'Z') {
        return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID, "SPIFFE ID: trust domain must be lower-case");
    }
    return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID, "SPIFFE ID: character 0x%02x not allowed in %s",
                   c, in_td ? "the trust domain" : "the path");
}

enum ca_err ca_trust_domain_check(const char *td, size_t td_len, struct ca_error *err)
{
    if (td == NULL || td_len == 0 || td_len > TRUST_DOMAIN_MAX) {
        return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID, "trust domain must be 1..%d bytes",
                       TRUST_DOMAIN_MAX);
    }
    for (size_t i = 0; i < td_len; i++) {
        unsigned char c = (unsigned char)td[i];
        if (!is_td_char(c)) {
            return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID,
                           "trust domain: character 0x%02x not allowed ([a-z0-9.-_] only)", c);
        }
    }
    return CA_OK;
}

/* check_segment applies SPIFFE-ID 2.2 to one path segment: "Paths MUST NOT
 * include empty segments (//) or dot segments (./ or ../)" and "MUST NOT
 * include a trailing /". */
static enum ca_err check_segment(const char *seg, size_t len, int last, struct ca_error *err)
{
    if (len == 0) {
        return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID,
                       last ? "SPIFFE ID: trailing '/' is not allowed"
                            : "SPIFFE ID: empty path segment is not allowed");
    }
    if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
        return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID,
                       "SPIFFE ID: '.' and '..' path segments are not allowed");
    }
    return CA_OK;
}

enum ca_err ca_spiffe_id_check(const char *id, size_t id_len, const char *trust_domain,
                               struct ca_error *err)
{
    enum {
        TD,
        PATH
    } state = TD;

    if (id == NULL || trust_domain == NULL) {
        return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID, "SPIFFE ID missing");
    }
    /* Size cap first: SPIFFE-ID 2.3 "URIs with a total length exceeding 2048
     * bytes ... SHOULD NOT be used"; we refuse them. */
    if (id_len > CA_MAX_SPIFFE_ID_LEN) {
        return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID, "SPIFFE ID longer than %d bytes",
                       CA_MAX_SPIFFE_ID_LEN);
    }
    /* SPIFFE-ID 2: "The scheme ... is set to spiffe", lower-case. */
    if (id_len < SPIFFE_SCHEME_LEN || memcmp(id, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN) != 0) {
        return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID, "SPIFFE ID must start with spiffe://");
    }

    size_t td_start = SPIFFE_SCHEME_LEN;
    size_t td_len = 0;
    size_t seg_start = 0;
    for (size_t i = SPIFFE_SCHEME_LEN; i < id_len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (state == TD) {
            if (c == '/') {
                td_len = i - td_start;
                state = PATH;
                seg_start = i + 1;
            } else if (!is_td_char(c)) {
                return bad_char(err, c, 1);
            }
            continue;
        }
        if (c == '/') {
            enum ca_err rc = check_segment(id + seg_start, i - seg_start, 0, err);
            if (rc != CA_OK) {
                return rc;
            }
            seg_start = i + 1;
        } else if (!is_path_char(c)) {
            return bad_char(err, c, 0);
        }
    }
    if (state == TD) {
        td_len = id_len - td_start;
    }
    /* SPIFFE-ID 2.1: "The trust domain ... MUST NOT be empty". */
    if (td_len == 0) {
        return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID, "SPIFFE ID: trust domain is empty");
    }
    if (td_len != strlen(trust_domain) || memcmp(id + td_start, trust_domain, td_len) != 0) {
        return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID, "SPIFFE ID is not in trust domain %.100s",
                       trust_domain);
    }
    /* A workload's ID names the workload: its path is non-empty (CONTRACT 4). */
    if (state == TD) {
        return ca_fail(err, CA_ERR_INVALID_SPIFFE_ID, "SPIFFE ID: the path must not be empty");
    }
    return check_segment(id + seg_start, id_len - seg_start, 1, err);
}
