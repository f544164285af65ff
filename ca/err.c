/* err.c: the ca module's error table and message helper. */
#include <stdarg.h>
#include <stdio.h>

#include "ca.h"

const char *ca_err_name(enum ca_err code)
{
    switch (code) {
#define CA_ERR_CASE(c, name)                                                                       \
    case c:                                                                                        \
        return name;
        CA_ERRORS(CA_ERR_CASE)
#undef CA_ERR_CASE
    }
    return "unknown";
}

enum ca_err ca_fail(struct ca_error *err, enum ca_err code, const char *fmt, ...)
{
    if (err == NULL) {
        return code;
    }
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        err->msg[0] = '\0';
    }
    return code;
}
