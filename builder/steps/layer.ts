/**
 * layer:<name> — applies one layer to the root file system: copies its overlay folder
 * (`overlays/<name>/`; files become root's, modes are kept), then runs its commands in the image (chroot in
 * a private namespace) with the layer's variables as CLIC_* environment variables.
 * Its packages were already installed by the bootstrap step.
 *
 * Options (from the plan's layer): overlay, commands, env.
 * Example: layer base with `hostname: clic` runs `echo "$CLIC_HOSTNAME" > /etc/hostname`.
 */
import type { PlannedLayer } from '../recipe/plan.ts';
import type { Step } from '../step.ts';
import { chrootArgv } from '../chroot.ts';

export function layerStep(layer: PlannedLayer): Step {
  return {
    name: `layer:${layer.name}`,
    async run(ctx) {
      if (layer.overlay) {
        await ctx.run(['cp', '--recursive', '--no-dereference', '--preserve=mode,links', '--no-target-directory', layer.overlay, ctx.rootfs]);
      }
      if (layer.commands.length) {
        await ctx.run(chrootArgv(ctx.rootfs, layer.commands.join('\n'), layer.env));
      }
    },
  };
}
