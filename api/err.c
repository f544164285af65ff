/* err.c: the api module's error table: wire codes and HTTP statuses. */
#include <stdarg.h>
#include <stdio.h>

#include "api.h"

const char *api_err_wire(enum api_err code)
{
    switch (code) {
#define API_ERR_WIRE(c, wire, status)                                                              \
    case c:                                                                                        \
        return wire;
        API_ERRORS(API_ERR_WIRE)
#undef API_ERR_WIRE
    }
    return "internal";
}

unsigned api_err_status(enum api_err code)
{
    switch (code) {
#define API_ERR_STATUS(c, wire, status)                                                            \
    case c:                                                                                        \
        return status;
        API_ERRORS(API_ERR_STATUS)
#undef API_ERR_STATUS
    }
    return 500;
}

enum api_err api_fail(struct api_error *err, enum api_err code, const char *fmt, ...)
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
