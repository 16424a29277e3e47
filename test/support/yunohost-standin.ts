/**
 * A STAND-IN for YunoHost, as Debian packages for the tests' signed apt repository — this is NOT
 * YunoHost. YunoHost's repository cannot be reached from here, and the real thing would need a
 * full server to install; what the tests check is the kit's side of the contract: the image
 * trusts and installs the repository's `yunohost` package, and the first-boot script drives the
 * `yunohost` command the way the real one must be driven, offline.
 *
 *   const repo = await makeSignedAptRepo(dir, { packages: yunohostStandinPackages() });
 *   // packages `yunohost` (12.0.0~clictest1, all, /usr/bin/yunohost) and `yunohost-admin` (empty, Depends: yunohost)
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
 *  - `yunohost app install SRC --args 'k=v&k2=v2' [--force]`: needs the postinstall. Like the real
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
 *  - Anything else: "Error: …" and exit 1.
 *
 * Not implemented (stand-in): resources other than install_dir (no system user, no apt — the
 * test app installs its Debian packages itself —, no source download, no permissions, no nginx),
 * multi-instance, archives and git URLs as SRC, other catalogs than `default`, LDAP users.
 * `YNH_STANDIN_ROOT` (default empty) is put before every absolute path the script uses, so that
 * tests run it on the host under a temporary root (SRC itself is taken as given).
 */
import type { PackageSpec } from './apt-repo.ts';

export const YUNOHOST_STANDIN_VERSION = '12.0.0~clictest1';

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
  info "User created: $username"
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

# global options of the real CLI that change nothing here
declare -a argv=()
for a in "$@"; do
  case "$a" in --debug|--quiet|--no-color) ;; *) argv+=("$a") ;; esac
done
set -- "\${argv[@]}"

case "\${1:-} \${2:-}" in
  "tools postinstall") shift 2; tools_postinstall "$@" ;;
  "app install") shift 2; app_install "$@" ;;
  "app list") shift 2; app_list "$@" ;;
  "app remove") shift 2; app_remove "$@" ;;
  *) die "STAND-IN of YunoHost: 'yunohost $*' is not implemented (only: tools postinstall, app install, app list, app remove)" ;;
esac
`;
}

/** The packages `yunohost` and `yunohost-admin` of the stand-in, for makeSignedAptRepo. */
export function yunohostStandinPackages(): PackageSpec[] {
  return [
    {
      name: 'yunohost',
      version: YUNOHOST_STANDIN_VERSION,
      architecture: 'all',
      description: [
        'STAND-IN for YunoHost, for the clic-image tests (NOT YunoHost)',
        'Implements the few yunohost commands the kit\'s first boot uses',
        '(tools postinstall, app install, app list, app remove), offline.',
      ].join('\n'),
      files: {
        '/usr/bin/yunohost': { content: yunohostStandinScript(), mode: 0o755 },
        '/usr/share/doc/yunohost/README.clic-standin': 'This is a STAND-IN for YunoHost made by the clic-image tests, not YunoHost.\n',
      },
    },
    {
      name: 'yunohost-admin',
      version: YUNOHOST_STANDIN_VERSION,
      architecture: 'all',
      description: 'STAND-IN for YunoHost\'s web administration, for the clic-image tests (empty)',
      depends: 'yunohost',
    },
  ];
}
