/**
 * Reads the errors an invalid fixture must produce from its `# expect:` comments.
 *
 *   # expect: 5 /vars/base/hostname: expected string
 *   → { line: 5, path: '/vars/base/hostname', text: 'expected string' }
 *
 * `-` stands for "no line", `(file)` for the empty path (the whole file).
 */
import { readFileSync } from 'node:fs';

export interface ExpectedProblem {
  line: number | undefined;
  path: string;
  text: string;
}

const EXPECT = /^#\s*expect:\s*(\d+|-)\s+(\S+?):\s+(.+)$/;

export function expectedProblems(file: string): ExpectedProblem[] {
  const out: ExpectedProblem[] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    if (!/^#\s*expect:/.test(raw)) continue;
    const m = EXPECT.exec(raw.trimEnd());
    if (!m) throw new Error(`${file}: malformed expect comment: ${raw}`);
    out.push({ line: m[1] === '-' ? undefined : Number(m[1]), path: m[2] === '(file)' ? '' : m[2], text: m[3] });
  }
  return out;
}
