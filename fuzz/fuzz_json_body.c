/* libFuzzer target for every JSON request body: the input (after two
 * selector bytes) is the body of a well-formed POST/PATCH to one of the
 * routes that read JSON, sent to the real in-process server (fuzz_server.h)
 * with a real or no credential. This covers api_parse_body and each
 * handler's field decoding (register, token pair/refresh/verify/blacklist,
 * create-stac, STAC search, Mapbox token create/update, OAuth introspect and
 * revoke). Replies must be < 500, 503 or 505. Fuzzing thread only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct body_route {
    const char *method, *path;
    int params; /* 1: append "/<username>", 2: also "/<sk id>" */
};

static const struct body_route body_routes[] = {
    {"POST", "/api/v1/account/register", 0},
    {"POST", "/api/v1/token/pair", 0},
    {"POST", "/api/v1/token/refresh", 0},
    {"POST", "/api/v1/token/verify", 0},
    {"POST", "/api/v1/token/blacklist", 0},
    {"POST", "/api/v1/account/tokens/create-stac", 0},
    {"POST", "/api/v1/stac/search", 0},
    {"POST", "/tokens/v2", 1},
    {"PATCH", "/tokens/v2", 2},
    {"POST", "/api/v1/oauth/introspect", 0},
    {"POST", "/api/v1/oauth/revoke", 0},
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_server_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const struct body_route *rt =
        &body_routes[data[0] % (sizeof(body_routes) / sizeof(body_routes[0]))];
    const char *cred = fuzz_pick_credential(data[1]);
    data += 2;
    size -= 2;
    char path[256], head[1024];
    snprintf(path, sizeof(path), "%s%s%s%s%s", rt->path, rt->params >= 1 ? "/" : "",
             rt->params >= 1 ? fuzz_cred.username : "", rt->params >= 2 ? "/" : "",
             rt->params >= 2 ? fuzz_cred.sk_id : "");
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n%s%s%s\r\n",
                     rt->method, path, size, cred ? "Authorization: Bearer " : "",
                     cred ? cred : "", cred ? "\r\n" : "");
    struct fuzz_buf req = {0}, rep = {0};
    fuzz_buf_add(&req, head, (size_t)n);
    fuzz_buf_add(&req, data, size);
    fuzz_exchange(req.p, req.len, FUZZ_REPLY_WAIT_MS, &rep);
    fuzz_check_replies(rep.p, rep.len, NULL, NULL);
    free(req.p);
    free(rep.p);
    return 0;
}
