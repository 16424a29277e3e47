/**
 * The download page of a release (`index.html`): one section per image (`id` and `data-image`
 * are the image's name) with its description, board, sizes, build date, the sha256 of the
 * download, links to every file, and how to write it to a card or drive (Raspberry Pi Imager for
 * Pi images, bmaptool, dd) and check it (sha256sum, gpg or minisign). It loads nothing: the
 * style is inline, the icon a data: URI, there is no script and no web font, so it works as well
 * from a USB stick as from a web server, and keeps nobody's address in a third party's logs.
 * Every text from a manifest is escaped; links are relative.
 *
 * Options: title, imagerRepository (URL of os_list_clic.json, when written), signatures (the
 * files signing SHA256SUMS).
 *
 *   const html = renderReleasePage(images, { title: 'CLIC images', imagerRepository: null, signatures: [] });
 */
import { formatBytes } from '../download/types.ts';
import type { ReleaseImage } from './index.ts';
import { clicIconPng } from './pi-imager.ts';
import { SUMS } from './sums.ts';
import { escapeHtml } from '../portal/pages.ts';

export interface PageOptions {
  title: string;
  imagerRepository: string | null;
  signatures: string[];
}


/** Relative link to a file of the folder; names are plain (checked with the manifest). */
const link = (file: string, text = file) => `<a href="${escapeHtml(encodeURIComponent(file))}">${escapeHtml(text)}</a>`;
const code = (text: string) => `<code>${escapeHtml(text)}</code>`;
const shell = (text: string) => `<pre><code>${escapeHtml(text)}</code></pre>`;
const utc = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

function describeFile(image: ReleaseImage, file: string): string {
  if (file === image.manifest) return 'build manifest: packages, downloads, partitions (JSON)';
  if (file.endsWith('.img')) return 'raw disk image';
  if (file.endsWith('.img.xz')) return 'disk image, xz-compressed';
  if (file.endsWith('.img.zst')) return 'disk image, zstd-compressed';
  if (file.endsWith('.bmap')) return 'block map, for bmaptool';
  if (file.endsWith('.packages')) return 'installed packages, name=version:arch';
  if (file.endsWith('.sha256')) return 'sha256 of the raw image';
  return '';
}

/** The command that writes the image to /dev/sdX from the download. */
function ddCommand(download: string): string {
  const dd = 'sudo dd of=/dev/sdX bs=4M conv=fsync status=progress';
  if (download.endsWith('.xz')) return `xzcat ${download} | ${dd}`;
  if (download.endsWith('.zst')) return `zstdcat ${download} | ${dd}`;
  return `sudo dd if=${download} of=/dev/sdX bs=4M conv=fsync status=progress`;
}

function flashing(image: ReleaseImage, opts: PageOptions): string {
  const download = image.download.file;
  const bmap = image.files.find((f) => f.file.endsWith('.img.bmap'));
  const steps: string[] = [];
  if (image.board.imagerDevices.length > 0) {
    const repo = opts.imagerRepository
      ? ` Or let Imager list this folder's images, and download and check them itself: ${shell(`rpi-imager --repo ${opts.imagerRepository}`)}`
      : '';
    steps.push(`<li><strong>Raspberry Pi Imager</strong>: Choose OS → Use custom, then pick ${code(download)}.${repo}</li>`);
  }
  if (bmap) {
    steps.push(`<li><strong>bmaptool</strong> writes only the blocks that hold data, and checks each: ${shell(`sudo bmaptool copy --bmap ${bmap.file} ${download} /dev/sdX`)}</li>`);
  }
  steps.push(`<li><strong>dd</strong>: ${shell(ddCommand(download))}</li>`);
  return (
    `<h3>Write it to a card or drive</h3>\n<ol>\n${steps.join('\n')}\n</ol>\n` +
    `<p class="note">${code('/dev/sdX')} is the whole card or drive, not a partition (${code('lsblk')} lists them): everything on it is erased.</p>`
  );
}

function imageSection(image: ReleaseImage, opts: PageOptions): string {
  const { download } = image;
  const compressed = download.file !== image.image.file;
  const sizes = compressed ? `${formatBytes(download.size)} (${formatBytes(image.image.size)} uncompressed)` : formatBytes(download.size);
  const files = [...image.files.map((f) => ({ file: f.file, size: f.size })), { file: image.manifest, size: null }];
  const fileItems = files.map((f) => `<li>${link(f.file)} <span class="what">${escapeHtml(describeFile(image, f.file))}${f.size === null ? '' : `, ${formatBytes(f.size)}`}</span></li>`);
  fileItems.push(`<li>${link(SUMS)} <span class="what">checksums of every file</span></li>`);
  for (const s of opts.signatures) fileItems.push(`<li>${link(s)} <span class="what">signature of ${SUMS}</span></li>`);
  return `<section id="${escapeHtml(image.name)}" data-image="${escapeHtml(image.name)}">
<h2>${escapeHtml(image.name)}</h2>
<p>${escapeHtml(image.description)}</p>
<dl>
<dt>Board</dt><dd>${escapeHtml(image.board.description)} · ${escapeHtml(image.board.name)}</dd>
<dt>Architecture</dt><dd>${escapeHtml(image.board.arch)}</dd>
<dt>Download</dt><dd>${link(download.file)}, ${sizes}</dd>
<dt>Built</dt><dd><time datetime="${escapeHtml(image.date)}">${escapeHtml(utc(image.date))}</time></dd>
<dt>SHA-256</dt><dd><code class="hash">${escapeHtml(download.sha256)}</code></dd>
</dl>
<p><a class="button" href="${escapeHtml(encodeURIComponent(download.file))}" download>Download ${escapeHtml(download.file)} (${formatBytes(download.size)})</a></p>
<h3>Files</h3>
<ul class="files">
${fileItems.join('\n')}
</ul>
${flashing(image, opts)}
</section>`;
}

function checking(opts: PageOptions): string {
  const signatureSteps = opts.signatures.map((s) =>
    s.endsWith('.minisig')
      ? `<p>${code(SUMS)} is signed with minisign; with the publisher's public key saved as ${code('minisign.pub')}:</p>\n${shell(`minisign -Vm ${SUMS} -x ${s} -p minisign.pub`)}`
      : `<p>${code(SUMS)} is signed with OpenPGP; with the publisher's key in your keyring:</p>\n${shell(`gpg --verify ${s} ${SUMS}`)}`,
  );
  return `<section id="checking">
<h2>Check what you downloaded</h2>
<p>In the folder you downloaded to, with ${link(SUMS)} beside the files: each file you have should say OK.</p>
${shell(`sha256sum -c --ignore-missing ${SUMS}`)}
${signatureSteps.join('\n')}
</section>`;
}

const STYLE = `
:root { color-scheme: light dark; --accent: #0b6e6a; --muted: #5f6b6b; --panel: #f2f5f5; }
@media (prefers-color-scheme: dark) { :root { --accent: #4fc1bb; --muted: #a9b4b4; --panel: #1e2424; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 46rem; padding: 1rem; font: 1rem/1.5 system-ui, sans-serif; }
header { display: flex; align-items: center; gap: .75rem; }
header img { flex: none; }
h1 { font-size: 1.6rem; margin: .5rem 0; }
h2 { font-size: 1.3rem; margin: 0 0 .25rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .25rem; }
nav ul { padding-left: 1.25rem; }
section { margin: 1.5rem 0; padding: 1rem; border-radius: .5rem; background: var(--panel); }
a { color: var(--accent); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem .75rem; margin: .75rem 0; }
dt { font-weight: 600; }
dd { margin: 0; min-width: 0; }
code, pre { font-family: ui-monospace, monospace; font-size: .9rem; }
.hash { overflow-wrap: anywhere; }
/* wrapped, not scrolled: the whole command stays in sight on a phone */
pre { margin: .4rem 0; padding: .5rem; white-space: pre-wrap; overflow-wrap: anywhere; border-radius: .3rem; background: Canvas; }
.button { display: inline-block; padding: .5rem 1rem; border-radius: .4rem; background: var(--accent); color: Canvas; text-decoration: none; font-weight: 600; overflow-wrap: anywhere; }
.files { padding-left: 1.25rem; overflow-wrap: anywhere; }
.what, .note, footer { color: var(--muted); }
ol { padding-left: 1.25rem; }
li { margin: .25rem 0; }
`;

export function renderReleasePage(images: ReleaseImage[], opts: PageOptions): string {
  const icon = `data:image/png;base64,${clicIconPng().toString('base64')}`;
  const toc = images.length > 1 ? `<nav>\n<ul>\n${images.map((i) => `<li><a href="#${escapeHtml(i.name)}">${escapeHtml(i.name)}</a> — ${escapeHtml(i.board.description)}</li>`).join('\n')}\n</ul>\n</nav>\n` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(opts.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><img src="${icon}" alt="" width="40" height="40"><h1>${escapeHtml(opts.title)}</h1></header>
<main>
<p>Disk images to write to a memory card or USB drive. Each boots a small offline server; pick the one made for your board.</p>
${toc}${images.map((i) => imageSection(i, opts)).join('\n')}
${checking(opts)}
</main>
<footer><p>Made by clic-image. This page has no script and loads nothing from elsewhere.</p></footer>
</body>
</html>
`;
}
