#!/bin/bash
# A minimal HTTP/1.1 request over bash's /dev/tcp (name resolved by the system resolver): prints
# the raw response. http.sh URL [METHOD [BODY]]; a POST body is sent as a form
# (application/x-www-form-urlencoded). HTTP_AUTH="user:password" adds basic auth, HTTP_ORIGIN an
# Origin header. For the hotspot boot test, run in the client's network namespace.
url=$1
method=${2:-GET}
body=${3:-}
rest=${url#http://}
host=${rest%%/*}
path=/${rest#*/}
[ "$rest" = "$host" ] && path=/
exec 3<> "/dev/tcp/$host/80" || exit 1
headers="Host: $host\r\nUser-Agent: clic-hotspot-test\r\n"
[ -n "${HTTP_AUTH:-}" ] && headers+="Authorization: Basic $(printf '%s' "$HTTP_AUTH" | base64 -w0)\r\n"
[ -n "${HTTP_ORIGIN:-}" ] && headers+="Origin: $HTTP_ORIGIN\r\n"
[ "$method" = POST ] && headers+="Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${#body}\r\n"
printf "%s %s HTTP/1.1\r\n${headers}Connection: close\r\n\r\n%s" "$method" "$path" "$body" >&3
cat <&3
