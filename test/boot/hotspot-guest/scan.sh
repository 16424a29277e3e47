#!/bin/bash
# A port scan of the kit as a hotspot client sees it, in pure bash (no scanner on the test
# drive): scan.sh tcp|udp ADDRESS prints the ports (1-65535) that are not closed, comma-separated.
# TCP: a port is open when a connection completes (a closed port answers with a reset at once).
# UDP: each port gets one datagram on a connected socket; a closed port answers with an ICMP
# "port unreachable", which makes the next read fail at once; a port that stays silent (no
# answer within WAIT seconds) is open or filtered, and is listed. ADDRESS may be an IPv6
# link-local address with its zone (fe80::1%wlan1). Run in the client's network namespace.
proto=$1
address=$2
wait=${WAIT:-0.3}
found=()
for ((port = 1; port <= 65535; port++)); do
    if [ "$proto" = tcp ]; then
        { : <> "/dev/tcp/$address/$port"; } 2> /dev/null && found+=("$port")
    else
        exec 3<> "/dev/udp/$address/$port" || continue
        printf 'clic-scan' >&3 2> /dev/null
        read -r -t "$wait" -u 3 _ 2> /dev/null
        # 1: the read failed (connection refused: closed); 0 or more than 128: data or silence
        [ $? -ne 1 ] && found+=("$port")
        exec 3>&-
    fi
done
(IFS=,; echo "${found[*]}")
