/*
 * vr6-nft-genid: prints the nf_tables ruleset generation id of the current
 * network namespace, one NFT_MSG_GETGEN request over NETLINK_NETFILTER.
 *
 * The kernel bumps the id on every committed nf_tables transaction
 * (nf_tables_commit), whoever commits it. The agent records the id right
 * after its own loads; an unchanged id at a resync proves that nothing in
 * nf_tables changed, so the costly listing of a large table can be skipped
 * (bench/README.md). nft itself has no command that prints the id, and Node cannot
 * open netlink sockets. Exit status 0 and one decimal line, or 1 and a
 * message on stderr.
 *
 * With --serve it stays: one decimal line for every line read on stdin,
 * flushed at once, until stdin ends (exit 0) or a read fails (exit 1). The
 * agent keeps it running, because spawning it from Node costs more than
 * the read (bench/README.md).
 */
#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *what) {
  perror(what);
  return 1;
}

/* Prints the current generation id; 0 when it did. */
static int print_generation(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return fail("socket");
  struct {
    struct nlmsghdr nlh;
    struct nfgenmsg nfg;
  } request;
  memset(&request, 0, sizeof request);
  request.nlh.nlmsg_len = sizeof request;
  request.nlh.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
  request.nlh.nlmsg_flags = NLM_F_REQUEST;
  request.nlh.nlmsg_seq = 1;
  request.nfg.nfgen_family = AF_UNSPEC;
  request.nfg.version = NFNETLINK_V0;
  if (send(fd, &request, sizeof request, 0) < 0) return fail("send");
  char reply[8192];
  ssize_t got = recv(fd, reply, sizeof reply, 0);
  close(fd);
  if (got < (ssize_t)NLMSG_LENGTH(sizeof(struct nfgenmsg))) return fail("recv");
  struct nlmsghdr *nlh = (struct nlmsghdr *)reply;
  if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_len > (size_t)got) {
    fprintf(stderr, "vr6-nft-genid: netlink error\n");
    return 1;
  }
  size_t offset = NLMSG_LENGTH(sizeof(struct nfgenmsg));
  while (offset + sizeof(struct nlattr) <= nlh->nlmsg_len) {
    struct nlattr *attr = (struct nlattr *)(reply + offset);
    if (attr->nla_len < sizeof(struct nlattr) || offset + attr->nla_len > nlh->nlmsg_len) break;
    if ((attr->nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID && attr->nla_len >= NLA_HDRLEN + sizeof(unsigned int)) {
      unsigned int id;
      memcpy(&id, reply + offset + NLA_HDRLEN, sizeof id);
      printf("%u\n", ntohl(id));
      return fflush(stdout) == 0 ? 0 : fail("stdout");
    }
    offset += NLA_ALIGN(attr->nla_len);
  }
  fprintf(stderr, "vr6-nft-genid: no generation id in the reply\n");
  return 1;
}

int main(int argc, char **argv) {
  if (argc == 1) return print_generation();
  if (argc != 2 || strcmp(argv[1], "--serve") != 0) {
    fprintf(stderr, "usage: vr6-nft-genid [--serve]\n");
    return 2;
  }
  char line[256];
  while (fgets(line, sizeof line, stdin) != NULL) {
    if (print_generation() != 0) return 1;
  }
  return 0;
}
