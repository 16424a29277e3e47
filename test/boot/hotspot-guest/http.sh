#!/bin/bash
# A minimal HTTP/1.1 GET (or POST with no body: http.sh URL POST) over bash's /dev/tcp (name
# resolved by the system resolver): prints the raw response. For the hotspot boot test, run in
# the client's network namespace.
url=$1
method=${2:-GET}
rest=${url#http://}
host=${rest%%/*}
path=/${rest#*/}
[ "$rest" = "$host" ] && path=/
exec 3<> "/dev/tcp/$host/80" || exit 1
body_header=
[ "$method" = POST ] && body_header='Content-Length: 0\r\n'
printf "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: clic-hotspot-test\r\n${body_header}Connection: close\r\n\r\n" "$method" "$path" "$host" >&3
cat <&3
