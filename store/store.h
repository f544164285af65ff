/* store.h: issuance records in LMDB. Records in, records out: no LMDB type
 * crosses this interface, so that another backend can sit behind it. The store
 * parses no X.509; a record carries the certificate's DER only as bytes. */
#ifndef SIGNET_STORE_H
#define SIGNET_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_SERIAL_MAX    20 /* bytes; signet issues 16 */
#define STORE_SPIFFE_ID_MAX 2048
#define STORE_CERT_MAX      (16 * 1024)
#define STORE_JTI_MAX       256

/* The module's error table: code, short name. STORE_OK is 0. */
#define STORE_ERRORS(X)                                                                            \
    X(STORE_OK, "ok")                                                                              \
    X(STORE_ERR_INTERNAL, "internal")                                                              \
    X(STORE_ERR_INVALID_ARGUMENT, "invalid_argument")                                              \
    X(STORE_ERR_NOT_FOUND, "not_found")                                                            \
    X(STORE_ERR_EXISTS, "exists")                                                                  \
    X(STORE_ERR_MAP_FULL, "map_full")                                                              \
    X(STORE_ERR_IO, "io")                                                                          \
    X(STORE_ERR_CORRUPT, "corrupt")                                                                \
    X(STORE_ERR_VERSION, "version")                                                                \
    X(STORE_ERR_CLOSED, "closed")

enum store_err {
#define STORE_ERR_ENUM(code, name) code,
    STORE_ERRORS(STORE_ERR_ENUM)
#undef STORE_ERR_ENUM
};

/* store_err_name returns the short name of |code| ("map_full"), a static string. */
const char *store_err_name(enum store_err code);

#endif
