/* err.c: the store module's error table. */
#include "store.h"

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
