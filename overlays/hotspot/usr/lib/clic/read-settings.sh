# Effective settings of the kit as CLIC_* shell variables (sourced by the hotspot and portal
# boot scripts): the image defaults from /etc/clic/defaults.d/*.conf (`key = value` lines), then
# /run/clic/settings.env, which clic-settings.service (firstboot layer) writes at every boot from
# the deployer's settings file, already checked. CLIC_ROOT, when set, prefixes every path (the
# tests run these scripts on the build host against a folder).

clic_trim() {
    _s=$1
    _s=${_s#"${_s%%[![:space:]]*}"}
    _s=${_s%"${_s##*[![:space:]]}"}
    printf '%s' "$_s"
}

# clic_load_defaults: the image defaults only.
clic_load_defaults() {
    for _f in "${CLIC_ROOT:-}"/etc/clic/defaults.d/*.conf; do
        [ -r "$_f" ] || continue
        while IFS= read -r _line || [ -n "$_line" ]; do
            case $_line in *=*) ;; *) continue ;; esac
            _key=$(clic_trim "${_line%%=*}")
            _value=$(clic_trim "${_line#*=}")
            case $_key in
                hostname) CLIC_HOSTNAME=$_value ;;
                wifi_ssid) CLIC_WIFI_SSID=$_value ;;
                wifi_passphrase) CLIC_WIFI_PASSPHRASE=$_value ;;
                wifi_country) CLIC_WIFI_COUNTRY=$_value ;;
                wifi_channel) CLIC_WIFI_CHANNEL=$_value ;;
                language) CLIC_LANGUAGE=$_value ;;
            esac
        done < "$_f"
    done
}

# clic_load_settings: the defaults, then the effective settings of this boot when they exist.
clic_load_settings() {
    clic_load_defaults
    if [ -r "${CLIC_ROOT:-}/run/clic/settings.env" ]; then
        . "${CLIC_ROOT:-}/run/clic/settings.env"
    else
        echo "/run/clic/settings.env is missing (clic-settings.service did not run): using the image defaults"
    fi
}
