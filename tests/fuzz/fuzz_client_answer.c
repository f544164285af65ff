/* fuzz_client_answer.c: what api/client.c parses from a server: a 201 SVID
 * answer (api_svid_parse), an error body (api_reply_parse_error), and the
 * hand-written validators for times and serials. Beyond "no crash": an
 * accepted serial is re-checked to be canonical lower-case hex of at most 40
 * digits, an accepted time is exactly 20 bytes ending in 'Z', and the error
 * strings are single lines. The corpus is tests/fuzz/corpus/client_answer/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../api/internal.h"

static void check_serial(const uint8_t *data, size_t size)
{
    char in[128];
    char out[API_CLIENT_SERIAL_MAX];

    if (size >= sizeof(in)) {
        return;
    }
    memcpy(in, data, size);
    in[size] = '\0';
    if (api_serial_normalize(in, out, NULL) != API_OK) {
        return;
    }
    size_t n = strlen(out);
    if (n == 0 || n > 40 || out[0] == '0') {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        if (!((out[i] >= '0' && out[i] <= '9') || (out[i] >= 'a' && out[i] <= 'f'))) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_svid svid;
    struct api_error err = {0};
    int64_t t = 0;

    if (api_svid_parse((const char *)data, size, &svid, &err) == API_OK &&
        (svid.leaf == NULL || svid.cert_pem == NULL || svid.bundle_pem == NULL)) {
        abort();
    }
    api_svid_cleanup(&svid);

    if (api_time_parse_rfc3339((const char *)data, size, &t) && (size != 20 || data[19] != 'Z')) {
        abort();
    }
    check_serial(data, size);

    char *body = malloc(size + 1);
    if (body == NULL) {
        return 0;
    }
    memcpy(body, data, size);
    body[size] = '\0';
    struct api_reply r = {.status = 400, .body = body, .body_len = size};
    api_reply_parse_error(&r);
    for (size_t i = 0; r.message[i] != '\0'; i++) {
        if ((unsigned char)r.message[i] < 0x20) {
            abort();
        }
    }
    free(body);
    return 0;
}
