/**
 * The packages step's pure parts: apt's simulated installation read into exact versions, the
 * suite's date, a pinned list read and compared; and the debugfs commands that date every inode.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSimulation, pinDifferences, readPackageList, releaseDate, withExtraSuites } from '../../builder/steps/packages.ts';
import { datingCommands } from '../../builder/steps/filesystems.ts';

const SIMULATION = `I: running apt-get update...
Inst gcc-12-base (12.2.0-14+deb12u1 Debian:12.15/oldstable [arm64])
Inst libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [arm64]) []
Conf libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [arm64])
Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u2 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [all])
Inst libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [arm64])
`;

describe('parseSimulation', () => {
  it('reads every Inst line as name=version:arch, once, sorted; upgrades give the new version', () => {
    expect(parseSimulation(SIMULATION)).toEqual(['gcc-12-base=12.2.0-14+deb12u1:arm64', 'libc6=2.36-9+deb12u14:arm64', 'tzdata=2025b-0+deb12u2:all']);
    expect(parseSimulation('E: nothing\n')).toEqual([]);
  });
});

describe('withExtraSuites', () => {
  const DEFAULT = 'deb http://mirror.invalid/debian bookworm main non-free-firmware\ndeb http://mirror.invalid/debian bookworm-updates main non-free-firmware\n' +
    'deb http://security.invalid/debian-security bookworm-security main non-free-firmware\n';
  it("adds each extra suite from the mirror of the suite's own line, after mmdebstrap's lines", () => {
    expect(withExtraSuites(DEFAULT, 'bookworm', ['bookworm-backports'])).toEqual([
      'deb http://mirror.invalid/debian bookworm main non-free-firmware',
      'deb http://mirror.invalid/debian bookworm-updates main non-free-firmware',
      'deb http://security.invalid/debian-security bookworm-security main non-free-firmware',
      'deb http://mirror.invalid/debian bookworm-backports main non-free-firmware',
    ]);
  });
  it('keeps the options of the line and adds no suite twice', () => {
    expect(withExtraSuites('deb [signed-by=/k.gpg] http://snap.invalid/archive/debian/20260101T000000Z/ bookworm main\n', 'bookworm', ['bookworm-updates']))
      .toEqual(['deb [signed-by=/k.gpg] http://snap.invalid/archive/debian/20260101T000000Z/ bookworm main', 'deb [signed-by=/k.gpg] http://snap.invalid/archive/debian/20260101T000000Z/ bookworm-updates main']);
    expect(withExtraSuites(DEFAULT, 'bookworm', ['bookworm-updates'])).toHaveLength(3);
  });
  it('fails when mmdebstrap wrote no line of the suite', () => {
    expect(() => withExtraSuites('deb http://m.invalid/debian trixie main\n', 'bookworm', ['bookworm-backports'])).toThrow(/no line of that suite/);
  });
});

describe('releaseDate', () => {
  it('is the Date: field of a Release file, in seconds', () => {
    expect(releaseDate('Origin: Debian\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nSuite: oldstable\n')).toBe(Date.UTC(2026, 6, 11, 10, 16, 37) / 1000);
    expect(releaseDate('Origin: Debian\n')).toBeNull();
  });
});

describe('pinned package lists', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clic-pin-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('name each package whose version differs, that is gone, or that is new', () => {
    const pinned = ['a=1:arm64', 'b=2:arm64', 'c=3:all'];
    expect(pinDifferences(pinned, pinned)).toEqual([]);
    expect(pinDifferences(pinned, ['a=1:arm64', 'b=2.1:arm64', 'd=4:arm64'])).toEqual([
      'b: pinned 2:arm64, resolved 2.1:arm64',
      'c: pinned 3:all, no longer installed',
      'd: resolved 4:arm64, not in the pinned list',
    ]);
  });

  it('are read from an <image>.packages file, comments skipped; a bad line is named by file and line', async () => {
    const file = join(dir, 'clic-rpi4.packages');
    await writeFile(file, '# Exact package set\nlibc6=2.36-9+deb12u14:arm64\n\nbase-files=12.4+deb12u15:arm64\n');
    expect(await readPackageList(file)).toEqual(['base-files=12.4+deb12u15:arm64', 'libc6=2.36-9+deb12u14:arm64']);
    await writeFile(file, '# x\nlibc6 2.36\n');
    await expect(readPackageList(file)).rejects.toThrow(`${file}:2: "libc6 2.36": expected name=version:arch`);
    await expect(readPackageList(join(dir, 'missing'))).rejects.toThrow(/missing: cannot read the pinned package list \(ENOENT\)/);
    await writeFile(file, '# only comments\n');
    await expect(readPackageList(file)).rejects.toThrow(/no package/);
  });
});

describe('datingCommands', () => {
  it('set the access and change time of every path, quotes doubled as debugfs reads them', () => {
    expect(datingCommands(['/', '/a b', '/q"x', '/back\\slash'], 42)).toBe(
      'sif "/" atime @42\nsif "/" ctime @42\nsif "/a b" atime @42\nsif "/a b" ctime @42\n' +
        'sif "/q""x" atime @42\nsif "/q""x" ctime @42\nsif "/back\\slash" atime @42\nsif "/back\\slash" ctime @42\n',
    );
    expect(() => datingCommands(['/a\nb'], 1)).toThrow(/line break/);
  });
});
