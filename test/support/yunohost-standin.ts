/**
 * A STAND-IN for YunoHost, as Debian packages for the tests' signed apt repository — this is NOT
 * YunoHost. YunoHost's repository cannot be reached from here, and the real thing would need a
 * full server to install; what the tests check is the kit's side of the contract: the image
 * trusts and installs the repository's `yunohost` package, and the first-boot script drives the
 * `yunohost` command the way the real one must be driven, offline.
 *
 *   const repo = await makeSignedAptRepo(dir, { packages: yunohostStandinPackages() });
 *   // yunohost (/usr/bin/yunohost), moulinette, ssowat, yunohost-admin, yunohost-portal: with
 *   // the names and relations of YunoHost 12.1's packages (YUNOHOST_12_RELATIONS)
 *
 * /usr/bin/yunohost is a bash script (coreutils, sed and grep only: the image has no python)
 * implementing the subset of YunoHost's CLI that the first boot uses, with YunoHost's own file
 * locations, its short messages (those a script may look for; longer ones are reworded) and its
 * offline traps — checked against YunoHost's sources
 * (src/tools.py tools_postinstall, src/app.py app_install/app_list/app_remove,
 * src/utils/app_utils.py _extract_app, src/app_catalog.py _load_apps_catalog, locales/en.json):
 *
 *  - `yunohost tools postinstall --domain D --username U --fullname F --password P
 *    [--force-diskspace] [--ignore-dyndns]`: refuses a second run ("YunoHost is already
 *    installed"), a root file system under 10 GiB without --force-diskspace, a password shorter
 *    than 8 characters, a DynDNS domain (nohost.me, noho.st, ynh.fr) without --ignore-dyndns (no
 *    network to reach the DynDNS server). Writes /etc/yunohost/current_host, records the admin in
 *    /etc/yunohost/clic-standin-admins (user and full name, never the password: stand-in only),
 *    then /etc/yunohost/installed, and prints "Success! YunoHost is now configured".
 *  - `yunohost app install SRC --args 'k=v&k2=v2' [--force]`: needs the postinstall, and nginx and
 *    fail2ban running (on a booted system; YunoHost's _assert_system_is_sane_for_app). Like the real
 *    one it reads the app catalog cache FIRST, whatever SRC is: without
 *    /var/cache/yunohost/repo/default.json carrying `"from_api_version": 3` (which YunoHost adds
 *    when it saves the catalog) the real one tries to download the catalog, so this fails as the
 *    real one does offline. SRC in the catalog → the real one would clone the app's git repository:
 *    refused here. SRC a local folder → installed: `id` from its manifest.toml; refused if
 *    /etc/yunohost/apps/<id> exists ("<id> is already installed"); answers = --args (URL-decoded)
 *    for the manifest's [install.*] questions (other keys are ignored, as by the real one), else
 *    their `default`, else the main domain for a `domain` question, else a required-answer error;
 *    a `domain` answer must be the main domain, a `path` one is given its leading slash.
 *    Then, as the real one: /etc/yunohost/apps/<id>/ is created with settings.yml (id,
 *    install_time, the answers) and the package's manifest and scripts BEFORE the install script
 *    runs — so a power cut mid-install leaves an app that `app list` shows. If the manifest has
 *    [resources.install_dir], `install_dir` is /var/www/<id> (created). The package's
 *    scripts/install runs with bash from its scripts/ folder, with YNH_APP_ID,
 *    YNH_APP_INSTANCE_NAME, YNH_APP_BASEDIR (a copy of the package), YNH_ARCH, YNH_APP_ARG_<KEY>
 *    and the settings as variables (`app`, `domain`, `path`, …), plus YNH_CACHE_DIR
 *    (/var/cache/yunohost/download/<id>: stand-in only, where YunoHost keeps prefetched sources).
 *    On failure: scripts/remove runs, /etc/yunohost/apps/<id> is removed, "Installation of <id>
 *    failed", exit 1. Either way /var/cache/yunohost/download/<id> is emptied afterwards.
 *  - `yunohost app list [--output-as json|plain]`: `{"apps":[{"id","name","description","version",
 *    "domain_path"}]}` for each folder of /etc/yunohost/apps with a settings.yml and a manifest —
 *    like the real one, a half-installed app IS listed (nothing marks it); a folder missing those
 *    is skipped with "Failed to read info for <id>" on stderr. JSON is also the default output
 *    (the real default is a YAML-like listing). `plain` is moulinette's format (`##id`, value…).
 *  - `yunohost app remove ID`: runs /etc/yunohost/apps/<id>/scripts/remove, removes the folder.
 *  - `yunohost tools regen-conf [CATEGORY…] [--force]`, also at the end of the postinstall (whose
 *    failure it fails): the effects of YunoHost 12.1's ssh, nginx, nftables and dnsmasq hooks on
 *    what the kit configures too (see regen_conf below), with the custom hooks of
 *    /etc/yunohost/hooks.d/conf_regen run on the pending files, as the real one runs them.
 *  - `yunohost firewall open PORT COMMENT [-p tcp|udp]` (the comment is required, as by the real
 *    one), `yunohost firewall close PORT [-p tcp|udp] [--no-reload]`, `yunohost settings set security.ssh.ssh_password_authentication -v yes|no`,
 *    `yunohost user ssh add-key USER KEY`.
 *  - The package's postinst does what the real one's configuration hooks do at install
 *    (`--standin-package-init`): nginx's two default servers and bucket size, a CA and
 *    certificate with fresh keys (/usr/share/yunohost/hooks/conf_regen/02-ssl), firewall.yml (the
 *    real default: mail and UPnP ports open too),
 *    /etc/default/dnsmasq; it calls systemctl, which it does not depend on.
 *  - Anything else: "Error: …" and exit 1.
 *
 * Not implemented (stand-in): resources other than install_dir (no system user, no apt — the
 * test app installs its Debian packages itself —, no source download, no permissions, no nginx),
 * multi-instance, archives and git URLs as SRC, other catalogs than `default`, LDAP users.
 * `YNH_STANDIN_ROOT` (default empty) is put before every absolute path the script uses, so that
 * tests run it on the host under a temporary root (SRC itself is taken as given).
 */
import type { PackageSpec } from './apt-repo.ts';

/** Above the versions yunohost's relations ask for (moulinette >= 12.1, yunohost-admin >= 12.1). */
export const YUNOHOST_STANDIN_VERSION = '12.1.25~clicstandin1';

/**
 * Tag for bash text in a template literal: the text is taken raw (backslashes are bash's), and
 * `\${` gives bash's `${`, which a template literal would otherwise read as a substitution.
 */
export const bash = (parts: TemplateStringsArray): string => parts.raw.join('').replaceAll('\\${', '${');

/** The stand-in /usr/bin/yunohost. */
export function yunohostStandinScript(): string {
  return bash`#!/bin/bash
# STAND-IN for YunoHost's "yunohost" command, made by the clic-image tests
# (test/support/yunohost-standin.ts). This is NOT YunoHost: it implements the few commands the
# kit's first boot uses (tools postinstall, app install/list/remove), with YunoHost's file
# locations and short messages, so that the tests check how the kit drives YunoHost, offline.
set -u

ROOT=\${YNH_STANDIN_ROOT:-}
ETC=$ROOT/etc/yunohost
APPS=$ETC/apps
CATALOG_CACHE=$ROOT/var/cache/yunohost/repo
DOWNLOAD_CACHE=$ROOT/var/cache/yunohost/download
WORKDIRS=$ROOT/var/cache/yunohost/app_tmp_work_dirs
# same threshold as YunoHost's postinstall: 10 GiB
MIN_ROOTFS_KIB=$((10 * 1024 * 1024))

info() { printf 'Info: %s\n' "$*"; }
success() { printf 'Success! %s\n' "$*"; }
warning() { printf 'Warning: %s\n' "$*" >&2; }
error() { printf 'Error: %s\n' "$*" >&2; }
die() { error "$*"; exit 1; }

# "a+b%2Fc" -> "a b/c" (application/x-www-form-urlencoded, as --args is)
urldecode() {
  local s=\${1//\\/\\\\}
  s=\${s//+/ }
  printf '%b' "\${s//%/\\x}"
}

# single-quoted YAML scalar
yaml_quote() { printf "'%s'" "\${1//\'/\'\'}"; }

json_string() {
  local s=$1
  s=\${s//\\/\\\\}
  s=\${s//\"/\\\"}
  s=\${s//$'\t'/\\t}
  s=\${s//$'\n'/\\n}
  s=\${s//$'\r'/\\r}
  printf '"%s"' "$s"
}

# value of a top-level "key = ..." line of a TOML file (first match; quotes removed)
toml_top() {
  local line
  line=$(grep -m1 -E "^$2[[:space:]]*=" "$1" 2>/dev/null) || return 0
  toml_scalar "\${line#*=}"
}

# a TOML scalar as text: "quoted" -> quoted, true -> true
toml_scalar() {
  local v=$1
  v=\${v#"\${v%%[![:space:]]*}"}
  case "$v" in
    \"*) v=\${v#\"}; v=\${v%%\"*} ;;
    \'*) v=\${v#\'}; v=\${v%%\'*} ;;
    *) v=\${v%%[[:space:]#]*} ;;
  esac
  printf '%s' "$v"
}

settings_get() {
  local file=$1 key=$2 line
  line=$(grep -m1 -E "^$key: " "$file" 2>/dev/null) || return 0
  line=\${line#"$key: "}
  line=\${line#\'}
  line=\${line%\'}
  printf '%s' "\${line//\'\'/\'}"
}

system_arch() {
  dpkg --print-architecture 2>/dev/null && return
  case "$(uname -m)" in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) uname -m ;;
  esac
}

need_value() { [ $# -ge 2 ] || die "argument $1: expected one argument"; }

tools_postinstall() {
  local domain='' username='' fullname='' password='' force_diskspace=0 ignore_dyndns=0
  while [ $# -gt 0 ]; do
    case "$1" in
      -d|--domain) need_value "$@"; domain=$2; shift 2 ;;
      -u|--username) need_value "$@"; username=$2; shift 2 ;;
      -F|--fullname) need_value "$@"; fullname=$2; shift 2 ;;
      -p|--password) need_value "$@"; password=$2; shift 2 ;;
      --dyndns-recovery-password) need_value "$@"; shift 2 ;;
      --force-diskspace) force_diskspace=1; shift ;;
      --ignore-dyndns) ignore_dyndns=1; shift ;;
      *) die "unrecognized argument: $1" ;;
    esac
  done
  local missing=''
  [ -n "$domain" ] || missing="$missing --domain"
  [ -n "$username" ] || missing="$missing --username"
  [ -n "$fullname" ] || missing="$missing --fullname"
  [ -n "$password" ] || missing="$missing --password"
  # the real one would prompt for them; a first-boot script has nobody to answer
  [ -z "$missing" ] || die "the following arguments are required:$missing"

  [ ! -e "$ETC/installed" ] || die "YunoHost is already installed"
  local re_username='^[a-z0-9_.]+$' re_domain='^([a-z0-9]([a-z0-9-]*[a-z0-9])?[.])+[a-z0-9]([a-z0-9-]*[a-z0-9])?$'
  [[ $username =~ $re_username ]] || die "Pick a valid value for argument 'username': must be lower-case letters, digits, '.' and '_'"
  [[ $domain =~ $re_domain ]] || die "Pick a valid value for argument 'domain': '$domain' is not a domain name"
  if [ "$force_diskspace" = 0 ]; then
    local size
    size=$(df -Pk "$ROOT/" | sed -n '2s/^[^[:space:]]*[[:space:]]*\([0-9]*\).*/\1/p')
    if [ -n "$size" ] && [ "$size" -lt "$MIN_ROOTFS_KIB" ]; then
      die "The root file system is smaller than 10 GB ($((size / 1024)) MiB): add --force-diskspace to go on all the same"
    fi
  fi
  [ \${#password} -ge 8 ] || die "The password needs to be at least 8 characters long"
  [ \${#password} -lt 127 ] || die "Please choose a password shorter than 127 characters"
  case "$domain" in
    *.nohost.me|*.noho.st|*.ynh.fr)
      # the real one asks dyndns.yunohost.org whether the domain is free: offline, it cannot
      [ "$ignore_dyndns" = 1 ] || die "Unable to reach DynDNS provider dyndns.yunohost.org (no network?): add --ignore-dyndns to go on without it" ;;
  esac

  info "Installing YunoHost…"
  mkdir -p "$APPS" || exit 1
  printf '%s\n' "$domain" > "$ETC/current_host" || exit 1
  info "Main domain: $domain"
  printf '%s\t%s\n' "$username" "$fullname" >> "$ETC/clic-standin-admins" || exit 1
  if [ -z "$ROOT" ]; then
    # the real one makes an LDAP user in its admins group, which sshd lets in
    getent group admins >/dev/null || groupadd admins || exit 1
    id "$username" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --groups admins "$username" || exit 1
  fi
  info "User created: $username"
  # the real one ends with a forced regen-conf of every category; it fails the postinstall
  regen_conf || die "The postinstall failed: the configuration could not be regenerated"
  : > "$ETC/installed" || exit 1
  success "YunoHost is now configured"
  warning "The post-install completed! (STAND-IN of YunoHost: nothing else was configured)"
}

# the catalog cache, as the real _load_apps_catalog checks it: missing or from another API
# version -> the real one downloads the catalog again, which offline fails
check_catalog_cache() {
  local cache=$CATALOG_CACHE/default.json
  if [ -s "$cache" ] && grep -Eq '"from_api_version"[[:space:]]*:[[:space:]]*3([^0-9]|$)' "$cache"; then
    return 0
  fi
  info "The app catalog cache is empty or obsolete."
  info "Updating application catalog…"
  error "Unable to download the default app catalog: no network (STAND-IN: the real yunohost would fetch https://app.yunohost.org/default/v3/apps.json here)"
  return 1
}

catalog_has() {
  [[ $1 =~ ^[a-z0-9_]+$ ]] || return 1
  grep -Eq "\"$1\"[[:space:]]*:[[:space:]]*\{" "$CATALOG_CACHE/default.json"
}

main_domain() { cat "$ETC/current_host" 2>/dev/null; }
first_admin() { sed -n '1s/\t.*//p' "$ETC/clic-standin-admins" 2>/dev/null; }

# Runs a package script ($1: its path) from its folder, with stdin closed.
run_app_script() {
  local script=$1
  shift
  ( cd "\${script%/*}" && exec bash "$script" "$@" ) < /dev/null
}

# Exports the settings of an installed app, as the real one does for packaging format 2.
export_settings() {
  local file=$1 line key value
  while IFS= read -r line || [ -n "$line" ]; do
    [[ $line =~ ^([a-z_][a-z0-9_]*):\ (.*)$ ]] || continue
    key=\${BASH_REMATCH[1]}
    value=$(settings_get "$file" "$key")
    export "$key=$value"
  done < "$file"
}

app_install() {
  local src='' args='' label=''
  while [ $# -gt 0 ]; do
    case "$1" in
      -a|--args) need_value "$@"; args=$2; shift 2 ;;
      -l|--label) need_value "$@"; label=$2; shift 2 ;;
      -f|--force|--ignore-yunohost-version|--no-remove-on-failure) shift ;;
      -*) die "unrecognized argument: $1" ;;
      *) [ -z "$src" ] || die "unrecognized argument: $1"; src=$1; shift ;;
    esac
  done
  [ -n "$src" ] || die "the following arguments are required: app"
  [ -e "$ETC/installed" ] || die "YunoHost is not installed yet: run 'yunohost tools postinstall' first"
  # the real one refuses to install while nginx or fail2ban is down (_assert_system_is_sane_for_app);
  # fail2ban does not start without the log files its jails read (rsyslog's). It asks systemd
  # through D-Bus, and without a system bus fails with python-dbus's error
  if [ -z "$ROOT" ]; then
    [ -S /run/dbus/system_bus_socket ] || die "dbus.exceptions.DBusException: org.freedesktop.DBus.Error.FileNotFound: Failed to connect to socket /run/dbus/system_bus_socket: No such file or directory"
    local service faulty=''
    for service in nginx fail2ban; do
      systemctl is-active --quiet "$service" || faulty="$faulty $service ($(systemctl is-active "$service"))"
    done
    [ -z "$faulty" ] || die "These required services should be running to run this action:\${faulty}. Try restarting them to continue (and possibly investigate why they are down)."
  fi
  # the real _extract_app loads the catalog before looking at what SRC is
  check_catalog_cache || exit 1
  if catalog_has "$src"; then
    die "STAND-IN: '$src' is an app of the catalog: the real yunohost would now clone its git repository, which needs the network; this stand-in installs from a local folder only"
  elif [ -d "$src" ]; then
    :
  elif [ -e "$src" ]; then
    die "STAND-IN: '$src' is not a folder (the real yunohost also takes archives; this stand-in does not)"
  else
    die "Unknown app"
  fi

  local manifest=$src/manifest.toml
  [ -f "$manifest" ] || die "STAND-IN: no manifest.toml in $src (YunoHost's packaging format 2 is expected)"
  local id
  id=$(toml_top "$manifest" id)
  [[ $id =~ ^[a-z0-9_]+$ && $id != *__* ]] || die "Invalid app ID"
  [ ! -e "$APPS/$id" ] || die "$id is already installed"

  # the answers given
  local -A given=()
  local -a pairs=()
  local pair key value
  # read, not a for loop on $args: no globbing of the answers
  IFS='&' read -r -a pairs <<< "$args"
  for pair in "\${pairs[@]}"; do
    [ -n "$pair" ] || continue
    key=$(urldecode "\${pair%%=*}")
    if [[ $pair == *=* ]]; then value=$(urldecode "\${pair#*=}"); else value=''; fi
    given[$key]=$value
  done

  # the install questions: [install.<name>] sections, their type, default, optional
  local -a questions=()
  local -A qtype=() qdefault=() qhasdefault=() qoptional=()
  local line section='' q=''
  local re_section='^\[([^]]+)\]' re_question='^install\.([a-z0-9_]+)$'
  local re_type='^type[[:space:]]*=(.*)$' re_default='^default[[:space:]]*=(.*)$' re_optional='^optional[[:space:]]*=[[:space:]]*true'
  while IFS= read -r line || [ -n "$line" ]; do
    line=\${line#"\${line%%[![:space:]]*}"}
    if [[ $line =~ $re_section ]]; then
      section=\${BASH_REMATCH[1]}
      q=''
      if [[ $section =~ $re_question ]]; then
        q=\${BASH_REMATCH[1]}
        questions+=("$q")
        qtype[$q]=string
        qhasdefault[$q]=0
        qoptional[$q]=0
      fi
    elif [ -n "$q" ]; then
      if [[ $line =~ $re_type ]]; then qtype[$q]=$(toml_scalar "\${BASH_REMATCH[1]}")
      elif [[ $line =~ $re_default ]]; then qhasdefault[$q]=1; qdefault[$q]=$(toml_scalar "\${BASH_REMATCH[1]}")
      elif [[ $line =~ $re_optional ]]; then qoptional[$q]=1
      fi
    fi
  done < "$manifest"

  # the answers: given, else the default, else what YunoHost picks, else an error
  local -A answer=()
  local domain
  domain=$(main_domain)
  for q in "\${questions[@]}"; do
    if [[ -v given[$q] ]]; then
      value=\${given[$q]}
    elif [ "\${qhasdefault[$q]}" = 1 ]; then
      value=\${qdefault[$q]}
    else
      case "\${qtype[$q]}" in
        domain) value=$domain ;;
        user) value=$(first_admin) ;;
        group) value=all_users ;;
        boolean) value=0 ;;
        *)
          [ "\${qoptional[$q]}" = 1 ] || die "Pick a valid value for argument '$q': it has no default, give it in --args (STAND-IN wording)"
          value='' ;;
      esac
    fi
    case "\${qtype[$q]}" in
      domain) [ "$value" = "$domain" ] || die "Pick a valid value for argument '$q': '$value' is not among the available choices ($domain)" ;;
      path) value=/\${value#/}; [ "$value" = / ] || value=\${value%/} ;;
      boolean) case "$value" in true|yes|y|1) value=1 ;; *) value=0 ;; esac ;;
    esac
    answer[$q]=$value
  done

  # a copy of the package to work in, as the real one does
  mkdir -p "$WORKDIRS" || exit 1
  local work
  work=$(mktemp -d "$WORKDIRS/$id.XXXXXX") || exit 1
  cp -a "$src/." "$work/" || { rm -rf "$work"; exit 1; }

  info "Installing $id…"
  local setting_path=$APPS/$id
  mkdir -p "$setting_path" || exit 1
  {
    printf 'id: %s\n' "$(yaml_quote "$id")"
    printf 'install_time: %s\n' "$(date +%s)"
    printf "current_revision: '?'\n"
    [ -z "$label" ] || printf 'label: %s\n' "$(yaml_quote "$label")"
    for q in "\${questions[@]}"; do
      # the real one keeps password answers out of the settings
      [ "\${qtype[$q]}" = password ] || printf '%s: %s\n' "$q" "$(yaml_quote "\${answer[$q]}")"
    done
  } > "$setting_path/settings.yml"
  local item
  for item in manifest.toml config_panel.toml scripts conf hooks doc; do
    [ ! -e "$work/$item" ] || cp -a "$work/$item" "$setting_path/"
  done
  if grep -q '^[[:space:]]*\[resources\.install_dir\]' "$manifest"; then
    mkdir -p "$ROOT/var/www/$id"
    printf 'install_dir: %s\n' "$(yaml_quote "$ROOT/var/www/$id")" >> "$setting_path/settings.yml"
  fi

  local status=0
  (
    # the script's path in $1: the settings exported below may reuse any lower-case name
    set -- "$work/scripts/install" "$setting_path/settings.yml"
    export app=$id YNH_APP_ID=$id YNH_APP_INSTANCE_NAME=$id YNH_APP_INSTANCE_NUMBER=1 YNH_APP_ACTION=install
    export YNH_APP_BASEDIR=$work YNH_ARCH=$(system_arch) YNH_CACHE_DIR=$DOWNLOAD_CACHE/$id
    export YNH_APP_MANIFEST_VERSION=$(toml_top "$manifest" version) YNH_APP_PACKAGING_FORMAT=$(toml_top "$manifest" packaging_format)
    for q in "\${questions[@]}"; do
      export "YNH_APP_ARG_\${q^^}=\${answer[$q]}"
    done
    export_settings "$2"
    run_app_script "$1"
  ) || status=$?

  if [ "$status" != 0 ]; then
    warning "Removing the app after installation failure…"
    if [ -f "$work/scripts/remove" ]; then
      (
        set -- "$work/scripts/remove" "$id" "$setting_path/settings.yml"
        export app=$id YNH_APP_ID=$id YNH_APP_INSTANCE_NAME=$id YNH_APP_INSTANCE_NUMBER=1 YNH_APP_ACTION=remove YNH_APP_BASEDIR=$work
        export_settings "$3"
        run_app_script "$1" "$2"
      ) || warning "$id has not been properly removed"
    fi
    rm -rf "$setting_path" "$work" "$DOWNLOAD_CACHE/$id"
    die "Installation of $id failed: An error occurred inside the app installation script"
  fi
  rm -rf "$work" "$DOWNLOAD_CACHE/$id"
  success "Installation completed"
}

app_list() {
  local output=json
  while [ $# -gt 0 ]; do
    case "$1" in
      --output-as) need_value "$@"; output=$2; shift 2 ;;
      -f|--full) shift ;;
      *) die "unrecognized argument: $1" ;;
    esac
  done
  case "$output" in json|plain|none) ;; *) die "argument --output-as: invalid choice: '$output' (choose from 'json', 'plain', 'none')" ;; esac
  local dir id manifest settings first=1 name description version domain_path
  [ "$output" != json ] || printf '{"apps": ['
  for dir in "$APPS"/*/; do
    [ -d "$dir" ] || continue
    dir=\${dir%/}
    id=\${dir##*/}
    manifest=$dir/manifest.toml
    settings=$dir/settings.yml
    if [ ! -f "$manifest" ] || [ ! -f "$settings" ]; then
      error "Failed to read info for $id : no manifest or settings"
      continue
    fi
    name=$(toml_top "$manifest" name)
    description=$(toml_top "$manifest" 'description\.en')
    version=$(toml_top "$manifest" version)
    domain_path=''
    if grep -q '^domain: ' "$settings" && grep -q '^path: ' "$settings"; then
      domain_path=$(settings_get "$settings" domain)$(settings_get "$settings" path)
    fi
    case "$output" in
      json)
        [ "$first" = 1 ] || printf ', '
        first=0
        printf '{"id": %s, "name": %s, "description": %s, "version": %s' "$(json_string "$id")" "$(json_string "$name")" "$(json_string "$description")" "$(json_string "$version")"
        [ -z "$domain_path" ] || printf ', "domain_path": %s' "$(json_string "$domain_path")"
        printf '}' ;;
      plain)
        printf '##id\n%s\n##name\n%s\n##description\n%s\n##version\n%s\n' "$id" "$name" "$description" "$version"
        [ -z "$domain_path" ] || printf '##domain_path\n%s\n' "$domain_path" ;;
    esac
  done
  [ "$output" != json ] || printf ']}\n'
}

app_remove() {
  local id=''
  while [ $# -gt 0 ]; do
    case "$1" in
      -p|--purge) shift ;;
      -*) die "unrecognized argument: $1" ;;
      *) [ -z "$id" ] || die "unrecognized argument: $1"; id=$1; shift ;;
    esac
  done
  [ -n "$id" ] || die "the following arguments are required: app"
  local setting_path=$APPS/$id
  if [[ ! $id =~ ^[a-z0-9_]+$ ]] || [ ! -d "$setting_path" ]; then
    local all
    all=$(ls -1 "$APPS" 2>/dev/null | tr '\n' ' ')
    die "Could not find $id in the list of installed apps: \${all% }"
  fi
  info "Removing $id…"
  if [ -f "$setting_path/scripts/remove" ]; then
    (
      set -- "$setting_path/scripts/remove" "$id" "$setting_path/settings.yml"
      export app=$id YNH_APP_ID=$id YNH_APP_INSTANCE_NAME=$id YNH_APP_INSTANCE_NUMBER=1 YNH_APP_ACTION=remove YNH_APP_BASEDIR=$setting_path
      [ ! -f "$3" ] || export_settings "$3"
      run_app_script "$1" "$2"
    ) || warning "$id has not been properly removed"
  fi
  rm -rf "$setting_path"
  success "$id uninstalled"
}

# --- regen-conf: what the real one's configuration hooks do to files the kit configures too ---
# (hooks/conf_regen/03-ssh, 15-nginx, 40-nftables, 43-dnsmasq of YunoHost 12.1, in part): each
# category's files are made in a pending folder, the custom hooks of
# /etc/yunohost/hooks.d/conf_regen run on it ("pre", "", "", their own pending folder, beside
# the others), then the files replace those of the system and the services restart. A broken
# nginx configuration fails the regen-conf, as the real nginx hook's nginx -t does.
SETTINGS_FILE=$ETC/clic-standin-settings
FIREWALL_FILE=$ETC/firewall.yml
CATEGORIES="ssh nginx nftables dnsmasq"

setting() { # key default -> the stand-in's stored value of a yunohost settings key
  local value
  value=$(sed -n "s/^$1=//p" "$SETTINGS_FILE" 2>/dev/null | tail -n 1)
  printf '%s' "\${value:-$2}"
}

# the real 15-nginx do_base_regen, for the files that meet the kit's: a default server on port
# 80 (a redirect to the admin) and on 443, and server_names_hash_bucket_size in the http block
nginx_base_files() { # folder
  mkdir -p "$1/etc/nginx/conf.d"
  printf '%s\n' '# STAND-IN of YunoHost ssowat.conf (its directives that matter to the kit)' 'server_names_hash_bucket_size 128;' > "$1/etc/nginx/conf.d/ssowat.conf"
  # its conf/nginx/global.conf: an http-level directive the kit's sites must not set again
  printf '%s\n' '# STAND-IN of YunoHost global.conf' 'server_tokens off;' > "$1/etc/nginx/conf.d/global.conf"
  cat > "$1/etc/nginx/conf.d/yunohost_admin.conf" <<'NGINX'
# STAND-IN of YunoHost's yunohost_admin.conf: its two default servers
server {
    listen 80 default_server;
    listen [::]:80 default_server;
    location / {
        return 302 https://$host/yunohost/admin;
    }
}
server {
    listen 443 ssl default_server;
    listen [::]:443 ssl default_server;
    ssl_certificate /etc/yunohost/certs/yunohost.org/crt.pem;
    ssl_certificate_key /etc/yunohost/certs/yunohost.org/key.pem;
    location /yunohost/admin {
        default_type text/plain;
        return 200 "STAND-IN of YunoHost's admin\n";
    }
}
NGINX
}

regen_ssh() { # pending folder: the real template's lines that decide who logs in, no Include
  mkdir -p "$1/etc/ssh"
  {
    echo '# STAND-IN of YunoHost sshd_config (the lines that decide who logs in, as its template has them)'
    echo 'PermitRootLogin no'
    echo 'PubkeyAuthentication yes'
    echo 'PermitEmptyPasswords no'
    echo 'KbdInteractiveAuthentication no'
    echo 'UsePAM yes'
    [ "$(setting security.ssh.ssh_password_authentication true)" = true ] || echo 'PasswordAuthentication no'
    echo 'AcceptEnv LANG LC_*'
    echo 'AllowGroups ssh.main sftp.main ssh.app sftp.app admins root'
    echo 'Subsystem sftp internal-sftp'
    echo 'Match Address 192.168.0.0/16,10.0.0.0/8,172.16.0.0/12,169.254.0.0/16,fe80::/10,fd00::/8'
    echo '    PermitRootLogin yes'
  } > "$1/etc/ssh/sshd_config"
}

regen_nginx() { nginx_base_files "$1"; }

firewall_ports() { # tcp|udp -> the open ports of firewall.yml, space-separated
  awk -v proto="$1:" '
    /^[a-z_]+:/ { section = $1; next }
    section == proto && /^    [0-9]+:/ { port = $1; sub(":", "", port); next }
    section == proto && /^        open: true/ { printf "%s ", port }
  ' "$FIREWALL_FILE" 2>/dev/null
}

regen_nftables() { # pending folder: input policy drop, but for the ports firewall.yml opens
  local tcp udp
  tcp=$(firewall_ports tcp) udp=$(firewall_ports udp)
  mkdir -p "$1/etc/nftables.d"
  printf '%s\n' '#!/usr/sbin/nft -f' 'flush ruleset' 'include "/etc/nftables.d/*.conf"' > "$1/etc/nftables.conf"
  {
    echo '# STAND-IN of YunoHost yunohost-firewall.conf'
    echo 'table inet filter {'
    echo '    chain input {'
    echo '        type filter hook input priority filter; policy drop;'
    echo '        ct state related,established accept'
    [ -z "$tcp" ] || echo "        tcp dport { $(echo $tcp | sed 's/ /, /g') } accept"
    [ -z "$udp" ] || echo "        udp dport { $(echo $udp | sed 's/ /, /g') } accept"
    echo '        iifname "lo" accept'
    echo '        ip protocol icmp accept'
    echo '        ip6 nexthdr icmpv6 accept'
    echo '    }'
    echo '}'
  } > "$1/etc/nftables.d/yunohost-firewall.conf"
}

regen_dnsmasq() { # pending folder: its own /etc/default/dnsmasq and dnsmasq.conf; dotted files of dnsmasq.d go
  local dev wireless=lo conf
  mkdir -p "$1/etc/default" "$1/etc/dnsmasq.d"
  printf '%s\n' '# STAND-IN of YunoHost /etc/default/dnsmasq' 'ENABLED=1' 'CONFIG_DIR=/etc/dnsmasq.d,.dpkg-dist,.dpkg-old,.dpkg-new' 'IGNORE_RESOLVCONF=yes' > "$1/etc/default/dnsmasq"
  for dev in "$ROOT"/sys/class/net/*; do
    if [ -d "$dev/wireless" ] && grep -q up "$dev/operstate" 2>/dev/null; then wireless+=" \${dev##*/}"; fi
  done
  {
    printf '%s\n' '# STAND-IN of YunoHost dnsmasq.conf' domain-needed expand-hosts localise-queries
    for dev in $wireless; do echo "interface=$dev"; done
    printf '%s\n' resolv-file=/etc/resolv.dnsmasq.conf cache-size=256
  } > "$1/etc/dnsmasq.conf"
  printf '%s\n' 'nameserver 9.9.9.9' 'nameserver 80.67.169.12' > "$1/etc/resolv.dnsmasq.conf"
  for conf in "$ROOT"/etc/dnsmasq.d/*.*; do
    [ -e "$conf" ] || continue
    case \${conf##*/} in "$(main_domain)" | *.local) ;; *) echo "\${conf##*/}" >> "$1/.removed" ;; esac
  done
}

regen_conf() { # [categories…] (all by default)
  local categories=\${*:-$CATEGORIES} pending category hook name
  pending=$(mktemp -d) || return 1
  for category in $categories; do
    mkdir -p "$pending/$category"
    "regen_$category" "$pending/$category" || { rm -rf "$pending"; return 1; }
  done
  for hook in "$ETC"/hooks.d/conf_regen/*; do
    [ -f "$hook" ] || continue
    name=\${hook##*/}
    name=\${name#*-}
    for category in $categories; do
      [ "\${name%%_*}" = "$category" ] || continue
      mkdir -p "$pending/$name"
      bash "$hook" pre "" "" "$pending/$name" || { error "The hook $hook failed"; rm -rf "$pending"; return 1; }
    done
  done
  for category in $categories; do
    if [ -f "$pending/$category/.removed" ]; then
      while IFS= read -r name; do rm -f "$ROOT/etc/dnsmasq.d/$name"; done < "$pending/$category/.removed"
      rm -f "$pending/$category/.removed"
    fi
    cp -a "$pending/$category/." "$ROOT/"
  done
  rm -rf "$pending"
  [ -z "$ROOT" ] || return 0 # under a test root: no services to restart
  for category in $categories; do
    case $category in
      nginx)
        if ! nginx -t 2>/dev/null; then
          nginx -t
          error "The nginx configuration is broken: regen-conf of nginx failed"
          return 1
        fi
        systemctl reload-or-restart nginx ;;
      ssh) systemctl restart ssh ;;
      dnsmasq) systemctl restart dnsmasq ;;
      nftables) systemctl enable --now nftables >/dev/null 2>&1; systemctl restart nftables ;;
    esac
  done
  success "Configuration updated for $categories"
}

tools_regen_conf() {
  local names=()
  while [ $# -gt 0 ]; do
    case "$1" in
      -f|--force|-n|--dry-run|-p|--with-diff) shift ;;
      -*) die "unrecognized argument: $1" ;;
      *) names+=("$1"); shift ;;
    esac
  done
  regen_conf "\${names[@]}" || exit 1
}

settings_set() {
  local key=\${1:-} value=''
  shift || true
  while [ $# -gt 0 ]; do
    case "$1" in -v|--value) need_value "$@"; value=$2; shift 2 ;; *) die "unrecognized argument: $1" ;; esac
  done
  case "$key" in
    security.ssh.ssh_password_authentication)
      case "$value" in yes|true|1|True) value=true ;; no|false|0|False) value=false ;; *) die "Pick a valid value for argument 'value': '$value' is not a boolean" ;; esac
      printf '%s=%s\n' "$key" "$value" >> "$SETTINGS_FILE"
      regen_conf ssh || exit 1 ;;
    *) die "STAND-IN: the setting '$key' is not implemented" ;;
  esac
  success "Settings updated"
}

firewall_open() { # port comment [-p tcp|udp]: the comment is required, as by the real one
  local port='' comment='' positional=0 proto=tcp
  while [ $# -gt 0 ]; do
    case "$1" in
      -p|--protocol) need_value "$@"; proto=$2; shift 2 ;;
      --upnp|--no-reload) shift ;;
      -*) die "unrecognized argument: $1" ;;
      *)
        positional=$((positional + 1))
        case $positional in 1) port=$1 ;; 2) comment=$1 ;; *) die "unrecognized arguments: $1" ;; esac
        shift ;;
    esac
  done
  if [ "$positional" -lt 2 ]; then
    if [ -n "$port" ]; then die "the following arguments are required: comment"; else die "the following arguments are required: port, comment"; fi
  fi
  [[ $port =~ ^[0-9]+$ ]] || die "Pick a valid value for argument 'port'"
  case "$proto" in tcp|udp) ;; *) die "argument -p/--protocol: invalid choice: '$proto'" ;; esac
  if [[ " $(firewall_ports "$proto") " == *" $port "* ]]; then
    warning "Port $port is already opened for $proto connections"
  else
    awk -v proto="$proto:" -v port="$port" -v comment="$comment" '
      { print }
      $0 == proto { printf "    %s:\n        open: true\n        upnp: false\n        comment: %s\n", port, comment }
    ' "$FIREWALL_FILE" > "$FIREWALL_FILE.new" && mv "$FIREWALL_FILE.new" "$FIREWALL_FILE"
  fi
  regen_conf nftables || exit 1
  success "Firewall reloaded"
}

firewall_close() { # port [-p tcp|udp] [--no-reload]: as the real one, a closed port only warns
  local port='' proto=tcp reload=1
  while [ $# -gt 0 ]; do
    case "$1" in
      -p|--protocol) need_value "$@"; proto=$2; shift 2 ;;
      --no-reload) reload=0; shift ;;
      --upnp-only) shift ;;
      -*) die "unrecognized argument: $1" ;;
      *) [ -z "$port" ] || die "unrecognized arguments: $1"; port=$1; shift ;;
    esac
  done
  [ -n "$port" ] || die "the following arguments are required: port"
  [[ $port =~ ^[0-9]+$ ]] || die "Pick a valid value for argument 'port'"
  case "$proto" in tcp|udp) ;; *) die "argument -p/--protocol: invalid choice: '$proto'" ;; esac
  if [[ " $(firewall_ports "$proto") " != *" $port "* ]]; then
    warning "Port $port is already closed for $proto connections"
  else
    awk -v proto="$proto:" -v port="    $port:" '
      /^[a-z_]+:/ { section = $1 }
      section == proto && $0 == port { closing = 1; print; next }
      closing && /^        open: true/ { print "        open: false"; closing = 0; next }
      /^    [0-9]+:/ { closing = 0 }
      { print }
    ' "$FIREWALL_FILE" > "$FIREWALL_FILE.new" && mv "$FIREWALL_FILE.new" "$FIREWALL_FILE"
  fi
  [ "$reload" = 0 ] || { regen_conf nftables || exit 1; success "Firewall reloaded"; }
}

user_ssh_add_key() {
  local user=\${1:-} key=\${2:-} home
  [ -n "$user" ] && [ -n "$key" ] || die "the following arguments are required: username, key"
  id "$user" >/dev/null 2>&1 || [ -n "$ROOT" ] || die "Unknown user: $user"
  home=$ROOT/home/$user
  mkdir -p "$home/.ssh"
  printf '%s\n' "$key" >> "$home/.ssh/authorized_keys"
  chmod 700 "$home/.ssh"; chmod 600 "$home/.ssh/authorized_keys"
  [ -n "$ROOT" ] || chown -R "$user:" "$home/.ssh"
  success "SSH key added"
}

# What the real package's postinst does before any postinstall (its configuration hooks' "init":
# 01-yunohost, 02-ssl, 15-nginx, 43-dnsmasq, in part): nginx's base files straight into
# /etc/nginx, a local CA and default certificate (random keys: the image must not keep them),
# the default firewall.yml, its /etc/default/dnsmasq.
standin_package_init() {
  nginx_base_files "$ROOT/"
  bash "$ROOT/usr/share/yunohost/hooks/conf_regen/02-ssl" init
  mkdir -p "$ETC"
  # the real default (conf/yunohost/firewall.yml): mail and UPnP ports open too
  local p
  if [ ! -f "$FIREWALL_FILE" ]; then
    {
      echo 'tcp:'
      for p in 22 25 80 443 587 993; do printf '    %s:\n        open: true\n' "$p"; done
      echo 'udp:'
      for p in 53 1900 5353 55354; do printf '    %s:\n        open: true\n' "$p"; done
    } > "$FIREWALL_FILE"
  fi
  mkdir -p "$ROOT/etc/default"
  printf '%s\n' '# STAND-IN of YunoHost /etc/default/dnsmasq' 'ENABLED=1' 'CONFIG_DIR=/etc/dnsmasq.d,.dpkg-dist,.dpkg-old,.dpkg-new' 'IGNORE_RESOLVCONF=yes' > "$ROOT/etc/default/dnsmasq"
}

# global options of the real CLI that change nothing here
declare -a argv=()
for a in "$@"; do
  case "$a" in --debug|--quiet|--no-color) ;; *) argv+=("$a") ;; esac
done
set -- "\${argv[@]}"

case "\${1:-} \${2:-}" in
  "tools postinstall") shift 2; tools_postinstall "$@" ;;
  "tools regen-conf") shift 2; tools_regen_conf "$@" ;;
  "settings set") shift 2; settings_set "$@" ;;
  "firewall open") shift 2; firewall_open "$@" ;;
  "firewall close") shift 2; firewall_close "$@" ;;
  "user ssh") [ "\${3:-}" = add-key ] || die "STAND-IN: 'yunohost user ssh \${3:-}' is not implemented"; shift 3; user_ssh_add_key "$@" ;;
  "--standin-package-init ") standin_package_init ;;
  "app install") shift 2; app_install "$@" ;;
  "app list") shift 2; app_list "$@" ;;
  "app remove") shift 2; app_remove "$@" ;;
  *) die "STAND-IN of YunoHost: 'yunohost $*' is not implemented (only: tools postinstall, app install, app list, app remove)" ;;
esac
`;
}

/**
 * The relations YunoHost 12.1 declares (debian/control of YunoHost/yunohost, moulinette and
 * SSOwat, as built from their sources in the trial of 2026-12: yunohost 12.1.25, moulinette
 * 12.1, ssowat 12.0.1), so that the stand-in meets what the real package meets: an Essential
 * package from an archive named `bookworm`, Conflicts: systemd-resolved, sudo-ldap (which
 * conflicts with sudo), python3-sdbus (bookworm-backports only) and its ~470-package closure
 * (slapd, postfix, dovecot, nginx-extras, dnsmasq, nftables, fail2ban…), all real Debian packages.
 */
export const YUNOHOST_12_RELATIONS = {
  yunohost: {
    essential: true,
    depends: [
      'python3-all (>= 3.11)', 'moulinette (>= 12.1)', 'ssowat (>= 12.0)', 'python3-psutil', 'python3-requests', 'python3-dnspython',
      'python3-openssl', 'python3-miniupnpc', 'python3-dbus', 'python3-jinja2 (>= 3.0)', 'python3-toml', 'python3-packaging',
      'python3-publicsuffix2', 'python3-ldap', 'python3-zeroconf (>= 0.47)', 'python3-lexicon', 'python3-cryptography', 'python3-jwt',
      'python3-passlib', 'python3-magic', 'python-is-python3', 'python3-pydantic', 'python3-email-validator', 'python3-sortedcollections',
      'python3-sdbus', 'udisks2', 'udisks2-bcache', 'udisks2-btrfs', 'udisks2-lvm2', 'udisks2-zram', 'smartmontools', 'python3-zmq', 'nginx',
      'nginx-extras (>= 1.22)', 'apt', 'apt-transport-https', 'apt-utils', 'aptitude', 'dirmngr', 'openssh-server', 'nftables', 'fail2ban',
      'bind9-dnsutils', 'openssl', 'ca-certificates', 'netcat-openbsd', 'iproute2', 'slapd', 'ldap-utils', 'sudo-ldap', 'libnss-ldapd',
      'unscd', 'libpam-ldapd', 'dnsmasq', 'resolvconf', 'libnss-myhostname', 'postfix', 'postfix-ldap', 'postfix-policyd-spf-perl',
      'postfix-pcre', 'dovecot-core', 'dovecot-ldap', 'dovecot-lmtpd', 'dovecot-managesieved', 'dovecot-antispam', 'opendkim-tools',
      'opendkim', 'postsrsd', 'procmail', 'mailutils', 'acl', 'git', 'curl', 'wget', 'cron', 'unzip', 'jq', 'bc', 'at', 'procps', 'j2cli',
      'lsb-release', 'haveged', 'fake-hwclock', 'lsof', 'whois', 'xz-utils', 'zstd',
    ].join(', '),
    recommends: 'yunohost-admin (>= 12.1), yunohost-portal (>= 12.1), ntp, inetutils-ping | iputils-ping, bash-completion, rsyslog, unattended-upgrades, libdbd-ldap-perl, libnet-dns-perl',
    conflicts: 'apache2, bind9, dovecot-core (>= 1:2.4), fail2ban (>= 1.1), iptables-persistent, nftables (>= 1.1), nginx-extras (>= 1.23), openresolv, openssl (>= 3.1), slapd (>= 2.6), systemd-resolved',
  },
  moulinette: {
    depends: 'python3-bottle (>= 0.12), python3-gevent-websocket, python3-prompt-toolkit, python3-psutil, python3-pygments, python3-toml, python3-tz, python3-yaml, python3:any',
    breaks: 'yunohost (<< 4.1)',
  },
  ssowat: { depends: 'nginx-extras (>= 1.6.2), lua-json, lua-rex-pcre2, lua-basexx, lua-luaossl, lua-logging, lua-filesystem, lua-cjson, whois' },
  'yunohost-admin': { depends: 'yunohost (>= 12.0)' },
  'yunohost-portal': { depends: 'yunohost (>= 11.2)' },
} as const;

/** The stand-in's hooks/conf_regen/02-ssl: its init makes a CA and a default certificate with
 *  fresh keys, as the real one does (the real CA signs the certificate; not here). */
const SSL_HOOK = bash`#!/bin/bash
# STAND-IN of YunoHost's hooks/conf_regen/02-ssl (clic-image tests): "init" makes a local CA and
# the default certificate, with new keys, when there is none.
set -eu
[ "\${1:-}" = init ] || exit 0
certs=/etc/yunohost/certs/yunohost.org ssl=/usr/share/yunohost/ssl
[ ! -f "$certs/crt.pem" ] || exit 0
mkdir -p "$certs" "$ssl/ca" "$ssl/certs"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=yunohost.org/O=yunohost -keyout "$ssl/ca/cakey.pem" -out "$ssl/ca/cacert.pem" 2>/dev/null
cp "$ssl/ca/cacert.pem" "$certs/ca.pem"
openssl req -x509 -newkey rsa:2048 -nodes -days 730 -subj /CN=yunohost.org -keyout "$certs/key.pem" -out "$certs/crt.pem" 2>/dev/null
chmod 640 "$certs/key.pem"
`;

const standinOf = (what: string) => `STAND-IN for ${what}, for the clic-image tests (NOT YunoHost)`;

/** The stand-in's packages, with YunoHost 12's names and relations, for makeSignedAptRepo:
 *  yunohost (the stand-in command), moulinette, ssowat, yunohost-admin and yunohost-portal (empty). */
export function yunohostStandinPackages(): PackageSpec[] {
  const empty = (name: string, what: string, relations: Partial<PackageSpec> = {}): PackageSpec => ({
    name,
    version: YUNOHOST_STANDIN_VERSION,
    architecture: 'all',
    description: `${standinOf(what)} (empty)`,
    ...relations,
  });
  return [
    {
      name: 'yunohost',
      version: YUNOHOST_STANDIN_VERSION,
      architecture: 'all',
      description: [
        standinOf('YunoHost'),
        'Implements the few yunohost commands the kit\'s first boot uses',
        '(tools postinstall, app install, app list, app remove), offline,',
        'with the relations of the real yunohost 12.1 package.',
      ].join('\n'),
      ...YUNOHOST_12_RELATIONS.yunohost,
      files: {
        '/usr/bin/yunohost': { content: yunohostStandinScript(), mode: 0o755 },
        '/usr/share/yunohost/hooks/conf_regen/02-ssl': { content: SSL_HOOK, mode: 0o755 },
        '/usr/share/doc/yunohost/README.clic-standin': 'This is a STAND-IN for YunoHost made by the clic-image tests, not YunoHost.\n',
      },
      // the real one runs its configuration hooks' init and enables its services with systemctl,
      // which it does not depend on: configured before systemd, it fails (command not found)
      postinst: 'systemctl --version >/dev/null\nyunohost --standin-package-init',
    },
    empty('moulinette', "YunoHost's CLI and API framework", YUNOHOST_12_RELATIONS.moulinette),
    empty('ssowat', "YunoHost's single sign-on", YUNOHOST_12_RELATIONS.ssowat),
    empty('yunohost-admin', "YunoHost's web administration", YUNOHOST_12_RELATIONS['yunohost-admin']),
    empty('yunohost-portal', "YunoHost's user portal", YUNOHOST_12_RELATIONS['yunohost-portal']),
  ];
}
