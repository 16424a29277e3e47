/**
 * withPrefetchOff — the manifest.toml of a staged app package, with `prefetch = false` on every
 * source. YunoHost's SourcesResource downloads each source whose `prefetch` is true (the
 * default) into /var/cache/yunohost/download/<app>/<source id> before the install script runs,
 * with wget, and fails the install when that fails; with prefetch off it does nothing, and
 * ynh_setup_source takes the file already at that path when its sha256 matches the manifest's
 * (it downloads only when the file is missing or wrong). So a kit with no network installs from
 * the file the build staged there. (Checked in YunoHost's src/utils/resources.py and
 * helpers/helpers.v2.1.d/sources.)
 *
 *   withPrefetchOff('[resources.sources.main]\nurl = "…"\nsha256 = "…"\n')
 *   // '[resources.sources.main]\nprefetch = false\nurl = "…"\nsha256 = "…"\n'
 *
 * No options. The packager's text is kept (comments, layout, dotted keys such as
 * `amd64.sha256 = "…"`, which scripts may grep): one line is added below the table that holds
 * each source. The result is parsed again and must equal the manifest with the flags set; when
 * the layout defeats the line edit (inline tables, an existing `prefetch = true`…), the
 * manifest is written anew from its parsed form instead, comments lost.
 */
import { parse, stringify } from 'smol-toml';
import { isTable, parseManifest, type Manifest } from './manifest.ts';

/** Keys sorted at every level: two documents are the same when these strings are. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_key, value: unknown) =>
    isTable(value) && !(value instanceof Date) ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : value,
  );
}

const bareKey = (k: string) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k));

/** `a."b.c".d` → ['a', 'b.c', 'd']; null when it cannot be read (the line edit then gives up). */
function keyPath(text: string): string[] | null {
  const parts: string[] = [];
  const re = /\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*(\.|$)/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) return null;
    parts.push(m[1] ?? (m[2] !== undefined ? (JSON.parse(`"${m[2]}"`) as string) : m[3]));
    at = re.lastIndex;
    if (m[4] === '') break;
  }
  return parts;
}

/** Where each `[table]` header is (line index by its path joined with NUL); multi-line strings skipped. */
function tableHeaders(lines: string[]): Map<string, number> {
  const headers = new Map<string, number>();
  let open: '"""' | "'''" | null = null;
  lines.forEach((line, index) => {
    let i = 0;
    if (!open) {
      const header = /^\s*\[([^[\]]+)\]\s*(#.*)?$/.exec(line);
      const path = header && keyPath(header[1].trim());
      if (path && !headers.has(path.join('\0'))) headers.set(path.join('\0'), index);
      if (header) return;
    }
    while (i < line.length) {
      if (open) {
        const close = line.indexOf(open, i);
        if (close < 0) return;
        open = null;
        i = close + 3;
        continue;
      }
      const c = line[i];
      if (c === '#') return;
      if (line.startsWith('"""', i) || line.startsWith("'''", i)) {
        open = line.slice(i, i + 3) as '"""' | "'''";
        i += 3;
      } else if (c === '"' || c === "'") {
        const end = c === '"' ? /"(?:[^"\\]|\\.)*"/y : /'[^']*'/y;
        end.lastIndex = i;
        i = end.exec(line) ? end.lastIndex : line.length;
      } else i++;
    }
  });
  return headers;
}

/** The line edit: null when some source's table cannot be found by its header. */
function insertFlags(text: string, ids: string[]): string | null {
  const lines = text.split('\n');
  const headers = tableHeaders(lines);
  const inserts: { after: number; line: string }[] = [];
  for (const id of ids) {
    const own = headers.get(['resources', 'sources', id].join('\0'));
    const sources = headers.get(['resources', 'sources'].join('\0'));
    const resources = headers.get('resources');
    const [after, key] =
      own !== undefined ? [own, 'prefetch'] : sources !== undefined ? [sources, `${bareKey(id)}.prefetch`] : resources !== undefined ? [resources, `sources.${bareKey(id)}.prefetch`] : [-1, ''];
    if (after < 0) return null;
    // indented like the line below the header, as the packager wrote that table
    const indent = /^\s*/.exec(lines[after + 1] ?? '')![0] || /^\s*/.exec(lines[after])![0];
    inserts.push({ after, line: `${indent}${key} = false` });
  }
  // from the bottom up, so that earlier indexes hold; in order below the same header
  inserts.reverse().sort((a, b) => b.after - a.after);
  for (const { after, line } of inserts) lines.splice(after + 1, 0, line);
  return lines.join('\n');
}

const sourcesOf = (manifest: Manifest): Record<string, unknown> =>
  isTable(manifest.resources) && isTable(manifest.resources.sources) ? manifest.resources.sources : {};

/** The manifest text with `prefetch = false` on every source of `resources.sources`. */
export function withPrefetchOff(tomlText: string): string {
  const flagged = parseManifest(tomlText);
  const sources = sourcesOf(flagged);
  const ids = Object.keys(sources).filter((id) => isTable(sources[id]) && sources[id].prefetch !== false);
  if (!ids.length) return tomlText;
  // an existing `prefetch = true` would be defined twice by the line edit
  const hasFlag = ids.some((id) => 'prefetch' in (sources[id] as Record<string, unknown>));
  for (const id of ids) (sources[id] as Record<string, unknown>).prefetch = false;
  const edited = hasFlag ? null : insertFlags(tomlText, ids);
  if (edited !== null) {
    try {
      if (canonical(parse(edited)) === canonical(flagged)) return edited;
    } catch {
      // the layout defeated the line edit: written anew below
    }
  }
  return stringify(flagged);
}
