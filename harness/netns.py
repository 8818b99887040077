"""Shaping an offline sandbox's network: addresses that never answer.

A sandbox has no network (`network_mode=none`: only loopback), so connecting anywhere
fails at once with "Network is unreachable". Tests of connect timeouts need the other
failure, a host that never answers (requests' tests use 10.255.255.1 for it). Routing a
block of addresses through loopback gives exactly that: the SYN loops back, no local
address owns it, the kernel drops it, and the connect times out. Nothing more is reachable.

The route is added by a short-lived sidecar that joins the sandbox's network namespace
with NET_ADMIN only (the sandbox itself never has the capability, so the code under test
cannot change its network), runs the fixed netlink request below, and is removed.
"""
from __future__ import annotations

from docker.errors import APIError, ContainerError, ImageNotFound

# RTM_NEWROUTE through netlink in plain Python (the images need not ship iproute2).
_ROUTE_TO_LO = r"""
import os, socket, struct, sys
lo = socket.if_nametoindex("lo")
for cidr in sys.argv[1:]:
    net, bits = cidr.split("/")
    # rtmsg: AF_INET, dst_len, src_len, tos, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_LINK, RTN_UNICAST, flags
    body = struct.pack("BBBBBBBBI", socket.AF_INET, int(bits), 0, 0, 254, 3, 253, 1, 0)
    body += struct.pack("HH4s", 8, 1, socket.inet_aton(net)) + struct.pack("HHI", 8, 4, lo)  # RTA_DST, RTA_OIF
    # nlmsghdr: RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE
    msg = struct.pack("IHHII", 16 + len(body), 24, 0x1 | 0x4 | 0x200 | 0x400, 1, 0) + body
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.send(msg)
    err = struct.unpack("i", s.recv(4096)[16:20])[0]
    if err:
        sys.exit(f"route {cidr} via lo: {os.strerror(-err)}")
"""


class NetnsError(RuntimeError):
    pass


def blackhole(client, container, image: str, cidrs: tuple[str, ...], labels: dict[str, str]) -> None:
    """Make `cidrs` never answer inside `container` (started, `network_mode=none`)."""
    if not cidrs:
        return
    try:
        client.containers.run(
            image, entrypoint=["python3", "-c", _ROUTE_TO_LO, *cidrs], command=[], user="0",
            network_mode=f"container:{container.id}", cap_drop=["ALL"], cap_add=["NET_ADMIN"],
            security_opt=["no-new-privileges"], labels=labels, remove=True, stdout=True, stderr=True)
    except ContainerError as exc:
        err = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise NetnsError(f"could not route {', '.join(cidrs)} to nowhere in the sandbox: "
                         f"{err[-1] if err else exc}") from exc
    except (APIError, ImageNotFound) as exc:
        raise NetnsError(f"could not start the network sidecar for the sandbox: {exc}") from exc
