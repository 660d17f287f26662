#include "CMtorHTTP.h"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>

/* libcurl's stable ABI (curl.h): option and info numbers have not changed since 7.x. */
enum {
    OPT_WRITEDATA = 10001, OPT_URL = 10002, OPT_ERRORBUFFER = 10010, OPT_POSTFIELDS = 10015,
    OPT_HTTPHEADER = 10023, OPT_CUSTOMREQUEST = 10036, OPT_WRITEFUNCTION = 20011,
    OPT_NOSIGNAL = 99, OPT_TIMEOUT_MS = 155, OPT_CONNECTTIMEOUT_MS = 156, OPT_POSTFIELDSIZE = 60,
    INFO_RESPONSE_CODE = 0x200002, GLOBAL_DEFAULT = 3, ERROR_SIZE = 256,
    CURLE_OPERATION_TIMEDOUT = 28
};

typedef void CURL;
struct slist;
static struct {
    int loaded;
    int (*global_init)(long);
    CURL *(*init)(void);
    int (*setopt)(CURL *, int, ...);
    int (*perform)(CURL *);
    int (*getinfo)(CURL *, int, ...);
    void (*cleanup)(CURL *);
    struct slist *(*slist_append)(struct slist *, const char *);
    void (*slist_free_all)(struct slist *);
    const char *(*strerror)(int);
} curl;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    const char *names[] = { "libcurl.so.4", "libcurl.so", "libcurl-gnutls.so.4", "/usr/lib/libcurl.4.dylib", "libcurl.dylib", NULL };
    void *h = NULL;
    for (int i = 0; names[i] && !h; i++) h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) return;
    curl.global_init = (int (*)(long))dlsym(h, "curl_global_init");
    curl.init = (CURL *(*)(void))dlsym(h, "curl_easy_init");
    curl.setopt = (int (*)(CURL *, int, ...))dlsym(h, "curl_easy_setopt");
    curl.perform = (int (*)(CURL *))dlsym(h, "curl_easy_perform");
    curl.getinfo = (int (*)(CURL *, int, ...))dlsym(h, "curl_easy_getinfo");
    curl.cleanup = (void (*)(CURL *))dlsym(h, "curl_easy_cleanup");
    curl.slist_append = (struct slist *(*)(struct slist *, const char *))dlsym(h, "curl_slist_append");
    curl.slist_free_all = (void (*)(struct slist *))dlsym(h, "curl_slist_free_all");
    curl.strerror = (const char *(*)(int))dlsym(h, "curl_easy_strerror");
    if (curl.global_init && curl.init && curl.setopt && curl.perform && curl.getinfo && curl.cleanup &&
        curl.slist_append && curl.slist_free_all && curl.strerror && curl.global_init(GLOBAL_DEFAULT) == 0) curl.loaded = 1;
}

struct sink { char *out; size_t cap; size_t len; };

static size_t collect(char *data, size_t size, size_t n, void *user) {
    struct sink *s = user;
    size_t bytes = size * n, room = s->cap - s->len;
    size_t take = bytes < room ? bytes : room;
    memcpy(s->out + s->len, data, take);
    s->len += take;
    return bytes;
}

int mtor_http_request(const char *url, const char *method, const char *const *headers, const char *body,
                      long timeout_ms, long *status, char *out, size_t cap, size_t *out_len, char *err, size_t err_cap) {
    pthread_once(&once, load);
    *out_len = 0;
    if (!curl.loaded) { snprintf(err, err_cap, "libcurl (libcurl.so.4) cannot be loaded"); return 2; }
    CURL *h = curl.init();
    if (!h) { snprintf(err, err_cap, "curl_easy_init failed"); return 1; }
    char errbuf[ERROR_SIZE] = {0};
    struct slist *list = NULL;
    for (const char *const *p = headers; p && *p; p++) list = curl.slist_append(list, *p);
    struct sink s = { out, cap, 0 };
    curl.setopt(h, OPT_URL, url);
    curl.setopt(h, OPT_NOSIGNAL, 1L);
    curl.setopt(h, OPT_TIMEOUT_MS, timeout_ms);
    curl.setopt(h, OPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl.setopt(h, OPT_ERRORBUFFER, errbuf);
    curl.setopt(h, OPT_WRITEFUNCTION, collect);
    curl.setopt(h, OPT_WRITEDATA, &s);
    if (list) curl.setopt(h, OPT_HTTPHEADER, list);
    if (body) {
        curl.setopt(h, OPT_POSTFIELDSIZE, (long)strlen(body));
        curl.setopt(h, OPT_POSTFIELDS, body);
    }
    if (method) curl.setopt(h, OPT_CUSTOMREQUEST, method);
    int rc = curl.perform(h);
    int result = 0;
    if (rc == 0) {
        long code = 0;
        curl.getinfo(h, INFO_RESPONSE_CODE, &code);
        *status = code;
        *out_len = s.len;
    } else {
        snprintf(err, err_cap, "%s", errbuf[0] ? errbuf : curl.strerror(rc));
        result = rc == CURLE_OPERATION_TIMEDOUT ? 3 : 1;
    }
    if (list) curl.slist_free_all(list);
    curl.cleanup(h);
    return result;
}
