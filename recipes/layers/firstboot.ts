/**
 * firstboot — what makes each device its own, and the deployer's settings file.
 *
 * - `clic-firstboot.service` (once per device, early in its first boot, before the SSH server):
 *   checks the machine id systemd generated from the image's empty /etc/machine-id is on disk,
 *   makes the SSH host keys (the image ships none), grows the last partition (the root, or the
 *   content partition after it) to the end of the card or disk (sfdisk, MBR or GPT, on the
 *   mounted disk) and its ext4 file system (resize2fs, online). Each step checks what is already done and the done-marker
 *   (/var/lib/clic/firstboot.done) is written last: a power cut in the middle only means the
 *   next boot finishes the job. Logged to the journal and the console.
 * - `clic-settings.service` (every boot, after the FAT partition is mounted — without it, on the
 *   previous boot's settings —, before the network,
 *   hostapd, dnsmasq and nginx): merges the layers' defaults (/etc/clic/defaults.d/<layer>.conf)
 *   and `clic-settings.txt` from the FAT partition (`key = value`; CRLF, UTF-8 BOM and UTF-16
 *   accepted), checks each value (a bad one is logged and listed in
 *   /run/clic/settings-errors.json, and the previous or default value kept), writes
 *   /run/clic/settings.env (CLIC_HOSTNAME='…' …) and applies the host name and the admin SSH
 *   key (root's authorized_keys). The image ships the file with every setting commented out,
 *   explained in French and English. Keys: hostname, wifi_ssid, wifi_passphrase, wifi_country
 *   (checked against Debian's iso-codes list), wifi_channel, admin_ssh_key, language; and the
 *   yunohost_* keys and admin_password_hash when a layer's defaults file declares them (the
 *   yunohost and kit-admin layers). `clic-settings --check FILE` checks a file with the same
 *   rules and writes nothing (the kit admin page checks its changes so).
 *
 * The scripts are /usr/lib/clic/clic-firstboot and /usr/lib/clic/clic-settings (bash), in
 * overlays/firstboot/; the unit tests run them on the build host under a root-dir prefix.
 */
import { defineLayer } from '../../builder/recipe/define.ts';

/** One OpenSSH public key line (the key types OpenSSH 9 accepts by default), or nothing. */
const SSH_PUBLIC_KEY =
  '^$|^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\\.com|sk-ecdsa-sha2-nistp256@openssh\\.com) [A-Za-z0-9+/]+={0,3}( [ -~]*)?$';

export default defineLayer({
  name: 'firstboot',
  description: 'First boot: device identity, last partition grown, settings file from the FAT partition',
  requires: ['base'],
  // fdisk: sfdisk grows the partition; iso-codes: the list wifi_country is checked against
  packages: ['fdisk', 'iso-codes', 'openssh-client', 'e2fsprogs'],
  vars: {
    language: { type: 'enum', values: ['fr', 'en'], default: 'fr', description: 'default language of the portal (settings file key: language)' },
    adminSshKey: {
      type: 'string',
      default: '',
      pattern: SSH_PUBLIC_KEY,
      description: "default admin SSH public key, one OpenSSH line, for root's authorized_keys; empty: none (settings file key: admin_ssh_key)",
    },
  },
  commands: [
    '[ -n "$CLIC_BOOT_DIR" ] || { echo "board $CLIC_BOARD has no FAT partition for clic-settings.txt" >&2; exit 1; }',
    'mkdir -p /etc/clic/defaults.d /var/lib/clic',
    'printf "# Defaults of the firstboot layer, from the recipe (clic-image).\\nlanguage = %s\\nadmin_ssh_key = %s\\n" "$CLIC_LANGUAGE" "$CLIC_ADMIN_SSH_KEY" > /etc/clic/defaults.d/firstboot.conf',
    'mkdir -p /etc/systemd/system/clic-settings.service.d',
    // wanted, not required: a missing or damaged FAT partition leaves the kit on its previous settings
    'printf "# The board\'s FAT partition, where the deployer\'s clic-settings.txt lives (clic-image): wanted, not\\n# required, so that the kit still comes up without it.\\n[Unit]\\nWants=%s\\nAfter=%s\\n\\n[Service]\\nEnvironment=CLIC_BOOT_DIR=%s\\n" "$(systemd-escape --path --suffix=mount "$CLIC_BOOT_DIR")" "$(systemd-escape --path --suffix=mount "$CLIC_BOOT_DIR")" "$CLIC_BOOT_DIR" > /etc/systemd/system/clic-settings.service.d/boot-partition.conf',
    // CRLF line ends: the file is meant to be edited on any PC, Notepad included
    'sed "s/\\$/\\r/" /usr/share/clic/clic-settings.example.txt > "$CLIC_BOOT_DIR/clic-settings.txt"',
    'systemctl enable clic-firstboot.service clic-settings.service',
  ],
});
