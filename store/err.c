/* err.c: the store module's error table. */
#include "internal.h"

const char *store_err_name(enum store_err code)
{
    switch (code) {
#define STORE_ERR_CASE(c, name)                                                                    \
    case c:                                                                                        \
        return name;
        STORE_ERRORS(STORE_ERR_CASE)
#undef STORE_ERR_CASE
    }
    return "unknown";
}

int store_err_clean(enum store_err rc)
{
    return rc == STORE_ERR_EXISTS || rc == STORE_ERR_NOT_FOUND ||
           rc == STORE_ERR_INVALID_ARGUMENT || rc == STORE_ERR_REPLAY || rc == STORE_ERR_REVOKED;
}
