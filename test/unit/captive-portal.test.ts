/**
 * The captive portal: the probe map covers the five OS families, nginx sends every probe and
 * every foreign host name to the portal with a 302 (never the "online" answer), and dnsmasq
 * answers every name with the kit's address (checked with the host's dnsmasq: the other record
 * types get an empty answer) and nginx hides its version.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captiveFiles, captiveNginx, onlineAnswer } from '../../builder/portal/captive.ts';
import { PROBES, probeHosts } from '../../builder/portal/probes.ts';
import { portalNginx } from '../../builder/portal/pages.ts';
import { planOf } from '../support/plans.ts';

describe('probe map', () => {
  it('covers Android, Apple, Windows, Firefox and NetworkManager with the URLs of DESIGN.md §5', () => {
    expect(new Set(PROBES.map((p) => p.os))).toEqual(new Set(['Android', 'Apple', 'Windows', 'Firefox', 'NetworkManager']));
    const urls = PROBES.map((p) => p.url);
    for (const url of [
      'http://connectivitycheck.gstatic.com/generate_204',
      'http://www.google.com/gen_204',
      'http://clients3.google.com/generate_204',
      'http://captive.apple.com/hotspot-detect.html',
      'http://www.msftconnecttest.com/connecttest.txt',
      'http://www.msftncsi.com/ncsi.txt',
      'http://detectportal.firefox.com/canonical.html',
      'http://nmcheck.gnome.org/check_network_status.txt',
    ]) expect(urls).toContain(url);
    for (const p of PROBES) {
      expect(p.url).toBe(`http://${p.host}${p.path}`);
      expect([200, 204]).toContain(p.online.status);
      if (p.online.status === 200) expect(p.online.body, p.url).toBeTruthy();
    }
  });
});

describe('captive-portal files', () => {
  const nginx = captiveNginx('10.42.0.1');
  const servers = nginx.split(/^server \{$/m).slice(1);

  it('nginx: a server for the probe hosts and a default server; every answer a never-cached 302 to the portal, but a probe of a client that pressed Continue', () => {
    expect(servers).toHaveLength(2);
    const [probes, fallback] = servers;
    expect(probes).toMatch(new RegExp(`server_name ${probeHosts().join(' ').replace(/\./g, '\\.')};`));
    expect(fallback).toMatch(/listen 80 default_server;/);
    for (const s of servers) {
      // outside the "passed" branches, only the redirect
      const unconditional = s.replace(/if \(\$clic_passed\) \{[^}]*\}/g, '');
      expect([...new Set([...unconditional.matchAll(/return (\d+) (\S+);/g)].map((m) => `${m[1]} ${m[2]}`))]).toEqual(['302 http://10.42.0.1/']);
      expect(s).toMatch(/add_header Cache-Control "no-store" always;/);
    }
    expect(fallback).not.toMatch(/clic_passed/);
    // each probe path: its OS's "online" answer, for passed clients only
    for (const p of PROBES) {
      const location = new RegExp(`location = ${p.path.replace(/\./g, '\\.')} \\{\\n {8}default_type \\S+;\\n {8}if \\(\\$clic_passed\\) \\{ return ${p.online.status}[ ;]`);
      expect(probes, p.url).toMatch(location);
      const answer = onlineAnswer(p);
      if (p.online.body) expect(answer.body, p.url).toContain(p.online.body);
    }
    expect(nginx).toMatch(/^map \$remote_addr \$clic_passed \{\n {4}default 0;\n {4}include \/run\/clic\/captive\/passed-clients\*\.conf;\n\}$/m);
  });

  it('the portal’s Continue is logged for captive-pass, then back to the portal saying so', () => {
    const files = captiveFiles('10.42.0.1', 12);
    expect(files['/etc/nginx/clic-services/captive-continue.conf']).toMatch(/location = \/clic\/continue \{\n {4}access_log \/var\/log\/nginx\/clic-continue\.log clic_continue;[\s\S]*return 303 \/\?connected;/);
    expect(nginx).toMatch(/^log_format clic_continue '\$msec \$remote_addr';$/m);
    expect(files['/etc/clic/captive.env']).toMatch(/^CLIC_CAPTIVE_PASS_HOURS=12$/m);
  });

  it('nginx: a server_names hash bucket large enough for the longest probe host name', () => {
    const size = Number(/^server_names_hash_bucket_size (\d+);$/m.exec(nginx)?.[1]);
    expect(size).toBeGreaterThanOrEqual(2 * Math.max(...probeHosts().map((h) => h.length)));
    expect(nginx.match(/server_names_hash_bucket_size/g)).toHaveLength(1);
  });

  it('dnsmasq: every name is the kit, nothing forwarded, /etc/hosts not used; file names without a dot', () => {
    const files = captiveFiles('10.42.0.1', 12);
    const dnsmasq = String(files['/etc/dnsmasq.d/clic-captive-portal']);
    expect(dnsmasq).toMatch(/^address=\/#\/10\.42\.0\.1$/m);
    expect(dnsmasq).toMatch(/^no-resolv$/m);
    expect(dnsmasq).toMatch(/^no-hosts$/m);
    for (const path of Object.keys(files).filter((p) => p.startsWith('/etc/dnsmasq.d/'))) expect(path.split('/').pop()).not.toContain('.');
  });

  it('dnsmasq itself, with that file: A is the kit, AAAA and the other types get an empty answer, never REFUSED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clic-captive-dns-'));
    const conf = join(dir, 'clic-captive-portal');
    writeFileSync(conf, String(captiveFiles('10.42.0.1', 12)['/etc/dnsmasq.d/clic-captive-portal']));
    const port = 20000 + (process.pid % 20000);
    const dnsmasq = spawn('dnsmasq', ['--no-daemon', `--conf-file=${conf}`, '--listen-address=127.0.0.1', '--bind-interfaces', `--port=${port}`, '--user=root', '--pid-file='], { stdio: 'ignore' });
    try {
      const resolver = new Resolver({ timeout: 2000, tries: 3 });
      resolver.setServers([`127.0.0.1:${port}`]);
      // until dnsmasq listens (a closed port answers "refused" at once), 10 s at most
      let a: string[] | null = null;
      for (let i = 0; i < 100 && !a; i++) a = await resolver.resolve4('connectivitycheck.gstatic.com').catch(() => new Promise<null>((r) => setTimeout(() => r(null), 100)));
      expect(a).toEqual(['10.42.0.1']);
      for (const type of ['AAAA', 'MX', 'TXT'] as const) {
        const err = await resolver.resolve('www.example.org', type).then(() => null, (e: NodeJS.ErrnoException) => e.code);
        expect(err, type).toBe('ENODATA');
      }
    } finally {
      dnsmasq.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('nginx does not tell its version, in each of its servers (not in the http block: YunoHost sets it there, and nginx refuses it twice)', () => {
    for (const server of servers) expect(server).toMatch(/^ {4}server_tokens off;$/m);
    expect(nginx).not.toMatch(/^server_tokens/m);
    expect(portalNginx('10.42.0.1', 'fr')).toMatch(/^ {4}server_tokens off;$/m);
  });

  it('the shipped images redirect to the hotspot address of their recipe', async () => {
    const plan = await planOf('clic-pc-x86_64');
    const address = plan.layers.find((l) => l.name === 'hotspot')!.vars.address;
    expect(plan.layers.find((l) => l.name === 'captive-portal')!.generates).toBe(true);
    expect(captiveNginx(String(address))).toContain(`return 302 http://${address}/;`);
  });
});
