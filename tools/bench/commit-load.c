// The durable-commit load generator of the bridge benchmark, in C as redis-benchmark
// is, so that the clients' cost is not what is measured: CLIENTS DEALER sockets in one
// thread, each with one request in flight, driven by zmq_poll.
//
//   commit-load <endpoint> <clients> <seconds> <bytes> bridge|echo
//
// bridge: each client says hello, creates a page of <bytes>, then writes it densely
// until the time is up, each write awaited and its response checked for `ok: true`.
// echo: each client sends a message of <bytes> + 32 and awaits it back (the baseline:
// ZeroMQ alone). Prints the completed operations per second on one line.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

typedef struct {
  uint8_t *at;
  size_t len;
} reader;

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fail(const char *what) {
  fprintf(stderr, "commit-load: %s\n", what);
  exit(1);
}

static uint8_t *put_str(uint8_t *out, const char *s) {
  size_t n = strlen(s);
  *out++ = (uint8_t)(0xa0 | n);
  memcpy(out, s, n);
  return out + n;
}

static uint8_t *put_u32(uint8_t *out, uint32_t v) {
  *out++ = 0xce;
  for (int shift = 24; shift >= 0; shift -= 8) *out++ = (uint8_t)(v >> shift);
  return out;
}

static uint8_t *put_u64(uint8_t *out, uint64_t v) {
  *out++ = 0xcf;
  for (int shift = 56; shift >= 0; shift -= 8) *out++ = (uint8_t)(v >> shift);
  return out;
}

static int take(reader *r, size_t n) {
  if (r->len < n) return 0;
  r->at += n;
  r->len -= n;
  return 1;
}

static uint64_t big_endian(const uint8_t *at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = (v << 8) | at[i];
  return v;
}

// Reads an unsigned integer, or skips any other value; returns 0 on malformed input.
static int read_value(reader *r, uint64_t *uint_out, int *is_true) {
  if (r->len == 0) return 0;
  uint8_t b = r->at[0];
  *is_true = b == 0xc3;
  if (b <= 0x7f) {
    *uint_out = b;
    return take(r, 1);
  }
  if (b >= 0xcc && b <= 0xcf) {
    size_t n = (size_t)1 << (b - 0xcc);
    if (r->len < 1 + n) return 0;
    *uint_out = big_endian(r->at + 1, n);
    return take(r, 1 + n);
  }
  if ((b & 0xe0) == 0xa0) return take(r, 1 + (b & 0x1f));
  if ((b & 0xe0) == 0x80) {
    size_t values = (size_t)(b & 0x0f) << ((b & 0x10) ? 0 : 1);
    uint64_t ignored_uint;
    int ignored_true;
    if (!take(r, 1)) return 0;
    for (size_t i = 0; i < values; i++)
      if (!read_value(r, &ignored_uint, &ignored_true)) return 0;
    return 1;
  }
  if ((b & 0xe0) == 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return take(r, 1);
  if (b == 0xd9 || b == 0xc4) return r->len >= 2 && take(r, 2 + r->at[1]);
  if (b == 0xda || b == 0xc5) return r->len >= 3 && take(r, 3 + big_endian(r->at + 1, 2));
  if (b >= 0xd0 && b <= 0xd3) return take(r, 1 + ((size_t)1 << (b - 0xd0)));
  return 0;
}

// Finds `ok` and, when asked, `handle` in a response map; returns whether ok is true.
static int response_ok(uint8_t *body, size_t len, uint64_t *handle) {
  reader r = {body, len};
  if (len == 0 || (body[0] & 0xf0) != 0x80) return 0;
  size_t entries = body[0] & 0x0f;
  take(&r, 1);
  int ok = 0;
  for (size_t i = 0; i < entries; i++) {
    if (r.len == 0 || (r.at[0] & 0xe0) != 0xa0) return 0;
    size_t key_len = r.at[0] & 0x1f;
    if (r.len < 1 + key_len) return 0;
    const char *key = (const char *)r.at + 1;
    take(&r, 1 + key_len);
    uint64_t uint_value = 0;
    int is_true = 0;
    if (!read_value(&r, &uint_value, &is_true)) return 0;
    if (key_len == 2 && memcmp(key, "ok", 2) == 0) ok = is_true;
    if (handle && key_len == 6 && memcmp(key, "handle", 6) == 0) *handle = uint_value;
  }
  return ok;
}

typedef struct {
  void *socket;
  uint8_t request[512];
  size_t request_len;
  uint8_t *rid_at;
  uint32_t rid;
} client;

static void call(client *c, size_t len, uint64_t *handle) {
  if (zmq_send(c->socket, c->request, len, 0) < 0) fail("send");
  uint8_t reply[4096];
  int n = zmq_recv(c->socket, reply, sizeof reply, 0);
  if (n < 0) fail("no answer to a set-up request within 10 s");
  if ((size_t)n > sizeof reply || !response_ok(reply, (size_t)n, handle)) fail("a set-up request was refused");
}

static void prepare_bridge(client *c, size_t bytes) {
  uint8_t *out = c->request;
  *out++ = 0x84;
  out = put_str(out, "v");
  *out++ = 1;
  out = put_str(out, "rid");
  *out++ = 1;
  out = put_str(out, "op");
  out = put_str(out, "hello");
  out = put_str(out, "versions");
  *out++ = 0x91;
  *out++ = 1;
  call(c, (size_t)(out - c->request), NULL);

  out = c->request;
  *out++ = 0x84;
  out = put_str(out, "v");
  *out++ = 1;
  out = put_str(out, "rid");
  *out++ = 2;
  out = put_str(out, "op");
  out = put_str(out, "create");
  out = put_str(out, "size");
  out = put_u32(out, (uint32_t)bytes);
  uint64_t handle = 0;
  call(c, (size_t)(out - c->request), &handle);

  out = c->request;
  *out++ = 0x86;
  out = put_str(out, "v");
  *out++ = 1;
  out = put_str(out, "rid");
  c->rid_at = out;
  c->rid = 3;
  out = put_u32(out, c->rid);
  out = put_str(out, "op");
  out = put_str(out, "write");
  out = put_str(out, "handle");
  out = put_u64(out, handle);
  out = put_str(out, "form");
  out = put_str(out, "dense");
  out = put_str(out, "bytes");
  *out++ = 0xc4;
  *out++ = (uint8_t)bytes;
  memset(out, 1, bytes);
  out += bytes;
  c->request_len = (size_t)(out - c->request);
}

int main(int argc, char **argv) {
  if (argc != 6) fail("usage: commit-load <endpoint> <clients> <seconds> <bytes> bridge|echo");
  const char *endpoint = argv[1];
  int clients = atoi(argv[2]);
  double seconds = atof(argv[3]);
  size_t bytes = (size_t)atoi(argv[4]);
  int bridge = strcmp(argv[5], "bridge") == 0;
  if (clients <= 0 || clients > 4096 || seconds <= 0 || bytes == 0 || bytes > 255) fail("bad arguments");

  void *context = zmq_ctx_new();
  client *all = calloc((size_t)clients, sizeof(client));
  zmq_pollitem_t *items = calloc((size_t)clients, sizeof(zmq_pollitem_t));
  for (int i = 0; i < clients; i++) {
    all[i].socket = zmq_socket(context, ZMQ_DEALER);
    int linger = 0, timeout_ms = 10000;
    zmq_setsockopt(all[i].socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(all[i].socket, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    if (zmq_connect(all[i].socket, endpoint) != 0) fail("connect");
    if (bridge) {
      prepare_bridge(&all[i], bytes);
    } else {
      memset(all[i].request, 1, bytes + 32);
      all[i].request_len = bytes + 32;
    }
    items[i].socket = all[i].socket;
    items[i].events = ZMQ_POLLIN;
  }

  uint64_t done = 0;
  double start = now_seconds();
  double end = start + seconds;
  for (int i = 0; i < clients; i++)
    if (zmq_send(all[i].socket, all[i].request, all[i].request_len, 0) < 0) fail("send");
  uint8_t reply[4096];
  int stopping = 0;
  int in_flight = clients;
  double progressed = start;
  while (in_flight > 0) {
    if (zmq_poll(items, clients, 1000) < 0) fail("poll");
    if (now_seconds() - progressed > 10) fail("no response for 10 s");
    for (int i = 0; i < clients; i++) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      client *c = &all[i];
      int n;
      while ((n = zmq_recv(c->socket, reply, sizeof reply, ZMQ_DONTWAIT)) >= 0) {
        if (bridge && !response_ok(reply, (size_t)n > sizeof reply ? sizeof reply : (size_t)n, NULL))
          fail("a write was refused");
        done++;
        in_flight--;
        progressed = now_seconds();
        if (!stopping && now_seconds() >= end) stopping = 1;
        if (stopping) break;
        if (bridge) {
          c->rid++;
          put_u32(c->rid_at, c->rid);
        }
        if (zmq_send(c->socket, c->request, c->request_len, 0) < 0) fail("send");
        in_flight++;
      }
    }
  }
  double elapsed = now_seconds() - start;
  printf("%.0f\n", (double)done / elapsed);
  for (int i = 0; i < clients; i++) zmq_close(all[i].socket);
  zmq_ctx_term(context);
  free(items);
  free(all);
  return 0;
}
