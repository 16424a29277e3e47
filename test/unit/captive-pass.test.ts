/**
 * The captive portal's "Continue", on the build host: overlays/captive-portal/usr/lib/clic/
 * captive-pass and captive-event run under a root-dir prefix (CLIC_ROOT) with dnsmasq's lease
 * file, nginx's log of presses, and stand-in `systemctl` and `ip` commands that record their
 * calls. Asserts on what nginx reads (/run/clic/captive/passed-clients.conf) and what is said.
 */
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { captiveFiles } from '../../builder/portal/captive.ts';
import { writeGenerated } from '../../builder/steps/layer.ts';
import { ROOT } from './helpers/paths.ts';

const exec = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'clic-captive-pass-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let roots = 0;

const PHONE = { mac: '02:00:00:00:01:00', ip: '10.42.0.23' };
const LAPTOP = { mac: '02:00:00:00:02:00', ip: '10.42.0.57' };
const T0 = 1_800_000_000;

async function kit() {
  const root = join(scratch, `root-${++roots}`);
  cpSync(join(ROOT, 'overlays/captive-portal'), root, { recursive: true });
  await writeGenerated(root, captiveFiles('10.42.0.1', 12), 0);
  mkdirSync(join(root, 'var/lib/misc'), { recursive: true });
  mkdirSync(join(root, 'var/log/nginx'), { recursive: true });
  const bin = join(root, 'test-bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "systemctl $*" >> "${root}/calls"\n`);
  // the neighbour table knows the laptop only
  writeFileSync(join(bin, 'ip'), `#!/bin/sh\n[ "$3" = "${LAPTOP.ip}" ] && echo "${LAPTOP.ip} dev wlan0 lladdr ${LAPTOP.mac.toUpperCase()} REACHABLE"\nexit 0\n`);
  for (const f of ['systemctl', 'ip']) chmodSync(join(bin, f), 0o755);
  const leases = (entries: { mac: string; ip: string }[]) =>
    writeFileSync(join(root, 'var/lib/misc/dnsmasq.leases'), entries.map((e) => `${T0 + 43200} ${e.mac} ${e.ip} phone 01:${e.mac}\n`).join(''));
  const env = (now: number) => ({ PATH: `${bin}:/usr/bin:/bin`, CLIC_ROOT: root, CLIC_NOW: String(now) });
  return {
    root,
    leases,
    press: (ip: string, at: number) => appendFileSync(join(root, 'var/log/nginx/clic-continue.log'), `${at}.123 ${ip}\n`),
    pass: async (now: number) => (await exec('/bin/bash', [join(root, 'usr/lib/clic/captive-pass')], { env: env(now) })).stdout,
    joined: async (mac: string, now: number) => (await exec('/bin/sh', [join(root, 'usr/lib/clic/captive-event'), 'wlan0', 'AP-STA-CONNECTED', mac], { env: env(now) })).stdout,
    clients: () => readFileSync(join(root, 'run/clic/captive/passed-clients.conf'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')),
    reloads: () => (existsSync(join(root, 'calls')) ? readFileSync(join(root, 'calls'), 'utf8').split('\n').filter((l) => l === 'systemctl reload nginx.service').length : 0),
  };
}

describe('captive-pass', () => {
  it('marks the client that pressed Continue by its MAC, lists its address for nginx, and reloads nginx only on change', async () => {
    const k = await kit();
    k.leases([PHONE, LAPTOP]);
    expect(await k.pass(T0)).toBe('');
    expect(k.clients()).toEqual([]);
    k.press(PHONE.ip, T0 + 10);
    expect(await k.pass(T0 + 11)).toBe(`client ${PHONE.mac} (${PHONE.ip}) pressed Continue: its probes are answered online for 12 h\n`);
    expect(k.clients()).toEqual([`${PHONE.ip} 1;`]);
    const reloads = k.reloads();
    expect(reloads).toBeGreaterThanOrEqual(1);
    // nothing new: nothing said, no reload
    expect(await k.pass(T0 + 60)).toBe('');
    expect(k.reloads()).toBe(reloads);
    // the phone gets another address: the list follows its MAC
    k.leases([{ ...PHONE, ip: '10.42.0.99' }, LAPTOP]);
    await k.pass(T0 + 70);
    expect(k.clients()).toEqual(['10.42.0.99 1;']);
    expect(k.reloads()).toBe(reloads + 1);
  });

  it('takes the MAC from the neighbour table without a lease; without either, marks nothing', async () => {
    const k = await kit();
    k.leases([]);
    k.press(LAPTOP.ip, T0);
    k.press('10.42.0.200', T0);
    const said = await k.pass(T0 + 1);
    expect(said).toContain(`client ${LAPTOP.mac} (${LAPTOP.ip}) pressed Continue`);
    expect(said).toContain('10.42.0.200 pressed Continue, but neither a DHCP lease nor the neighbour table gives its MAC address: not marked');
    // no lease: no current address to list either
    expect(k.clients()).toEqual([]);
    k.leases([LAPTOP]);
    await k.pass(T0 + 2);
    expect(k.clients()).toEqual([`${LAPTOP.ip} 1;`]);
  });

  it('ends the mark after passHours, and when the client joins the wifi again; others keep theirs', async () => {
    const k = await kit();
    k.leases([PHONE, LAPTOP]);
    k.press(PHONE.ip, T0);
    k.press(LAPTOP.ip, T0 + 3600);
    await k.pass(T0 + 3601);
    expect(k.clients().sort()).toEqual([`${PHONE.ip} 1;`, `${LAPTOP.ip} 1;`]);
    expect(await k.pass(T0 + 12 * 3600)).toBe(`client ${PHONE.mac}: its mark expired (12 h): its next probe shows the portal again\n`);
    expect(k.clients()).toEqual([`${LAPTOP.ip} 1;`]);
    // the laptop joins again (hostapd's event, after its press)
    const said = await k.joined(LAPTOP.mac.toUpperCase(), T0 + 5 * 3600);
    expect(said).toContain(`client ${LAPTOP.mac} joined the wifi again`);
    expect(k.clients()).toEqual([]);
  });

  it('after a reboot (/run emptied), the presses of the boots before are not read again', async () => {
    const k = await kit();
    k.leases([PHONE]);
    k.press(PHONE.ip, T0);
    await k.pass(T0 + 1);
    rmSync(join(k.root, 'run'), { recursive: true });
    expect(await k.pass(T0 + 600)).toBe('');
    expect(k.clients()).toEqual([]);
  });

  it('ignores log lines that are not a time and an address (nothing reaches nginx but addresses)', async () => {
    const k = await kit();
    k.leases([PHONE]);
    appendFileSync(join(k.root, 'var/log/nginx/clic-continue.log'), `${T0} 10.42.0.23;include /etc/passwd\n${T0} "; }\ngarbage\n`);
    expect(await k.pass(T0 + 1)).toBe('');
    expect(k.clients()).toEqual([]);
  });

  it('captive-event ignores other events and malformed addresses', async () => {
    const k = await kit();
    await exec('/bin/sh', [join(k.root, 'usr/lib/clic/captive-event'), 'wlan0', 'AP-STA-DISCONNECTED', PHONE.mac], { env: { CLIC_ROOT: k.root, PATH: '/usr/bin:/bin' } });
    await exec('/bin/sh', [join(k.root, 'usr/lib/clic/captive-event'), 'wlan0', 'AP-STA-CONNECTED', 'not-a-mac'], { env: { CLIC_ROOT: k.root, PATH: '/usr/bin:/bin' } });
    expect(existsSync(join(k.root, 'run/clic/captive/joined'))).toBe(false);
  });
});
