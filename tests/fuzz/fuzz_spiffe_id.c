/* fuzz_spiffe_id.c: the hand-written validators of ca/spiffe.c. Beyond "no
 * crash", an accepted ID must satisfy the rules independently re-checked here
 * (prefix, length, no empty or dot segment, no trailing slash, charset), and
 * an accepted trust domain must be 1..255 bytes of [a-z0-9.-_]. The corpus
 * (tests/fuzz/corpus/spiffe_id/) is described in tests/fuzz/corpus/README.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"

static const char prefix[] = "spiffe://example.org/";

static void check_accepted_id(const uint8_t *data, size_t size)
{
    size_t plen = sizeof(prefix) - 1;
    if (size <= plen || size > CA_MAX_SPIFFE_ID_LEN || memcmp(data, prefix, plen) != 0 ||
        data[size - 1] == '/') {
        abort();
    }
    size_t seg = plen;
    for (size_t i = plen; i <= size; i++) {
        if (i < size && data[i] != '/') {
            uint8_t c = data[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_')) {
                abort();
            }
            continue;
        }
        size_t n = i - seg;
        if (n == 0 || (n == 1 && data[seg] == '.') ||
            (n == 2 && data[seg] == '.' && data[seg + 1] == '.')) {
            abort();
        }
        seg = i + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ca_error err = {0};
    if (ca_spiffe_id_check((const char *)data, size, "example.org", &err) == CA_OK) {
        check_accepted_id(data, size);
    } else if (err.code != CA_ERR_INVALID_SPIFFE_ID || err.msg[0] == '\0') {
        abort();
    }
    if (ca_trust_domain_check((const char *)data, size, NULL) == CA_OK) {
        if (size == 0 || size > 255) {
            abort();
        }
        for (size_t i = 0; i < size; i++) {
            uint8_t c = data[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                  c == '_')) {
                abort();
            }
        }
    }
    return 0;
}
