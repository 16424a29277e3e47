#!/bin/bash
# kit-admin.cgi — the kit admin page's API, /clic/admin/api (clic-image kit-admin layer). nginx
# runs it through fcgiwrap as www-data, once it has checked the admin's password (auth_basic;
# without /run/clic/admin/htpasswd the page is off and nginx answers 404 before this script).
#
# GET: JSON of what the page shows, without any secret: the settings (settings.json, written by
#   kit-admin-setup), the hotspot's interface and state, the connected clients (stations hostapd
#   serves, from `iw dev <ap> station dump`, with their address and name from dnsmasq's leases;
#   the unexpired leases when iw cannot tell), the known client limit of the board's built-in
#   radio (/etc/clic/kit-admin.env, by device-tree model; "unknown" elsewhere), the result of the
#   last change (result.json, written by kit-admin-apply) and the requests still waiting.
# POST (application/x-www-form-urlencoded, at most MAX_BODY bytes): the form's fields, each
#   decoded and refused when it holds a control character (a line break would add a line to the
#   settings file) or is not UTF-8; the request is written in incoming/ and renamed into
#   requests/, where kit-admin-apply (root) picks it up: 202 with its id. Refused: 403 when
#   neither Origin nor Referer names this very host (a page elsewhere posting with the admin's
#   browser), 400 for a bad field (named, with what is expected), 411/413 for a missing or too
#   large body, 415 for another type, 429 while MAX_PENDING requests wait.
# This script writes nothing but its request, checks no value against the settings' rules
# (kit-admin-apply does, with clic-settings' own), and restarts nothing.
#
# Environment: the CGI variables; CLIC_ROOT prefixes every path (tests).
# shellcheck disable=SC1112 # ’ in the French messages is typography, not a quote
set -u
export LC_ALL=C

root=${CLIC_ROOT:-}
admin=$root/run/clic/admin
leases=$root/var/lib/misc/dnsmasq.leases
MAX_BODY=8192
MAX_PENDING=3
FIELDS=(hostname wifi_ssid wifi_passphrase wifi_open wifi_country wifi_channel language admin_ssh_key admin_ssh_key_remove)
CHECKBOXES=(wifi_open admin_ssh_key_remove)
# shellcheck source=SCRIPTDIR/kit-admin-json.sh
. "$root/usr/lib/clic/kit-admin-json.sh"
CLIC_ADMIN_WIFI_DRIVER='' CLIC_ADMIN_WIFI_LIMITS=''
# shellcheck source=/dev/null # written at build time by the kit-admin layer
[ -r "$root/etc/clic/kit-admin.env" ] && . "$root/etc/clic/kit-admin.env"

answer() { # status json
  printf 'Status: %s\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n%s\n' "$1" "$2"
  exit 0
}

refuse() { # status field message message_fr
  local k m
  json_string "$2"; k=$REPLY
  json_string "$3"; m=$REPLY
  json_string "$4"
  answer "$1" "{\"problems\": [{\"key\": $k, \"message\": $m, \"message_fr\": $REPLY}]}"
}

is_in() { # word list…
  local w=$1 x
  shift
  for x in "$@"; do [ "$x" = "$w" ] && return 0; done
  return 1
}

# --- GET ----------------------------------------------------------------------------------------

# clients: the stations hostapd serves (iw), each with its lease's address and name
clients_json() {
  local iface=$1 now out mac list='' n=0 source=leases exp lmac ip name
  local -A ip_of=() name_of=()
  local -a macs=()
  now=$(date +%s)
  if [ -r "$leases" ]; then
    while read -r exp lmac ip name _; do
      [[ $exp =~ ^[0-9]+$ ]] || continue
      [ "$exp" = 0 ] || [ "$exp" -gt "$now" ] || continue
      lmac=${lmac,,}
      ip_of[$lmac]=$ip
      [ "$name" = '*' ] && name=''
      name_of[$lmac]=$name
    done <"$leases"
  fi
  if [ -n "$iface" ] && out=$(iw dev "$iface" station dump 2>/dev/null); then
    source=iw
    mapfile -t macs < <(sed -n 's/^Station \([0-9a-fA-F:]\{17\}\) .*/\1/p' <<<"$out" | tr 'A-F' 'a-f')
  else
    mapfile -t macs < <(printf '%s\n' "${!ip_of[@]}" | sort)
  fi
  for mac in "${macs[@]}"; do
    [ -n "$mac" ] || continue
    json_string "$mac"; local jm=$REPLY
    json_string "${ip_of[$mac]:-}"; local ji=$REPLY
    json_string "${name_of[$mac]:-}"
    list+="${list:+, }{\"mac\": $jm, \"ip\": $ji, \"name\": $REPLY}"
    n=$((n + 1))
  done
  REPLY="{\"count\": $n, \"source\": \"$source\", \"list\": [$list]}"
}

# limit: the board's built-in radio, by device-tree model, when the hotspot runs on it
limit_json() {
  local iface=$1 model='' driver='' entry clients=null jmodel jdriver
  [ -r "$root/proc/device-tree/compatible" ] && model=$(tr '\0' '\n' <"$root/proc/device-tree/compatible" | head -n 1)
  if [ -n "$iface" ] && driver=$(readlink -- "$root/sys/class/net/$iface/device/driver" 2>/dev/null); then driver=${driver##*/}; fi
  if [ -n "$model" ] && [ -n "$driver" ] && [ "$driver" = "$CLIC_ADMIN_WIFI_DRIVER" ]; then
    for entry in $CLIC_ADMIN_WIFI_LIMITS; do
      if [ "${entry%=*}" = "$model" ] && [[ ${entry##*=} =~ ^[0-9]+$ ]]; then clients=${entry##*=}; fi
    done
  fi
  json_string "$model"; jmodel=$REPLY
  json_string "$driver"; jdriver=$REPLY
  REPLY="{\"clients\": $clients, \"approximate\": true, \"model\": $jmodel, \"driver\": $jdriver}"
}

get() {
  local iface='' state='' settings last pending=() f ji js c l
  iface=$(head -n 1 "$root/run/clic/hotspot/interface" 2>/dev/null)
  [[ $iface =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || iface=''
  state=$(head -n 1 "$root/run/clic/hotspot/state" 2>/dev/null)
  [[ $state =~ ^[a-z]{1,20}$ ]] || state=''
  settings=$(cat -- "$admin/settings.json" 2>/dev/null) || settings=null
  last=$(cat -- "$admin/result.json" 2>/dev/null) || last=null
  for f in "$admin/requests"/*; do [ -e "$f" ] && pending+=("${f##*/}"); done
  json_string "$iface"; ji=$REPLY
  json_string "$state"; js=$REPLY
  clients_json "$iface"; c=$REPLY
  limit_json "$iface"; l=$REPLY
  json_list "${pending[@]}"
  answer '200 OK' "{\"settings\": ${settings:-null}, \"hotspot\": {\"interface\": $ji, \"state\": $js}, \"clients\": $c, \"limit\": $l, \"last\": ${last:-null}, \"pending\": $REPLY}"
}

# --- POST ---------------------------------------------------------------------------------------

# The page itself posts, from http://<the host it was loaded from>/clic/admin/: Origin (or, from
# a browser that sends none, Referer) names that host. Anything else is another page using the
# admin's browser, which holds the password.
same_origin() {
  local host=${HTTP_HOST:-} origin=${HTTP_ORIGIN:-} referer=${HTTP_REFERER:-}
  [[ $host =~ ^[A-Za-z0-9.:-]+$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$ ]] || return 1
  host=${host,,}
  if [ -n "$origin" ]; then
    [ "${origin,,}" = "http://$host" ]
  else
    case ${referer,,} in "http://$host/"*) return 0 ;; *) return 1 ;; esac
  fi
}

# decode RAW → REPLY: a form value (+ is a space, %XX a byte), or 1 when it is not well formed
decode() {
  local s=${1//+/ }
  [[ $s =~ %([^0-9A-Fa-f]|[0-9A-Fa-f][^0-9A-Fa-f]|[0-9A-Fa-f]?$) ]] && return 1
  [[ $s == *%00* ]] && return 2 # a NUL byte, which no shell variable can hold
  printf -v REPLY '%b' "${s//%/\\x}"
}

post() {
  local type=${CONTENT_TYPE:-} len=${CONTENT_LENGTH:-} body pairs pair name raw value id waiting=0 f content=''
  local -A seen=()
  same_origin || refuse '403 Forbidden' '' \
    'this change does not come from the kit admin page itself (Origin or Referer header of another site, or none): refused' \
    'cette modification ne vient pas de la page d’administration du kit elle-même (en-tête Origin ou Referer d’un autre site, ou aucun) : refusée'
  case ${type,,} in
  application/x-www-form-urlencoded | 'application/x-www-form-urlencoded;'*) ;;
  *) refuse '415 Unsupported Media Type' '' 'expected the form as application/x-www-form-urlencoded' 'attendu le formulaire en application/x-www-form-urlencoded' ;;
  esac
  [[ $len =~ ^[0-9]{1,9}$ ]] || refuse '411 Length Required' '' 'expected the length of the form (Content-Length)' 'attendu la longueur du formulaire (Content-Length)'
  [ "$len" -le "$MAX_BODY" ] || refuse '413 Content Too Large' '' "expected a form of at most $MAX_BODY bytes; this one has $len" "attendu un formulaire de $MAX_BODY octets au plus ; celui-ci en a $len"
  body=$(head -c "$len")
  [ "${#body}" -eq "$len" ] || refuse '400 Bad Request' '' 'the form arrived incomplete' 'le formulaire est arrivé incomplet'
  [[ $body =~ ^[A-Za-z0-9._~*%+=\&-]*$ ]] || refuse '400 Bad Request' '' 'expected a URL-encoded form' 'attendu un formulaire encodé pour une URL'
  IFS='&' read -r -a pairs <<<"$body"
  for pair in "${pairs[@]}"; do
    [ -n "$pair" ] || continue
    name=${pair%%=*} raw=''
    [[ $pair == *=* ]] && raw=${pair#*=}
    is_in "$name" "${FIELDS[@]}" || refuse '400 Bad Request' "$name" \
      "unknown field; expected ${FIELDS[*]}" "champ inconnu ; attendu ${FIELDS[*]}"
    [ -z "${seen[$name]:-}" ] || refuse '400 Bad Request' "$name" 'expected once, given twice' 'attendu une fois, donné deux fois'
    seen[$name]=1
    decode "$raw" || refuse '400 Bad Request' "$name" 'expected a value with no line break nor control character' 'attendu une valeur sans saut de ligne ni caractère de contrôle'
    value=$REPLY
    [[ $value != *[[:cntrl:]]* ]] || refuse '400 Bad Request' "$name" 'expected a value with no line break nor control character' 'attendu une valeur sans saut de ligne ni caractère de contrôle'
    printf '%s' "$value" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1 || refuse '400 Bad Request' "$name" 'expected UTF-8 text' 'attendu du texte UTF-8'
    if is_in "$name" "${CHECKBOXES[@]}"; then
      case $value in 1 | on) value=1 ;; '') continue ;; *) refuse '400 Bad Request' "$name" 'expected a ticked box (1) or nothing' 'attendu une case cochée (1) ou rien' ;; esac
    fi
    content+="$name=$value"$'\n'
  done
  for f in "$admin/requests"/*; do [ -e "$f" ] && waiting=$((waiting + 1)); done
  [ "$waiting" -lt "$MAX_PENDING" ] || refuse '429 Too Many Requests' '' \
    'earlier changes are still being applied: wait a minute and try again' 'des modifications précédentes sont encore en cours : attendez une minute et réessayez'
  # the time first, to the nanosecond: kit-admin-apply takes the requests in name order
  id=$(date -u +%Y%m%dT%H%M%S%NZ)-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  if ! (umask 077 && printf '%s' "$content" >"$admin/incoming/$id") || ! mv -f -- "$admin/incoming/$id" "$admin/requests/$id"; then
    refuse '500 Internal Server Error' '' 'the request could not be written on the kit' 'la demande n’a pas pu être écrite sur le kit'
  fi
  answer '202 Accepted' "{\"id\": \"$id\", \"state\": \"pending\"}"
}

[ -f "$admin/htpasswd" ] || refuse '404 Not Found' '' 'the admin page is off' 'la page d’administration est éteinte'
case ${REQUEST_METHOD:-} in
GET | HEAD) get ;;
POST) post ;;
*) printf 'Status: 405 Method Not Allowed\r\nAllow: GET, POST\r\nContent-Type: application/json; charset=utf-8\r\n\r\n{"problems": [{"key": "", "message": "expected GET or POST", "message_fr": "attendu GET ou POST"}]}\n' ;;
esac
