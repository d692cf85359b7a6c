import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'

/**
 * Checks an unpacked tarball (the `package/` folder `npm pack` and `pnpm pack` produce) for what a user
 * of the published package would trip over. Each problem is one sentence naming the file and the
 * reference; an empty list means the tarball is consistent.
 */
export async function checkPackedPackage(dir: string): Promise<string[]> {
  const files = await listFiles(dir)
  const shipped = new Set(files)
  const manifest = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as Manifest
  const problems = [
    ...manifestTargetProblems(manifest, shipped),
    ...filesFieldProblems(manifest, files),
    ...protocolProblems(manifest),
  ]
  for (const file of files) {
    const text = () => readFile(path.join(dir, file), 'utf8')
    if (file.endsWith('.map')) problems.push(...mapProblems(file, await text(), shipped))
    else if (CODE_FILE.test(file)) problems.push(...codeProblems(file, await text(), shipped))
    else if (/^readme(\.md)?$/i.test(file)) problems.push(...readmeProblems(file, await text()))
  }
  return problems
}

interface Manifest {
  [field: string]: unknown
  files?: unknown
}

const CODE_FILE = /\.(?:[cm]?js|d\.[cm]?ts)$/

/** Relative posix paths of every file under `dir`. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort()
}

/**
 * `target` as a package-relative path (`./dist/x.js` -> `dist/x.js`), relative to the file `from` when
 * given, else to the package root; `null` for a path that leaves the package.
 */
function normalize(target: string, from?: string): string | null {
  const base = from === undefined ? '.' : path.posix.dirname(from)
  const joined = path.posix.normalize(path.posix.join(base, target))
  return joined.startsWith('../') || joined === '..' ? null : joined
}

/** A `*` or `**` pattern as a regex over relative paths. */
function patternRegex(pattern: string): RegExp {
  const escaped = pattern
    .split('**')
    .map((part) =>
      part
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*'),
    )
    .join('.*')
  return new RegExp(`^${escaped}$`)
}

function matchesAny(target: string, files: Iterable<string>): boolean {
  if (!target.includes('*')) return new Set(files).has(target)
  const regex = patternRegex(target)
  for (const file of files) if (regex.test(file)) return true
  return false
}

/** Every path in `exports` (all conditions), `main`, `module`, `types`, `typings`, `browser`, `bin`. */
function manifestTargets(manifest: Manifest): Array<{ field: string; target: string }> {
  const out: Array<{ field: string; target: string }> = []
  const walk = (field: string, value: unknown) => {
    if (typeof value === 'string') out.push({ field, target: value })
    else if (value && typeof value === 'object') {
      // Arrays too (fallback lists): their indexes are the keys.
      for (const [key, v] of Object.entries(value)) walk(`${field}[${JSON.stringify(key)}]`, v)
    }
  }
  for (const field of ['main', 'module', 'types', 'typings', 'browser', 'bin', 'exports']) {
    walk(field, manifest[field])
  }
  return out
}

function manifestTargetProblems(manifest: Manifest, shipped: Set<string>): string[] {
  const problems: string[] = []
  for (const { field, target } of manifestTargets(manifest)) {
    const file = normalize(target)
    if (file === null) problems.push(`package.json ${field} points outside the package: ${target}`)
    else if (!matchesAny(file, shipped)) {
      problems.push(`package.json ${field} points at ${target}, which is not in the tarball`)
    }
  }
  return problems
}

function filesFieldProblems(manifest: Manifest, files: string[]): string[] {
  if (manifest.files === undefined) return []
  if (!Array.isArray(manifest.files)) return ['package.json files is not an array']
  const problems: string[] = []
  for (const entry of manifest.files) {
    if (typeof entry !== 'string' || entry.startsWith('!')) continue
    const wanted = normalize(entry.replace(/\/+$/, ''))
    if (wanted === null || !files.some((file) => coveredBy(file, wanted))) {
      problems.push(`package.json files lists ${entry}, but the tarball has nothing under it`)
    }
  }
  return problems
}

/** A `files` entry names a file, a folder (everything under it) or a pattern of either. */
function coveredBy(file: string, entry: string): boolean {
  if (!entry.includes('*')) return file === entry || file.startsWith(`${entry}/`)
  const regex = patternRegex(entry)
  const parts = file.split('/')
  return parts.some((_, i) => regex.test(parts.slice(0, i + 1).join('/')))
}

/** `workspace:` and `catalog:` only mean something inside this repository. */
function protocolProblems(manifest: Manifest): string[] {
  const problems: string[] = []
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    const deps = manifest[field]
    if (!deps || typeof deps !== 'object') continue
    for (const [name, range] of Object.entries(deps)) {
      if (typeof range === 'string' && /^(workspace|catalog):/.test(range)) {
        problems.push(`package.json ${field}.${name} is ${range}, which only resolves inside the workspace`)
      }
    }
  }
  return problems
}

function mapProblems(file: string, text: string, shipped: Set<string>): string[] {
  let map: { sources?: unknown; sourcesContent?: unknown; sourceRoot?: unknown }
  try {
    map = JSON.parse(text)
  } catch {
    return [`${file} is not valid JSON`]
  }
  const sources = Array.isArray(map.sources) ? map.sources : []
  const contents = Array.isArray(map.sourcesContent) ? map.sourcesContent : []
  const root = typeof map.sourceRoot === 'string' ? map.sourceRoot : ''
  const problems: string[] = []
  sources.forEach((source, i) => {
    // A source whose text is embedded in the map needs no file.
    if (typeof source !== 'string' || typeof contents[i] === 'string' || /^[a-z]+:/i.test(source)) return
    const resolved = normalize(path.posix.join(root, source), file)
    if (resolved === null || !shipped.has(resolved)) {
      problems.push(`${file} maps to source ${source}, which is not in the tarball`)
    }
  })
  return problems
}

const MAP_COMMENT = /^\s*\/\/# sourceMappingURL=(\S+)\s*$/gm
// Relative module specifiers in import/export declarations, import() types and calls, and require().
const RELATIVE_SPECIFIER =
  /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]*)\1/gm

function codeProblems(file: string, text: string, shipped: Set<string>): string[] {
  const problems: string[] = []
  for (const [, url] of text.matchAll(MAP_COMMENT)) {
    if (url!.startsWith('data:')) continue
    const resolved = normalize(url!, file)
    if (resolved === null || !shipped.has(resolved)) {
      problems.push(`${file} names the source map ${url}, which is not in the tarball`)
    }
  }
  const declaration = /\.d\.[cm]?ts$/.test(file)
  for (const [, , specifier] of text.matchAll(RELATIVE_SPECIFIER)) {
    const resolved = normalize(specifier!, file)
    if (resolved !== null && resolvesTo(resolved, declaration, shipped)) continue
    problems.push(`${file} imports ${specifier}, which is not in the tarball`)
  }
  return problems
}

/** In a declaration file `./x.js` means `./x.d.ts` (and `.mjs`/`.cjs` their `.d.mts`/`.d.cts`). */
function resolvesTo(file: string, declaration: boolean, shipped: Set<string>): boolean {
  if (shipped.has(file)) return true
  if (!declaration) return false
  const typed = file.replace(/\.([cm]?)js$/, '.d.$1ts')
  return typed !== file && shipped.has(typed)
}

// Inline links and images: [text](target) and ![alt](target "title"); then <img src="...">, <a href="...">.
const MARKDOWN_LINK = /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g
const HTML_LINK = /<(?:img|a)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']/gi

/**
 * The npm website shows the README apart from the repository, where a relative link has nothing to
 * resolve against: every link must be absolute or an anchor in the README itself.
 */
function readmeProblems(file: string, text: string): string[] {
  const withoutCode = text.replace(/^```[\s\S]*?^```/gm, '')
  const problems: string[] = []
  for (const regex of [MARKDOWN_LINK, HTML_LINK]) {
    for (const [, target] of withoutCode.matchAll(regex)) {
      if (/^(?:[a-z][a-z0-9+.-]*:|#)/i.test(target!)) continue
      problems.push(`${file} links to ${target}, a relative link that does not resolve on npm`)
    }
  }
  return problems
}
