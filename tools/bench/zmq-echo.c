// A ROUTER that sends every message back, in C over libzmq: the fastest a
// ZeroMQ server answers on this machine, a baseline of the durable-commit
// figures. It takes every message waiting at each wake-up, then answers them.
//
//   zmq-echo <endpoint>     prints "ready" once bound
#include <stdio.h>
#include <zmq.h>

#define BATCH 1024

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: zmq-echo <endpoint>\n");
    return 2;
  }
  void *context = zmq_ctx_new();
  void *router = zmq_socket(context, ZMQ_ROUTER);
  if (zmq_bind(router, argv[1]) != 0) {
    fprintf(stderr, "zmq-echo: cannot bind %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  static zmq_msg_t ids[BATCH], bodies[BATCH];
  for (;;) {
    zmq_pollitem_t item = {router, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, -1) < 0) continue;
    int taken = 0;
    while (taken < BATCH) {
      zmq_msg_init(&ids[taken]);
      zmq_msg_init(&bodies[taken]);
      if (zmq_msg_recv(&ids[taken], router, ZMQ_DONTWAIT) < 0) break;
      if (zmq_msg_recv(&bodies[taken], router, 0) < 0) break;
      taken++;
    }
    for (int i = 0; i < taken; i++) {
      zmq_msg_send(&ids[i], router, ZMQ_SNDMORE);
      zmq_msg_send(&bodies[i], router, 0);
    }
  }
}
