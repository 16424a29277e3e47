#!/bin/bash
# Runs inside the booted kit, from the test drive (never part of the image), started by the
# kernel command line (systemd.run=). It checks the hotspot the way a phone would: a second
# virtual radio (mac80211_hwsim) in its own network namespace scans, associates with
# wpa_supplicant, takes a DHCP lease from the kit, then fetches each OS connectivity probe and
# the portal over HTTP, with names resolved by the kit's DNS (after a scan of every port the
# client can reach on the kit); presses "Continue" on the portal
# and fetches the probes again, then once more from an address the kit knows nothing of. Every finding is one
# "CLIC-TEST <key> <value>" line on the serial console; the host test asserts on them.
# Inputs: test.env beside this script (EXPECT_SSID, PASSPHRASE, PROBES: "os url" lines, SCAN: 1
# for the port scan; ADMIN_PASSWORD, ADMIN_HASH, NEW_SSID, NEW_SETTINGS_FORM, SETTINGS_FILE for
# the admin page).
set -u
D=$(cd "$(dirname "$0")" && pwd)
. "$D/test.env"
exec > /dev/console 2>&1
mark() { echo "CLIC-TEST $*"; }
NS=clic-client
in_ns() { ip netns exec "$NS" "$@"; }
wait_for() { # seconds, command…
    local t=$1; shift
    for _ in $(seq "$t"); do "$@" > /dev/null 2>&1 && return 0; sleep 1; done
    return 1
}

mark begin
mark system-state "$(systemctl is-system-running --wait)"
mark failed-units "[$(systemctl list-units --failed --no-legend --plain | awk '{print $1}' | xargs)]"
journalctl -b -o cat -t clic-hotspot | sed 's/^/CLIC-TEST hotspot-log-before /'
mark hostapd-before "$(systemctl is-active hostapd.service)"
mark dnsmasq-before "$(systemctl is-active dnsmasq.service)"
mark nginx "$(systemctl is-active nginx.service)"
# the kit's own resolver: systemd-resolved's stub, with no dnsmasq registered on lo
mark kit-resolv-conf "$(grep -h '^nameserver' /etc/resolv.conf | xargs)"
mark kit-dns-lo "[$(resolvectl dns lo 2>&1 | sed 's/^.*://' | xargs)]"

# two virtual radios (already there when the test loaded the module at boot; otherwise they
# appear now, and the kit's hotspot must pick one up as it would a USB adapter plugged in)
modprobe mac80211_hwsim radios=2
if ! wait_for 60 grep -qx configured /run/clic/hotspot/state; then mark error "hotspot not configured"; fi
AP=$(cat /run/clic/hotspot/interface 2>/dev/null)
mark ap-interface "$AP"
wait_for 60 sh -c "iw dev '$AP' info | grep -q 'type AP'" || mark error "$AP is not an access point"
mark ap-type "$(iw dev "$AP" info | awk '$1 == "type" {print $2}')"
mark hostapd "$(systemctl is-active hostapd.service)"
journalctl -b -o cat -t clic-hotspot | sed 's/^/CLIC-TEST hotspot-log /'

CLIENT=
for dev in /sys/class/net/*; do
    [ -e "$dev/phy80211" ] && [ "${dev##*/}" != "$AP" ] && CLIENT=${dev##*/} && break
done
PHY=$(basename "$(readlink -f "/sys/class/net/$CLIENT/phy80211")")
ip netns add "$NS"
iw phy "$PHY" set netns name "$NS"
mkdir -p "/etc/netns/$NS" && : > "/etc/netns/$NS/resolv.conf"
in_ns ip link set lo up
in_ns ip link set "$CLIENT" up
mark client-interface "$CLIENT"

# the SSID on the air
for _ in $(seq 10); do
    ssids=$(in_ns iw dev "$CLIENT" scan 2>/dev/null | sed -n 's/^\s*SSID: //p')
    [ -n "$ssids" ] && break
    sleep 1
done
while IFS= read -r s; do [ -n "$s" ] && mark scan-ssid "$s"; done <<< "$ssids"

# associate as a phone would: WPA2 with the passphrase, or an open network
mkdir -p /run/clic-test
{
    echo "ctrl_interface=/run/clic-test/wpa"
    echo "network={"
    echo "  ssid=\"$EXPECT_SSID\""
    if [ -n "$PASSPHRASE" ]; then echo "  key_mgmt=WPA-PSK"; echo "  proto=RSN"; echo "  psk=\"$PASSPHRASE\""; else echo "  key_mgmt=NONE"; fi
    echo "}"
} > /run/clic-test/wpa.conf
LD_LIBRARY_PATH=$D/lib in_ns "$D/bin/wpa_supplicant" -B -P /run/clic-test/wpa.pid -i "$CLIENT" -D nl80211 -c /run/clic-test/wpa.conf -f /run/clic-test/wpa.log
wait_for 30 sh -c "ip netns exec $NS iw dev $CLIENT link | grep -q '^Connected'" || mark error "no association"
mark associated-ssid "$(in_ns iw dev "$CLIENT" link | sed -n 's/^\s*SSID: //p')"
grep -q 'WPA: Key negotiation completed' /run/clic-test/wpa.log && mark wpa-key-negotiated yes
grep -o 'CTRL-EVENT-CONNECTED.*' /run/clic-test/wpa.log | head -1 | sed 's/^/CLIC-TEST wpa-event /'

# a DHCP lease from the kit
in_ns "$D/bin/busybox" udhcpc -i "$CLIENT" -f -q -n -t 10 -T 2 -s "$D/udhcpc.sh" || mark error "no DHCP lease"
mark client-address "$(in_ns ip -4 -o address show dev "$CLIENT" | awk '{print $4}')"
mark client-resolv "$(grep -h '^nameserver' "/etc/netns/$NS/resolv.conf" | xargs)"

# what a client can reach on the kit: every TCP and UDP port, over IPv4 and IPv6 link-local.
# The kit's ICMP rate limits are lifted while it runs (only how fast a closed UDP port says
# so changes, not what is open), then put back
if [ "$SCAN" = 1 ]; then
    limits="net.ipv4.icmp_ratelimit net.ipv4.icmp_msgs_per_sec net.ipv4.icmp_msgs_burst net.ipv6.icmp.ratelimit"
    saved=$(sysctl -e $limits | sed 's/ = /=/' | xargs)
    sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=1000000 net.ipv4.icmp_msgs_burst=1000000 net.ipv6.icmp.ratelimit=0
    KIT6=$(ip -6 -o address show dev "$AP" scope link | awk '{print $4}' | cut -d/ -f1 | head -1)
    mark kit-link-local "$KIT6"
    scan_started=$(date +%s)
    for target in "tcp4 tcp 10.42.0.1" "udp4 udp 10.42.0.1" "tcp6 tcp $KIT6%$CLIENT" "udp6 udp $KIT6%$CLIENT"; do
        set -- $target
        ports=$(in_ns timeout 600 bash "$D/scan.sh" "$2" "$3") || mark error "the $1 scan did not end within 600 s"
        mark "scan-$1" "$ports"
    done
    mark scan-seconds "$(($(date +%s) - scan_started))"
    sysctl -qw $saved
fi

# HTTP as the client sees it; names resolved by the kit's DNS
fetch() { in_ns timeout 20 bash "$D/http.sh" "$1"; }
status_of() { head -1 | awk '{print $2}'; }
header_of() { grep -i "^$1:" | head -1 | sed 's/^[^:]*: *//' | tr -d '\r'; }
while read -r os url; do
    [ -n "$url" ] || continue
    host=${url#http://}; host=${host%%/*}
    resp=$(fetch "$url")
    location=$(header_of Location <<< "$resp")
    landing=$(fetch "$location")
    services=$(grep -o 'data-service="[^"]*"' <<< "$landing" | sed 's/data-service="\(.*\)"/\1/' | xargs | tr ' ' ',')
    mark probe "$os $url resolved=$(in_ns getent hosts "$host" | awk '{print $1}') status=$(status_of <<< "$resp") location=$location cache=$(header_of Cache-Control <<< "$resp" | tr -d ' ') landing-status=$(status_of <<< "$landing") landing-services=$services"
done <<< "$PROBES"

resp=$(fetch "http://any-site.example/some/page")
mark other-host "status=$(status_of <<< "$resp") location=$(header_of Location <<< "$resp")"
page=$(fetch "http://$(grep -h '^nameserver' "/etc/netns/$NS/resolv.conf" | awk '{print $2}')/")
mark portal "status=$(status_of <<< "$page") lang=$(grep -o '<html lang="[a-z]*"' <<< "$page" | cut -d'"' -f2) services=$(grep -o 'data-service="[^"]*"' <<< "$page" | cut -d'"' -f2 | xargs | tr ' ' ',')"
errors=$(fetch "http://10.42.0.1/clic/settings-errors.json" | sed '1,/^\r\?$/d' | tr -d '\n')
mark settings-errors "$errors"

# "Continue" on the portal: from then on this client's probes get their OS's "online" answer
resp=$(in_ns timeout 20 bash "$D/http.sh" "http://10.42.0.1/clic/continue" POST)
mark continue "status=$(status_of <<< "$resp") location=$(header_of Location <<< "$resp")"
# the mark takes effect once captive-pass has reloaded nginx: 30 s at most
passed() { [ "$(fetch http://connectivitycheck.gstatic.com/generate_204 | status_of)" = 204 ]; }
wait_for 30 passed || mark error "the client's probes were not answered online within 30 s of Continue"
journalctl -b -o cat -t clic-captive | sed 's/^/CLIC-TEST captive-log /'
while read -r os url; do
    [ -n "$url" ] || continue
    resp=$(fetch "$url")
    body=$(sed '1,/^\r\?$/d' <<< "$resp" | head -c 200 | tr '\n' '|')
    mark probe-after "$os $url status=$(status_of <<< "$resp") body=$body"
done <<< "$PROBES"
# another device (an address the kit leased to no one, on the same radio): still the popup
in_ns ip address add 10.42.0.251/24 dev "$CLIENT"
in_ns ip route replace 10.42.0.0/24 dev "$CLIENT" src 10.42.0.251
resp=$(fetch "http://connectivitycheck.gstatic.com/generate_204")
mark probe-other "status=$(status_of <<< "$resp") location=$(header_of Location <<< "$resp")"

# the kit admin page (when the settings file set an admin password): closed to anyone without
# it, the wifi passphrase included; with it, the page, its API (no secret), a change from
# another site refused, then a new SSID and channel, which the kit writes on its FAT partition
# and comes back with: the client sees the new name and joins it
if [ -n "${ADMIN_PASSWORD:-}" ]; then
    admin() { in_ns env HTTP_AUTH="$1" HTTP_ORIGIN="$2" timeout 20 bash "$D/http.sh" "${@:3}"; }
    body_of() { sed '1,/^\r\?$/d' | tr -d '\n'; }
    KIT=http://10.42.0.1
    mark admin-state "$(fetch "$KIT/clic/admin-state" | status_of)"
    resp=$(fetch "$KIT/clic/admin/")
    mark admin-anonymous "status=$(status_of <<< "$resp") authenticate=$(header_of WWW-Authenticate <<< "$resp")"
    mark admin-passphrase "status=$(admin "admin:$PASSPHRASE" '' "$KIT/clic/admin/" | status_of)"
    resp=$(admin "admin:$ADMIN_PASSWORD" '' "$KIT/clic/admin/")
    mark admin-page "status=$(status_of <<< "$resp") csp=$([ -n "$(header_of Content-Security-Policy <<< "$resp")" ] && echo yes)"
    api=$(admin "admin:$ADMIN_PASSWORD" '' "$KIT/clic/admin/api" | body_of)
    mark admin-api-ssid "$(grep -o '"wifi_ssid": *"[^"]*"' <<< "$api" | head -n 1 | sed 's/^.*: *"//; s/"$//')"
    mark admin-api-clients "$(grep -o '"count": *[0-9]*' <<< "$api" | head -n 1 | grep -o '[0-9]*$')"
    mark admin-api-secrets "$(grep -c -F -e "$PASSPHRASE" -e "$ADMIN_PASSWORD" <<< "$api")"
    mark admin-foreign "status=$(admin "admin:$ADMIN_PASSWORD" http://evil.example "$KIT/clic/admin/api" POST "wifi_ssid=Evil" | status_of)"
    mark admin-change "status=$(admin "admin:$ADMIN_PASSWORD" "$KIT" "$KIT/clic/admin/api" POST "$NEW_SETTINGS_FORM" | status_of)"
    seen_new() { in_ns iw dev "$CLIENT" scan 2> /dev/null | sed -n 's/^\s*SSID: //p' | grep -qxF -- "$NEW_SSID"; }
    wait_for 120 seen_new || mark error "the new SSID was not on the air within 120 s of the change"
    # hostapd's SSID is written in hex (ssid2=, any UTF-8 name)
    ssid_hex=$(sed -n 's/^ssid2=//p' /run/clic/hotspot/hostapd.conf)
    mark admin-hostapd "ssid=$(printf '%b' "$(sed 's/../\\x&/g' <<< "$ssid_hex")") $(grep -E '^channel=' /run/clic/hotspot/hostapd.conf)"
    mark admin-settings-file "$(base64 -w0 "$SETTINGS_FILE")"
    # the phone joins the renamed network (its address is still set: no new lease needed)
    kill "$(cat /run/clic-test/wpa.pid)"
    sed -i "s/^  ssid=.*/  ssid=\"$NEW_SSID\"/" /run/clic-test/wpa.conf
    sleep 1
    LD_LIBRARY_PATH=$D/lib in_ns "$D/bin/wpa_supplicant" -B -i "$CLIENT" -D nl80211 -c /run/clic-test/wpa.conf -f /run/clic-test/wpa-new.log
    wait_for 30 sh -c "ip netns exec $NS iw dev $CLIENT link | grep -q '^Connected'" || mark error "no association with the new SSID"
    mark admin-associated "$(in_ns iw dev "$CLIENT" link | sed -n 's/^\s*SSID: //p')"
    api=$(admin "admin:$ADMIN_PASSWORD" '' "$KIT/clic/admin/api" | body_of)
    mark admin-last "$(sed -n 's/.*"last": *{[^}]*"state": *"\([a-z]*\)".*/\1/p' <<< "$api")"
    mark admin-secrets-journal "$(journalctl -b -o cat | grep -c -F -e "$PASSPHRASE" -e "$ADMIN_PASSWORD" -e "$ADMIN_HASH")"
fi
mark done
