#!/bin/bash
# A port scan of the kit as a hotspot client sees it: scan.sh tcp|udp ADDRESS prints the ports
# (1-65535) that are not closed, comma-separated, as nmap (from the test drive: bin/, lib/, and
# its data files in nmap/) finds them: a TCP SYN scan, or a UDP scan where a closed port answers
# with an ICMP "port unreachable" and a silent one is listed (open or filtered). ADDRESS may be an
# IPv6 link-local address with its zone (fe80::1%wlan1). Run in the client's network namespace.
proto=$1
address=$2
D=$(cd "$(dirname "$0")" && pwd)
family=()
[[ $address == *:* ]] && family=(-6)
type=-sS
[ "$proto" = udp ] && type=-sU
LD_LIBRARY_PATH=$D/lib "$D/bin/nmap" --datadir "$D/nmap" "${family[@]}" -n -Pn "$type" -p 1-65535 -T4 --max-retries 2 -oG - "$address" |
    sed -n 's/^Host: .*Ports: \([^\t]*\).*/\1/p' | tr ',' '\n' |
    awk -F/ '{ gsub(/ /, "", $1) } $1 ~ /^[0-9]+$/ && $2 != "closed" { print $1 }' | paste -sd,
