# JSON text for the kit admin page's scripts (clic-image kit-admin layer; sourced by bash, in the
# C locale). json_string VALUE → REPLY: VALUE as a JSON string, quotes, backslashes and control
# characters escaped, bytes that are not UTF-8 dropped (a DHCP client names itself as it likes).

json_string() {
  local s=$1 i c
  if [[ ! $s =~ ^[\ -~]*$ ]] && ! printf '%s' "$s" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1; then
    s=$(printf '%s' "$s" | iconv -c -f UTF-8 -t UTF-8)
  fi
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  if [[ $s == *[[:cntrl:]]* ]]; then
    for i in {1..31} 127; do
      printf -v c '%b' "\\x$(printf '%02x' "$i")"
      s=${s//"$c"/$(printf '\\u%04x' "$i")}
    done
  fi
  REPLY="\"$s\""
}

# json_list ITEM… → REPLY: a JSON array of strings
json_list() {
  local out='' item
  for item in "$@"; do
    json_string "$item"
    out+="${out:+, }$REPLY"
  done
  REPLY="[$out]"
}
