/* reply.c — the two reply shapes every AudioBridge request ends in. */
#include "hj.h"

#include <stdarg.h>

json_t *hj_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    json_t *e = json_object();
    json_object_set_new(e, "audiobridge", json_string("event"));
    json_object_set_new(e, "error_code", json_integer(code));
    json_object_set_new(e, "error", json_string(text));
    g_free(text);
    return e;
}

json_t *hj_reply(const char *kind)
{
    json_t *r = json_object();
    json_object_set_new(r, "audiobridge", json_string(kind));
    return r;
}
