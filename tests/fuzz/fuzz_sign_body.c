/* fuzz_sign_body.c: the POST /v1/sign and /v1/renew body parser
 * (api_sign_parse_body). A body that parses must hand back a CSR of
 * 1..CA_MAX_CSR_LEN bytes inside the document and a non-negative TTL. The
 * corpus (tests/fuzz/corpus/sign_body/) is hand-written with printf. */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "../../api/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void *doc = NULL;
    const char *csr = NULL;
    size_t csr_len = 0;
    int64_t ttl_s = -1;
    struct api_error err = {0};

    if (size > API_MAX_BODY_LEN) {
        return 0;
    }
    if (api_sign_parse_body((const char *)data, size, &doc, &csr, &csr_len, &ttl_s, &err) !=
        API_OK) {
        if (doc != NULL || err.msg[0] == '\0') {
            abort(); /* a refusal owns nothing and always says why */
        }
        return 0;
    }
    if (doc == NULL || csr == NULL || csr_len == 0 || csr_len > CA_MAX_CSR_LEN || ttl_s < 0) {
        abort();
    }
    json_decref(doc);
    return 0;
}
