#ifndef CMTORHTTP_H
#define CMTORHTTP_H
#include <stddef.h>

/// One HTTP request through the system's libcurl (loaded with dlopen, so no headers or link
/// flags are needed), blocking in poll(2) while it waits: no CPU is spent on a silent server.
/// `headers` is a NULL-terminated list of "Name: value" lines; `body` may be NULL (then GET
/// unless `method` says otherwise). On an HTTP answer returns 0 with `*status` set and up to
/// `cap` bytes of the body in `out` (`*out_len`). Returns 1 with a sentence in `err` when no
/// answer came (refused, DNS, …), 3 with a sentence when none came within `timeout_ms`, and 2 when
/// libcurl cannot be loaded.
int mtor_http_request(const char *url, const char *method, const char *const *headers, const char *body,
                      long timeout_ms, long *status, char *out, size_t cap, size_t *out_len, char *err, size_t err_cap);
#endif
