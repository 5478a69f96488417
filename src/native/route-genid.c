/*
 * vr6-route-genid --serve: a generation of the IPv6 main routing table and
 * the links of the current network namespace, one line for every line read
 * on stdin, until stdin ends (exit 0) or a read fails (exit 1). A line is
 * "<instance> <count>": the instance names this process (its PID and start
 * time), since a count means nothing to another process that counts from
 * zero.
 *
 * The kernel keeps no such number (nf_tables has one, see vr6-nft-genid), so
 * this counts the changes themselves: at start it joins the rtnetlink groups
 * of IPv6 routes, links and nexthop objects, and before each answer it takes
 * every notification queued since the last one, adding one per route of the
 * main table added, replaced or deleted, one per link message and one per
 * nexthop object message (a route that uses one changes with it, silently
 * unless nexthop_compat_mode is on). The kernel queues a notification on the
 * socket before the call that made the change returns, so a change made
 * before a question was asked is in the answer. When the socket's queue
 * overflows (ENOBUFS), or a message is too long for the buffer, what was
 * lost cannot be counted, so the number jumps by 2^32: no count of the
 * agent's own writes can explain that.
 *
 * Equal answers prove that no route of the main table was added, replaced
 * or deleted and no link or nexthop object changed in between (a route's
 * MTU or an RA's route preference change without a message; the agent's
 * memory holds neither), which lets the agent plan a routed-prefix move against
 * its memory of the table instead of a dump of a thousand routes
 * (bench/README.md). With net.ipv6.route.skip_notify_on_dev_down set, the
 * kernel deletes the routes of a link that goes down without a word: the
 * helper then refuses to serve (exit 1), and the agent dumps the routes at
 * every observation. Node cannot open netlink sockets.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOST_NOTIFICATIONS (UINT64_C(1) << 32)

static int fail(const char *what) {
  perror(what);
  return 1;
}

/* The table of a route message: RTA_TABLE when present (tables above 255), else rtm_table. */
static uint32_t table_of(const struct nlmsghdr *nlh) {
  const struct rtmsg *rtm = NLMSG_DATA(nlh);
  uint32_t table = rtm->rtm_table;
  int length = (int)RTM_PAYLOAD(nlh);
  for (const struct rtattr *rta = RTM_RTA(rtm); RTA_OK(rta, length); rta = RTA_NEXT(rta, length)) {
    if (rta->rta_type == RTA_TABLE && RTA_PAYLOAD(rta) >= sizeof(uint32_t)) memcpy(&table, RTA_DATA(rta), sizeof table);
  }
  return table;
}

/* Whether a notification changes what the agent reads: a route of the IPv6 main table, or a link. */
static int counts(const struct nlmsghdr *nlh) {
  switch (nlh->nlmsg_type) {
  case RTM_NEWLINK:
  case RTM_DELLINK:
  case RTM_NEWNEXTHOP:
  case RTM_DELNEXTHOP:
    return 1;
  case RTM_NEWROUTE:
  case RTM_DELROUTE:
    if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg))) return 1;
    return ((const struct rtmsg *)NLMSG_DATA(nlh))->rtm_family == AF_INET6 && table_of(nlh) == RT_TABLE_MAIN;
  default:
    return 0;
  }
}

/* Takes every queued notification into the count; 0 when the queue is empty. */
static int drain(int fd, uint64_t *generation) {
  static char buffer[65536] __attribute__((aligned(NLMSG_ALIGNTO)));
  for (;;) {
    /* MSG_TRUNC: the length of the datagram, also when it did not fit. */
    ssize_t got = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT | MSG_TRUNC);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        *generation += LOST_NOTIFICATIONS;
        continue;
      }
      return fail("recv");
    }
    if ((size_t)got > sizeof buffer) {
      *generation += LOST_NOTIFICATIONS;
      continue;
    }
    int length = (int)got;
    struct nlmsghdr *nlh = (struct nlmsghdr *)buffer;
    for (; NLMSG_OK(nlh, length); nlh = NLMSG_NEXT(nlh, length)) *generation += counts(nlh);
    /* Bytes left that are no whole message: something the count cannot name. */
    if (length > 0) *generation += LOST_NOTIFICATIONS;
  }
}

/* Whether the kernel deletes a downed link's routes without notifying them. */
static int is_dev_down_silent(void) {
  FILE *file = fopen("/proc/sys/net/ipv6/route/skip_notify_on_dev_down", "r");
  if (file == NULL) return 0;
  int value = 0;
  int read = fscanf(file, "%d", &value);
  fclose(file);
  return read == 1 && value != 0;
}

int main(int argc, char **argv) {
  if (argc != 2 || strcmp(argv[1], "--serve") != 0) {
    fprintf(stderr, "usage: vr6-route-genid --serve\n");
    return 2;
  }
  if (is_dev_down_silent()) {
    fprintf(stderr, "vr6-route-genid: net.ipv6.route.skip_notify_on_dev_down is set: route deletions go unnotified\n");
    return 1;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return fail("socket");
  /* Room for thousands of routes written at once: past it the count is lost, not wrong. */
  int size = 8 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    fprintf(stderr, "vr6-route-genid: SO_RCVBUFFORCE refused, the queue is net.core.rmem_max: a large write loses the count\n");
  }
  struct sockaddr_nl local;
  memset(&local, 0, sizeof local);
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_IPV6_ROUTE | RTMGRP_LINK;
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) return fail("bind");
  /* A group past 31 is joined by option; a kernel without nexthop objects has none to change. */
  int group = RTNLGRP_NEXTHOP;
  if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0 && errno != EINVAL) return fail("nexthop group");
  struct timespec started;
  clock_gettime(CLOCK_MONOTONIC, &started);
  uint64_t generation = 0;
  char line[256];
  while (fgets(line, sizeof line, stdin) != NULL) {
    if (drain(fd, &generation) != 0) return 1;
    printf("%ld.%ld.%09ld %llu\n", (long)getpid(), (long)started.tv_sec, started.tv_nsec, (unsigned long long)generation);
    if (fflush(stdout) != 0) return fail("stdout");
  }
  return ferror(stdin) ? fail("stdin") : 0;
}
