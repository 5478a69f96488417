/*
 * Prints the nf_tables ruleset generation id of this network namespace: one
 * NFT_MSG_GETGEN request over NETLINK_NETFILTER. The kernel bumps the id on
 * every committed transaction (nf_tables_commit), so an unchanged id proves
 * that nothing in nf_tables changed. Benchmark helper, not part of the
 * product: it shows what a cheap, sound "nothing changed" check costs.
 */
#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
  if (fd < 0) { perror("socket"); return 1; }
  struct { struct nlmsghdr nlh; struct nfgenmsg nfg; } request;
  memset(&request, 0, sizeof request);
  request.nlh.nlmsg_len = sizeof request;
  request.nlh.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
  request.nlh.nlmsg_flags = NLM_F_REQUEST;
  request.nlh.nlmsg_seq = 1;
  request.nfg.nfgen_family = AF_UNSPEC;
  request.nfg.version = NFNETLINK_V0;
  if (send(fd, &request, sizeof request, 0) < 0) { perror("send"); return 1; }
  char reply[8192];
  ssize_t got = recv(fd, reply, sizeof reply, 0);
  if (got < (ssize_t)NLMSG_LENGTH(sizeof(struct nfgenmsg))) { perror("recv"); return 1; }
  struct nlmsghdr *nlh = (struct nlmsghdr *)reply;
  if (nlh->nlmsg_type == NLMSG_ERROR) { fprintf(stderr, "netlink error\n"); return 1; }
  size_t offset = NLMSG_LENGTH(sizeof(struct nfgenmsg));
  while (offset + sizeof(struct nlattr) <= nlh->nlmsg_len) {
    struct nlattr *attr = (struct nlattr *)(reply + offset);
    if (attr->nla_len < sizeof(struct nlattr)) break;
    if ((attr->nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID) {
      unsigned int id;
      memcpy(&id, reply + offset + NLA_HDRLEN, sizeof id);
      printf("%u\n", ntohl(id));
      return 0;
    }
    offset += NLA_ALIGN(attr->nla_len);
  }
  fprintf(stderr, "no NFTA_GEN_ID in the reply\n");
  close(fd);
  return 1;
}
