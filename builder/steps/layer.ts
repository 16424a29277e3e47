/**
 * layer:<name> — applies one layer to the root file system: copies its overlay folder
 * (`overlays/<name>/`; files become root's, modes are kept), writes the files its generator makes
 * from the plan (dated SOURCE_DATE_EPOCH), then runs its commands in the image (chroot in
 * a private namespace) with the layer's variables as CLIC_* environment variables.
 * Its packages were already installed by the bootstrap step.
 *
 * Options (from the plan's layer): overlay, commands, env.
 * Example: layer base with `hostname: clic` runs `echo "$CLIC_HOSTNAME" > /etc/hostname`.
 */
import { chmod, lstat, mkdir, realpath, utimes, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import type { GeneratedFiles } from '../recipe/define.ts';
import { layerGenerator, type PlannedLayer } from '../recipe/plan.ts';
import { sourceDate, type Step, type StepContext } from '../step.ts';
import { hashTree } from '../cache/keys.ts';
import { chrootArgv } from '../chroot.ts';

/** Writes generated files below rootfs: parent folders 0755, files 0644 unless a mode is given.
 *  Never through a symbolic link: an absolute link in the image points into the build host. */
export async function writeGenerated(rootfs: string, files: GeneratedFiles, epoch: number): Promise<void> {
  const root = await realpath(rootfs);
  for (const [path, spec] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    if (!isAbsolute(path) || normalize(path) !== path || path.endsWith('/')) throw new Error(`generated file "${path}": expected a normalized absolute path`);
    const { content, mode } = typeof spec === 'string' || spec instanceof Uint8Array ? { content: spec, mode: 0o644 } : spec;
    const file = join(root, path);
    await mkdir(dirname(file), { recursive: true, mode: 0o755 });
    const dir = await realpath(dirname(file));
    const link = await lstat(file).then((st) => st.isSymbolicLink(), () => false);
    if (link || (dir !== root && !dir.startsWith(root + '/'))) throw new Error(`generated file "${path}": refusing to write through a symbolic link`);
    await writeFile(file, content);
    await chmod(file, mode);
    await utimes(file, epoch, epoch);
  }
}

/** The plan's current version of a layer: the packages step may have dated the plan since. */
const current = (ctx: StepContext, layer: PlannedLayer) => ctx.plan.layers.find((l) => l.name === layer.name) ?? layer;

export function layerStep(planned: PlannedLayer): Step {
  return {
    name: `layer:${planned.name}`,
    // what the layer does: its overlay's content, the files it generates, its commands and their environment
    async cacheInputs(ctx) {
      const layer = current(ctx, planned);
      const generate = layerGenerator(layer);
      return {
        overlay: layer.overlay ? await hashTree(layer.overlay) : null,
        generated: generate ? await generate(ctx.plan, layer) : null,
        commands: layer.commands,
        env: layer.env,
        chroot: chrootArgv('<rootfs>', '<script>'),
        sourceDateEpoch: sourceDate(ctx),
      };
    },
    async run(ctx) {
      const layer = current(ctx, planned);
      if (layer.overlay) {
        await ctx.run(['cp', '--recursive', '--no-dereference', '--preserve=mode,links', '--no-target-directory', layer.overlay, ctx.rootfs]);
      }
      const generate = layerGenerator(layer);
      if (generate) await writeGenerated(ctx.rootfs, await generate(ctx.plan, layer), sourceDate(ctx));
      if (layer.commands.length) {
        await ctx.run(chrootArgv(ctx.rootfs, layer.commands.join('\n'), layer.env));
      }
    },
  };
}
