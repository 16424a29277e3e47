/**
 * First boot of the YunoHost lab image with the network cut (QEMU with no network card at all),
 * against a STAND-IN of YunoHost (the image's `yunohost` package is the test's stand-in, see
 * test/support/yunohost-standin.ts: YunoHost's repository cannot be reached from here) — or,
 * with CLIC_TEST_YUNOHOST_REPO_URL set, the real YunoHost and real apps
 * (test/support/yunohost-real.ts). What is real either way: the image's first-boot script
 * (postinstall, offline apt, app installs, state, resume), the apps' packages, their verified
 * sources and their Debian dependencies (the test app's: qrencode and its library, from Debian),
 * installed with apt from the local repository the image carries.
 *
 *  1. Power cut: with the stand-ins, the first boot runs with `clictest.slowapp` on the kernel
 *     command line, which makes the test app's own install script wait; with real apps, the cut
 *     comes 20 s into the first app's install. Once the file system had time to commit, QEMU is
 *     killed.
 *  2. Next boot, on the same disk: a report script (from a read-only FAT test drive, through
 *     `systemd.run=`; nothing test-only in the image) starts clic-yunohost.service and waits for
 *     it, then prints what the test checks on the serial console and powers off.
 *
 * Console logs are kept next to the image (clic-yunohost-test.boot-<n>.console.log).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRegistry, type BoardDef } from '../../builder/index.ts';
import { startVm } from '../../builder/qemu.ts';
import { imagesDir } from '../support/images.ts';
import { EMIT, makeReportDrive, parseReport, REPORT_KERNEL_ARGS } from '../support/guest-report.ts';
import { ensureYunohostImage, GREETING, REAL_YUNOHOST, YUNOHOST_LAB, type YunohostLabInfo } from '../support/yunohost-image.ts';

const GUEST_SCRIPT = `#!/bin/sh
# clic-image boot test (test/boot/yunohost.test.ts): finishes the first boot, reports, powers off.
${EMIT}
emit net "$(ls /sys/class/net)"
emit start "$(systemctl start clic-yunohost.service 2>&1; echo "exit status $?")"
emit unit "$(systemctl show -p ActiveState -p Result clic-yunohost.service)"
emit journal "$(journalctl -b -o cat -u clic-yunohost.service)"
emit status "$(cat /var/lib/clic/apps/status.json)"
emit installed "$(cat /etc/yunohost/installed >/dev/null 2>&1 && echo yes; cat /etc/yunohost/current_host)"
domain=$(cat /etc/yunohost/current_host)
# each app: its state, and what its page answers on the kit's domain (path from its install answers)
for id in $(cat /var/lib/clic/apps/order); do
  emit "state-$id" "$(cat "/var/lib/clic/apps/$id/state")"
  path=$(tr '&' '\\n' <"/var/lib/clic/apps/$id/args" | sed -n 's/^path=//p' | sed 's/%2F/\\//g')
  emit "page-$id" "$(curl -sk -o /dev/null -w '%{http_code}' --resolve "$domain:443:127.0.0.1" "https://$domain\${path%/}/")"
  # its card's link on the CLIC portal (the kit's address): on to YunoHost's domain
  emit "portal-link-$id" "\${path%/}/ $(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1\${path%/}/")"
done
emit portal-apps "$(curl -s http://127.0.0.1/ | grep -o 'data-app="[^"]*"' | cut -d'"' -f2 | xargs)"
emit sso "$(curl -sk -o /dev/null -w '%{http_code}' --resolve "$domain:443:127.0.0.1" "https://$domain/yunohost/sso/")"
emit download-cache "$(find /var/cache/yunohost/download -type f 2>&1)"
emit qrencode "$(dpkg-query -W -f '\${Package} \${Version} \${Status}\\n' qrencode libqrencode4 2>&1)"
emit qrencode-runs "$(qrencode -t ASCII -o - clic 2>&1 | grep -c '#')"
emit greeting "$(cat /var/www/testapp/greeting.txt 2>&1)"
emit app-page "$(cat /var/www/testapp/index.html 2>&1)"
emit issue "$(cat /etc/issue.d/clic-yunohost.issue 2>&1)"
emit rerun "$(/usr/lib/clic/clic-yunohost 2>&1; echo "exit status $?")"
# the kit's own services after YunoHost's regen-conf (its postinstall's, then a forced one)
kit() {
  emit "$1-nginx" "$(nginx -t 2>&1 | tail -n 1; systemctl is-active nginx)"
  emit "$1-probe" "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: connectivitycheck.gstatic.com' http://127.0.0.1/generate_204)"
  emit "$1-portal" "$(curl -s -H 'Host: 10.42.0.1' http://127.0.0.1/ | grep -o '/yunohost/sso/' | head -n 1)"
  emit "$1-firewall" "$(nft list ruleset 2>&1 | grep -E 'dport|policy')"
  # (this boot stops short of multi-user.target: sshd is checked, not asked to run; -t wants /run/sshd)
  emit "$1-sshd" "$(grep -iE '^(PasswordAuthentication|PubkeyAuthentication) ' /etc/ssh/sshd_config; mkdir -p /run/sshd; sshd -t 2>&1; echo "sshd -t: $?")"
  # (not started in this boot: started here on YunoHost's regenerated configuration)
  emit "$1-dnsmasq" "$(systemctl restart dnsmasq 2>&1; systemctl is-active dnsmasq; ls /etc/dnsmasq.d)"
}
kit postinstall
emit regen "$(yunohost tools regen-conf --force 2>&1 | tail -n 2; echo "exit status $?")"
kit regen
emit certificate "$(openssl x509 -noout -subject -in /etc/yunohost/certs/yunohost.org/crt.pem 2>&1)"
echo CLIC-TEST-END >/dev/ttyS0
`;

let work: string;
let image: string;
let info: YunohostLabInfo;
let board: BoardDef;
let logDir: string;
const consoles: string[] = [];
let report: Record<string, string> = {};
// real YunoHost under TCG: its postinstall and real apps take far longer than the stand-in's
const BOOT_MS = REAL_YUNOHOST ? 2_400_000 : 1_200_000;
const first = () => info.apps[0].id;

beforeAll(async () => {
  ({ image, info } = await ensureYunohostImage());
  logDir = await imagesDir();
  board = (await loadRegistry()).boards.get('pc-x86_64')!;
  work = await mkdtemp(join(tmpdir(), 'clic-yunohost-boot-'));
  const drive = await makeReportDrive(work, GUEST_SCRIPT);
  const scratchDir = join(work, 'vm');

  // 1. first boot, cut in the middle of the first app's installation
  const vm = await startVm({ image, board, scratchDir, network: 'none', kernelArgs: info.real ? [] : ['clictest.slowapp'] });
  try {
    await vm.waitFor(info.real ? new RegExp(`clic-yunohost: app ${first()}: installing`) : /testapp install: waiting/, BOOT_MS);
    // ext4 commits every 5 s: what the first boot did before this point is on the disk
    await new Promise((r) => setTimeout(r, info.real ? 20_000 : 12_000));
  } finally {
    await vm.stop();
    consoles.push(vm.console);
    await writeFile(join(logDir, `${YUNOHOST_LAB}.boot-1.console.log`), vm.console);
  }

  // 2. the next boot on the same disk finishes the job
  const second = await startVm({
    image, board, scratchDir, network: 'none', reuseDisk: true, extraDrives: [drive],
    kernelArgs: REPORT_KERNEL_ARGS,
  });
  try {
    await second.waitFor(/^CLIC-TEST-END/, BOOT_MS);
  } finally {
    await second.stop();
    consoles.push(second.console);
    await writeFile(join(logDir, `${YUNOHOST_LAB}.boot-2.console.log`), second.console);
  }
  report = parseReport(consoles[1]);
}, 2 * BOOT_MS + 600_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe(`YunoHost ${REAL_YUNOHOST ? 'real' : 'STAND-IN'} lab image, network cut: first boot, power cut, next boot`, () => {
  it('first boot: postinstall, then the offline apt source, then the first app — until the power cut', () => {
    const lines = consoles[0].replace(/\r/g, '').split('\n').filter((l) => /clic-yunohost: |testapp install: /.test(l));
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const postinstall = at(/clic-yunohost: postinstall: done/);
    const apt = at(/clic-yunohost: offline apt/);
    const installing = at(new RegExp(`clic-yunohost: app ${first()}: installing`));
    expect(postinstall, lines.join('\n')).toBeGreaterThanOrEqual(0);
    expect(apt).toBeGreaterThan(postinstall);
    expect(installing).toBeGreaterThan(apt);
    if (!info.real) expect(at(/testapp install: waiting/)).toBeGreaterThan(installing);
    expect(consoles[0]).not.toMatch(/clic-yunohost: apps: \d+ installed/);
  });

  it('the machine has no network at all', () => {
    expect(report.net.trim().split(/\s+/)).toEqual(['lo']);
  });

  it('next boot: resumes the half-installed app and installs every app, with the service succeeding', () => {
    expect(report.unit).toMatch(/^ActiveState=active$/m);
    expect(report.unit).toMatch(/^Result=success$/m);
    expect(report.journal).toMatch(new RegExp(`app ${first()}: resuming`));
    for (const { id } of info.apps) {
      expect(report.journal).toMatch(new RegExp(`app ${id}: installed`));
      expect(report[`state-${id}`].trim(), id).toBe('installed');
    }
    expect(report.journal).toMatch(new RegExp(`clic-yunohost: apps: ${info.apps.length} installed, 0 failed`));
    const status = JSON.parse(report.status) as { postinstall: string; apps: { id: string; state: string }[] };
    expect(status.postinstall).toBe('done');
    expect(status.apps).toEqual(info.apps.map(({ id }) => expect.objectContaining({ id, state: 'installed' })));
    expect(report.installed.split('\n')[0]).toBe('yes');
    // YunoHost empties its download cache after an install; the staged copy stays for a reinstall
    expect(report['download-cache'].trim()).toMatch(/^$|No such file/);
  });

  it.runIf(!REAL_YUNOHOST)('STAND-IN test app: its Debian dependencies installed from the image, offline, and its answers', () => {
    for (const name of ['qrencode', 'libqrencode4']) expect(report.qrencode).toMatch(new RegExp(`^${name} \\S+ install ok installed$`, 'm'));
    // a QR code drawn: lines with dark modules
    expect(Number(report['qrencode-runs'].trim())).toBeGreaterThan(10);
    expect(report.greeting.trim()).toBe(GREETING);
    expect(report['app-page']).toContain('clic-testapp-source');
  });

  it.runIf(!!REAL_YUNOHOST)("real apps answer on the kit's domain, and so does YunoHost's user portal", () => {
    // 200 for a page open to visitors, 302 to YunoHost's login for one that is not (YunoHost
    // answers a path no app holds with a 302 too: only the visitors' 200 proves the app is there)
    for (const { id, args } of info.apps) expect(report[`page-${id}`], id).toBe(args.init_main_permission === 'visitors' ? '200' : '302');
    expect(report.sso).toBe('200');
  });

  it("each app has its card on the CLIC portal, whose link leads on to the app on YunoHost's domain", () => {
    const domain = report.installed.split('\n')[1].trim();
    expect(report['portal-apps'].trim().split(/\s+/)).toEqual(info.apps.map((a) => a.id));
    for (const { id } of info.apps) {
      // the path the app was installed at (its answers in the image), its link, where it leads
      const [path, code, location] = report[`portal-link-${id}`].trim().split(' ');
      expect(path, id).toMatch(/^\/[^/]+/);
      expect([code, location], id).toEqual(['302', `https://${domain}${path}`]);
    }
  });

  it('a generated admin password was shown on the console once, never written to the journal', () => {
    const shown = consoles[0].match(/password[^\n]*?: (\S{16,})/i)?.[1];
    expect(shown, 'password line on the first boot console').toBeTruthy();
    expect(report.journal).not.toContain(shown!);
    expect(report.issue).toContain(shown!);
  });

  it(`keeps the kit's services working after YunoHost's regen-conf, the postinstall's and a forced one${REAL_YUNOHOST ? '' : ' (STAND-IN regen effects)'}`, () => {
    expect(report.regen).toMatch(/exit status 0$/);
    for (const when of ['postinstall', 'regen']) {
      expect(report[`${when}-nginx`], when).toMatch(/test is successful\nactive$/);
      expect(report[`${when}-probe`], when).toMatch(/^302 http:\/\/10\.42\.0\.1\//);
      expect(report[`${when}-portal`].trim(), when).toBe('/yunohost/sso/');
      // YunoHost's firewall drops what it does not know: the hotspot's DHCP is let in; of what
      // it opens itself, only SSH, HTTP(S), DNS and mDNS are left (no mail, no UPnP)
      expect(report[`${when}-firewall`], when).toMatch(/policy drop/);
      const ports = (proto: string) => (new RegExp(`${proto} dport \\{([^}]*)\\}`).exec(report[`${when}-firewall`])?.[1] ?? '').split(',').map((p) => Number(p.trim())).sort((a, b) => a - b);
      expect(ports('tcp'), when).toEqual([22, 80, 443]);
      expect(ports('udp'), when).toEqual([53, 67, 5353]);
      expect(report[`${when}-sshd`], when).toMatch(/^PasswordAuthentication no$/m);
      expect(report[`${when}-sshd`], when).toMatch(/^PubkeyAuthentication yes$/m);
      expect(report[`${when}-sshd`], when).toMatch(/^sshd -t: 0$/m);
      expect(report[`${when}-dnsmasq`], when).toMatch(/^active\n/);
      expect(report[`${when}-dnsmasq`], when).toMatch(/^clic-hotspot$/m);
    }
    // made on this kit at its first boot: the image ships none
    expect(report.certificate).toMatch(/^subject=/);
  });

  it('running the script again changes nothing and calls no install', () => {
    expect(report.rerun).toMatch(/exit status 0$/);
    expect(report.rerun).not.toMatch(/app \S+: installing/);
  });
});
