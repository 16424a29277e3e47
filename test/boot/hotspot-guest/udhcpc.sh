#!/bin/sh
# busybox udhcpc event script for the hotspot boot test: applies the lease in the client's
# network namespace and points its resolver at the DNS server the kit announced.
case $1 in
    bound | renew)
        ip address add "$ip/${mask:-24}" dev "$interface"
        for r in $router; do ip route add default via "$r" dev "$interface"; break; done
        : > "/etc/netns/clic-client/resolv.conf"
        for d in $dns; do echo "nameserver $d" >> "/etc/netns/clic-client/resolv.conf"; done
        echo "CLIC-TEST lease ip=$ip mask=$mask router=$router dns=$dns" > /dev/console
        ;;
esac
exit 0
