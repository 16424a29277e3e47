#!/bin/bash
# A minimal HTTP/1.1 GET over bash's /dev/tcp (name resolved by the system resolver): prints the
# raw response. For the hotspot boot test, run in the client's network namespace.
url=$1
rest=${url#http://}
host=${rest%%/*}
path=/${rest#*/}
[ "$rest" = "$host" ] && path=/
exec 3<> "/dev/tcp/$host/80" || exit 1
printf 'GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: clic-hotspot-test\r\nConnection: close\r\n\r\n' "$path" "$host" >&3
cat <&3
