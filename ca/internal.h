/* internal.h: shared by the files of ca/ only. */
#ifndef SIGNET_CA_INTERNAL_H
#define SIGNET_CA_INTERNAL_H

#include <openssl/err.h>

#include "ca.h"

/* The three error macros of STYLE.md section 4. Each expects `enum ca_err rc`,
 * `struct ca_error *err` and an `out:` label in the calling function. */
#define TRY(call)                                                                                  \
    do {                                                                                           \
        rc = (call);                                                                               \
        if (rc != CA_OK) {                                                                         \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

#define ENSURE(cond, code, ...)                                                                    \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            rc = ca_fail(err, (code), __VA_ARGS__);                                                \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* OSSL fails unless the OpenSSL call returned exactly 1 (verifiers return 1, 0
 * or -1), and clears OpenSSL's error queue so no stale reason leaks later. */
#define OSSL(call, code, ...)                                                                      \
    do {                                                                                           \
        if ((call) != 1) {                                                                         \
            ERR_clear_error();                                                                     \
            rc = ca_fail(err, (code), __VA_ARGS__);                                                \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

#endif
