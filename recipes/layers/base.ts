/**
 * base — the minimal Debian system every CLIC image starts from: systemd, udev, networking on
 * every wired interface (systemd-networkd, DHCP), DNS (systemd-resolved, unless a later layer
 * replaces it: YunoHost's own resolver is dnsmasq behind resolvconf), an SSH server that
 * takes keys only (no password logins; its host keys are made on each device's first boot by
 * the firstboot layer: the image ships none), locales, time zone, host name. The host name is
 * also the default of the settings file's `hostname` (/etc/clic/defaults.d/base.conf).
 * apt sources point at Debian (written by mmdebstrap from the mirror used). A kit with no cable
 * comes up without waiting: systemd-networkd-wait-online gives up after 20 s, without failing.
 * The resolver listens on the kit only (no LLMNR or multicast DNS on the hotspot).
 */
import { defineLayer } from '../../builder/recipe/define.ts';

export default defineLayer({
  name: 'base',
  description: 'Debian base: systemd, wired networking, SSH server, locales',
  packages: [
    'systemd-sysv', 'udev', 'kmod', 'dbus', 'initramfs-tools', 'zstd', 'e2fsprogs', 'dosfstools',
    'systemd-resolved', 'iproute2', 'openssh-server', 'locales', 'ca-certificates', 'sudo',
  ],
  vars: {
    hostname: { type: 'string', default: 'clic', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', description: 'host name of the kit' },
    locales: { type: 'list', default: ['en_US.UTF-8', 'fr_FR.UTF-8'], itemPattern: '^[a-z]{2,3}_[A-Z]{2}\\.UTF-8$', description: 'locales generated in the image' },
    defaultLocale: { type: 'string', default: 'en_US.UTF-8', pattern: '^[a-z]{2,3}_[A-Z]{2}\\.UTF-8$', description: 'LANG of the system' },
    timezone: { type: 'string', default: 'UTC', pattern: '^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$', description: 'time zone (tz database name)' },
  },
  commands: [
    'echo "$CLIC_HOSTNAME" > /etc/hostname',
    'printf "127.0.0.1\\tlocalhost\\n127.0.1.1\\t%s\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n" "$CLIC_HOSTNAME" > /etc/hosts',
    'for l in $CLIC_LOCALES; do grep -q "^# *$l " /etc/locale.gen || { echo "unknown locale $l" >&2; exit 1; }; sed -i "s/^# *\\($l .*\\)/\\1/" /etc/locale.gen; done',
    'locale-gen',
    'update-locale LANG="$CLIC_DEFAULT_LOCALE"',
    '[ -e "/usr/share/zoneinfo/$CLIC_TIMEZONE" ] || { echo "unknown time zone $CLIC_TIMEZONE" >&2; exit 1; }',
    'ln -sf "/usr/share/zoneinfo/$CLIC_TIMEZONE" /etc/localtime && echo "$CLIC_TIMEZONE" > /etc/timezone',
    'mkdir -p /etc/clic/defaults.d && printf "# Defaults of the base layer, from the recipe (clic-image).\\nhostname = %s\\n" "$CLIC_HOSTNAME" > /etc/clic/defaults.d/base.conf',
    'systemctl enable systemd-networkd.service',
    // a later layer may leave it out (yunohost: Conflicts: systemd-resolved; resolvconf then)
    '[ ! -e /usr/lib/systemd/system/systemd-resolved.service ] || systemctl enable systemd-resolved.service',
  ],
});
