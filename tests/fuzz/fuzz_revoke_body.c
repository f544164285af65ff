/* fuzz_revoke_body.c: the input parsers of the revocation routes: the POST
 * /v1/revoke body (api_revoke_parse_body) and the GET /v1/certs query
 * (api_certs_query_parse). The whole input is a body; it is also split at
 * '&' into the five query values spiffe_id, status, limit, after and
 * renewed_from (a missing part is absent). The corpus (tests/fuzz/corpus/revoke_body/) is
 * hand-written with printf. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../api/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_revoke_body b;
    struct api_certs_parsed cq;
    const char *parts[API_CERTS_NUM_PARAMS] = {NULL};

    if (size > API_MAX_BODY_LEN) {
        return 0;
    }
    if (api_revoke_parse_body((const char *)data, size, &b, NULL) == API_OK &&
        (b.serial_len == 0 || b.serial_len > CA_MAX_SERIAL_LEN || b.serial[0] == 0)) {
        abort(); /* a parsed serial is 1..20 bytes without a leading zero */
    }
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    char *p = text;
    for (size_t i = 0; i < API_CERTS_NUM_PARAMS && p != NULL; i++) {
        parts[i] = p;
        p = strchr(p, '&');
        if (p != NULL) {
            *p++ = '\0';
        }
    }
    if (api_certs_query_parse(parts, 0, &cq, NULL) == API_OK &&
        (cq.q.limit < 1 || cq.q.limit > STORE_LIST_MAX ||
         (cq.q.renewed_from != NULL &&
          (cq.q.renewed_from_len < 1 || cq.q.renewed_from_len > CA_MAX_SERIAL_LEN)))) {
        abort();
    }
    free(text);
    return 0;
}
