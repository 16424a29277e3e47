/**
 * yunohost — YunoHost (the self-hosting platform the kit's apps run on), installed from its own
 * apt repository with the packages' questions answered in advance, and its postinstall done at
 * first boot, with no network.
 *
 * Build: the repository (`repository`: URL, suite, components, key, pinned fingerprint) takes
 * part in the image's one dependency resolution; the build refuses a key with another
 * fingerprint, and leaves the source (deb822, Signed-By its key in /etc/apt/keyrings) in the
 * image for later updates. Its packages install after Debian's (YunoHost 12's `yunohost` is
 * Essential and calls systemctl from its postinst: see bootstrap). YunoHost 12 conflicts with
 * the base layer's systemd-resolved and sudo (replaced), and needs python3-sdbus from
 * bookworm-backports. The debconf answers are those YunoHost's own installer gives (slapd,
 * postfix, nslcd, libnss-ldapd, postsrsd): its postinstall replaces the placeholder LDAP
 * password and domain. mmdebstrap and the layer chroot keep every service from starting. The
 * CA and certificate the package makes are removed (deviceSecrets) and made again on each kit
 * (clic-yunohost-ssl.service); the regen-conf hook 99-nginx_clic keeps nginx room for the
 * captive portal, so this layer comes before it.
 *
 * First boot (`clic-yunohost.service`, overlays/yunohost/usr/lib/clic/clic-yunohost): postinstall
 * from the settings file (yunohost_domain, yunohost_admin, yunohost_fullname, yunohost_password —
 * generated and shown once on the kit's console when empty), or left to YunoHost's web
 * postinstall (`yunohost_postinstall = web`); then, through YunoHost, DHCP through its
 * firewall and its mail and UPnP ports closed, SSH by key only, the admin SSH key for its admin user; then the apps the apps
 * layer staged, offline. The portal links to YunoHost's user portal.
 *
 *   # lab.yaml
 *   vars:
 *     yunohost: { domain: atelier.local, admin: formateur }
 */
import { defineLayer } from '../../builder/recipe/define.ts';

/** YunoHost's bookworm archive. The key is the one YunoHost's installer fetches; its
 *  fingerprint, "Yunohost .deb build system (bookworm)", is the one gpg reports for YunoHost's
 *  signed bookworm images (YunoHost/issues#2509) — not checked from this build machine, which
 *  cannot reach YunoHost's servers. */
export const YUNOHOST_REPOSITORY = {
  url: 'http://forge.yunohost.org/debian/',
  suite: 'bookworm',
  components: ['stable'],
  key: 'https://forge.yunohost.org/yunohost_bookworm.asc',
  fingerprint: 'E05E79061221D737567D38875D09F2273DAC3BD5',
};

/** A DNS name of at least two labels (the kit's YunoHost domain). */
const DOMAIN = '^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$';

export default defineLayer({
  name: 'yunohost',
  description: 'YunoHost from its signed apt repository; postinstall at first boot, offline',
  requires: ['firstboot', 'hotspot'],
  // rsyslog: YunoHost recommends it, and its fail2ban jails read /var/log/auth.log, mail.log and
  // fail2ban.log; without them fail2ban does not start, and every app install refuses to run.
  // gpg: its regen-conf's apt hook (10-apt) calls it, and fails without it.
  packages: ['yunohost', 'yunohost-admin', 'yunohost-portal', 'rsyslog', 'gpg'],
  // YunoHost 12 declares Conflicts: systemd-resolved (it brings resolvconf and its dnsmasq) and
  // depends on sudo-ldap, which conflicts with sudo (and provides it)
  replacesPackages: ['systemd-resolved', 'sudo'],
  // YunoHost 12 depends on python3-sdbus, which bookworm has in bookworm-backports only
  debianSuites: ['backports'],
  // the postinstall, and the apps installed at first boot with their data
  rootFreeMiB: 1536,
  // made by the package's configuration hooks when the image is built (its 02-ssl init): every
  // kit would share this CA and key; clic-yunohost-ssl.service makes the device's own
  deviceSecrets: [
    '/usr/share/yunohost/ssl/ca/*', '/usr/share/yunohost/ssl/certs/*', '/usr/share/yunohost/ssl/newcerts/*',
    '/usr/share/yunohost/ssl/serial*', '/usr/share/yunohost/ssl/index.txt*', '/usr/share/yunohost/ssl/.rnd',
    '/etc/yunohost/certs/yunohost.org/*', '/etc/ssl/certs/ca-yunohost_crt.pem', '/etc/ssl/certs/yunohost_crt.pem', '/etc/ssl/private/yunohost_key.pem',
  ],
  vars: {
    repository: { type: 'apt-source', default: YUNOHOST_REPOSITORY, description: "YunoHost's apt repository: url, suite, components, key (URL or file) and its pinned fingerprint" },
    domain: { type: 'string', default: 'clic.local', pattern: DOMAIN, description: "YunoHost's main domain (settings file key: yunohost_domain)" },
    admin: { type: 'string', default: 'clicadmin', pattern: '^[a-z][a-z0-9_]{1,31}$', description: "YunoHost's first admin user (settings file key: yunohost_admin)" },
    fullname: { type: 'string', default: 'CLIC Admin', pattern: "^(?=.{1,64}$)[\\p{L}\\p{N}]{1,30}([ ,.'-]{1,3}[\\p{L}\\p{N}]{1,30})*$", description: "the admin's full name (settings file key: yunohost_fullname)" },
    postinstall: {
      type: 'enum',
      values: ['auto', 'web'],
      default: 'auto',
      description: 'auto: first boot runs the postinstall from the settings file; web: left to YunoHost’s web postinstall (settings file key: yunohost_postinstall)',
    },
  },
  debconf: [
    'slapd slapd/password1 password yunohost',
    'slapd slapd/password2 password yunohost',
    'slapd slapd/domain string yunohost.org',
    'slapd shared/organization string yunohost.org',
    'slapd slapd/allow_ldap_v2 boolean false',
    'slapd slapd/invalid_config boolean true',
    'slapd slapd/backend select MDB',
    'postfix postfix/main_mailer_type select Internet Site',
    'postfix postfix/mailname string /etc/mailname',
    'nslcd nslcd/ldap-bindpw password',
    'nslcd nslcd/ldap-starttls boolean false',
    'nslcd nslcd/ldap-reqcert select',
    'nslcd nslcd/ldap-uris string ldap://localhost/',
    'nslcd nslcd/ldap-binddn string',
    'nslcd nslcd/ldap-base string dc=yunohost,dc=org',
    'libnss-ldapd libnss-ldapd/nsswitch multiselect group, passwd, shadow',
    'postsrsd postsrsd/domain string yunohost.org',
  ],
  services: [
    {
      id: 'yunohost',
      name: { en: 'Apps and accounts', fr: 'Applications et comptes' },
      description: { en: 'YunoHost’s user portal: the kit’s apps, your account', fr: 'Le portail YunoHost : les applications du kit, votre compte' },
      path: '/yunohost/sso/',
      icon: 'usr/share/clic/icons/yunohost.svg',
    },
  ],
  commands: [
    'mkdir -p /etc/clic/defaults.d /var/lib/clic',
    'printf "# Defaults of the yunohost layer, from the recipe (clic-image). No default password: empty means generated at first boot.\\nyunohost_domain = %s\\nyunohost_admin = %s\\nyunohost_fullname = %s\\nyunohost_password =\\nyunohost_postinstall = %s\\n" "$CLIC_DOMAIN" "$CLIC_ADMIN" "$CLIC_FULLNAME" "$CLIC_POSTINSTALL" > /etc/clic/defaults.d/yunohost.conf',
    // the regen-conf hook does to the nginx files YunoHost's package wrote what it does at every regen-conf
    '/etc/yunohost/hooks.d/conf_regen/99-nginx_clic image',
    'nginx -t -q',
    'systemctl enable clic-yunohost-ssl.service clic-yunohost.service clic-yunohost-apps.path',
  ],
});
