/**
 * The Odroid boards' prebuilt bootloaders, pinned by URL and sha256 (Debian ships none that
 * these boards boot as they are). Each file is downloaded once into the build cache and refused
 * if its sha256 differs. Sources and licences are listed in the README ("Boards").
 *
 * XU4: Hardkernel's boot chain from its u-boot repository, branch odroidxu4-v2017.05 at the
 * commit "ODROID-XU4: update U-boot binary" (2020-05-19), folder sd_fuse/, as its
 * sd_fusing.sh writes them: bl1 (Samsung, signed), bl2, u-boot 2017.05 (GPL-2.0+), tzsw
 * (TrustZone firmware, Samsung).
 */
import type { BlobSource } from '../../../builder/recipe/define.ts';
import type { ExynosBlobs } from './odroid.ts';

const XU4_COMMIT = '42ac93dcfbbb8a08c2bdc02e19f96eb35a81891a';
const xu4 = (file: string, sha256: string, licence: string): BlobSource => ({
  url: `https://raw.githubusercontent.com/hardkernel/u-boot/${XU4_COMMIT}/sd_fuse/${file}`,
  sha256,
  licence,
});
const SAMSUNG = 'proprietary (Samsung), redistributed by Hardkernel';

export const ODROID_XU4_BLOBS: ExynosBlobs = {
  bl1: xu4('bl1.bin.hardkernel', '7b940288acfcabd9388d59b785d1527b2d5ff9aaa36e63f970e054a9b695be31', SAMSUNG),
  bl2: xu4('bl2.bin.hardkernel.720k_uboot', 'd23504b1bdafbc63ad39fd89c23002f536658e1b4fe4516462dc261a9c8ca698', SAMSUNG),
  uboot: xu4('u-boot.bin.hardkernel', '70a70d09fabf27e424a687dfe0270e2efa451d046acfdd23941108d27d6f11bc', 'GPL-2.0+'),
  tzsw: xu4('tzsw.bin.hardkernel', 'dacbe8e367c13272477066f84f81d20fe47078154007ed1f2773722354639810', SAMSUNG),
};

/**
 * C4, N2/N2+, HC4: the boot ROM wants u-boot signed together with Amlogic's firmware (FIP), a
 * `u-boot.bin.sd.bin`; neither Debian nor Hardkernel publishes one ready to write. The practical
 * source is Armbian's `linux-u-boot-<board>-current` package (mainline u-boot with distro
 * boot), which could not be fetched from where these recipes were written to pin its sha256.
 * The package itself can be pinned, as it is: { url: <the .deb>, sha256: <the .deb's>, member:
 * <path of u-boot.bin in it, under usr/lib/linux-u-boot-current-<board>…/> }. Until then these
 * boards plan only with a board file of one's own, and their images stay out of the release set.
 */
const amlogic = (board: string): BlobSource => ({
  url: '',
  sha256: '',
  licence: 'GPL-2.0+ (u-boot); Amlogic firmware: proprietary, redistribution by permission',
  unpinned: `pin Armbian's linux-u-boot-${board}-current package in recipes/boards/shared/odroid-blobs.ts ({ url, sha256 of the .deb, member: the path of its u-boot.bin }), or add a board file of your own in recipes/boards/ with amlogicBoard({ …, uboot: { url, sha256 } })`,
});
export const ODROID_C4_UBOOT = amlogic('odroidc4');
export const ODROID_N2_UBOOT = amlogic('odroidn2');
export const ODROID_HC4_UBOOT = amlogic('odroidhc4');
