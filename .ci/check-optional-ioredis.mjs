#!/usr/bin/env node
// Checks that each package's manifest tells the truth about ioredis, on the built dist (run after
// `pnpm build`): `node .ci/check-optional-ioredis.mjs` (root script `pnpm check:optional-ioredis`).
//
// - A package whose ioredis peer is optional (peerDependenciesMeta) or absent must load without
//   ioredis installed: every entry of its `exports` is imported in a temp dir that has no ioredis
//   anywhere on its resolution path, and its emitted JS must not load ioredis lazily either
//   (`import('ioredis')`, `require('ioredis')`), which an import would not reveal.
// - A package with a required ioredis peer must fail that import on ioredis (ERR_MODULE_NOT_FOUND):
//   if it stops needing ioredis at load time, the peer should become optional and the README change.
//
// - Other optional peers that only some entry points need (`@opentelemetry/api`: the
//   `/opentelemetry` bridge): every other entry loads without them, and the entries named in
//   ENTRY_PEERS fail on them (as their README says), checked the same way.
//
// The temp dir holds copies of the workspace packages (package.json + dist) and symlinks to the
// third-party dependencies the workspace installed. Exit status 1 on any mismatch.
import { execFileSync } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const packagesDir = join(root, 'packages')

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'))

/** Workspace packages by name: { dir, manifest }. */
const workspace = new Map(
  readdirSync(packagesDir)
    .map((name) => join(packagesDir, name))
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => {
      const manifest = readJson(join(dir, 'package.json'))
      return [manifest.name, { dir, manifest }]
    }),
)

/** 'required' | 'optional' | 'none': what the manifest says about ioredis. */
function ioredisPeer(manifest) {
  if (!manifest.peerDependencies?.ioredis) return 'none'
  return manifest.peerDependenciesMeta?.ioredis?.optional === true ? 'optional' : 'required'
}

/** Every code entry the package exports (JSON files such as `./package.json` or a dashboard aside). */
function entrySpecifiers(manifest) {
  const subpaths = manifest.exports ? Object.keys(manifest.exports) : ['.']
  return subpaths
    .filter((subpath) => !subpath.endsWith('.json'))
    .map((subpath) => (subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`))
}

function jsFiles(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.js'))
    .map((entry) => join(entry.parentPath, entry.name))
}

/** Optional peers needed by some entry points only: peer -> the entries that need it. */
const ENTRY_PEERS = { '@opentelemetry/api': ['@fastkey/fastify-cache/opentelemetry'] }

/** A node_modules tree with the package and its runtime dependencies and peers, but not `excluded`. */
function installWithout(excluded, target, name) {
  const nodeModules = join(target, 'node_modules')
  const placed = new Set()
  const place = (dep, fromDir) => {
    if (dep === excluded || placed.has(dep)) return
    placed.add(dep)
    const destination = join(nodeModules, dep)
    mkdirSync(dirname(destination), { recursive: true })
    const sibling = workspace.get(dep)
    if (sibling) {
      if (!existsSync(join(sibling.dir, 'dist')))
        throw new Error(`${dep} has no dist: run \`pnpm build\` first`)
      cpSync(join(sibling.dir, 'package.json'), join(destination, 'package.json'))
      cpSync(join(sibling.dir, 'dist'), join(destination, 'dist'), { recursive: true })
      const { dependencies = {}, peerDependencies = {} } = sibling.manifest
      for (const next of Object.keys({ ...dependencies, ...peerDependencies })) place(next, sibling.dir)
      return
    }
    // pnpm links every dependency (dev ones too) into the package's own node_modules.
    const installed = join(fromDir, 'node_modules', dep)
    if (!existsSync(installed))
      throw new Error(`${dep} is not installed under ${fromDir}: run \`pnpm install\``)
    symlinkSync(realpathSync(installed), destination, 'dir')
  }
  place(name, root)
}

/** Imports `specifier` in a fresh Node process started in `cwd`: { ok } or { code, message }. */
function importIn(cwd, specifier) {
  const script = `
    try {
      await import(${JSON.stringify(specifier)})
      console.log(JSON.stringify({ ok: true }))
    } catch (err) {
      console.log(JSON.stringify({ ok: false, code: err.code, message: err.message }))
    }`
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd, encoding: 'utf8' })
  return JSON.parse(out.trim().split('\n').at(-1))
}

const LAZY_IOREDIS = /\bimport\(\s*['"]ioredis['"]\s*\)|\brequire\(\s*['"]ioredis['"]\s*\)/

const failures = []
const base = mkdtempSync(join(tmpdir(), 'fastkey-no-ioredis-'))
try {
  for (const [name, { dir, manifest }] of workspace) {
    const peer = ioredisPeer(manifest)
    const target = join(base, name.replace('/', '+'))
    installWithout('ioredis', target, name)
    const probe = importIn(target, 'ioredis')
    if (probe.ok) throw new Error(`ioredis is resolvable from ${target}: the check would prove nothing`)
    for (const specifier of entrySpecifiers(manifest)) {
      const result = importIn(target, specifier)
      const missingIoredis =
        !result.ok && result.code === 'ERR_MODULE_NOT_FOUND' && /'ioredis'/.test(result.message)
      if (peer === 'required') {
        if (missingIoredis)
          console.log(`ok   ${specifier}: needs ioredis (required peer), as its import shows`)
        else
          failures.push(
            `${specifier}: ioredis is a required peer, but the import ${result.ok ? 'worked' : `failed otherwise: ${result.message}`} without it`,
          )
      } else if (result.ok) {
        console.log(`ok   ${specifier}: loads without ioredis (peer ${peer})`)
      } else {
        failures.push(
          `${specifier}: ioredis peer is ${peer}, but the import failed without it: ${result.code} ${result.message}`,
        )
      }
    }
    if (peer !== 'required') {
      for (const file of jsFiles(join(dir, 'dist'))) {
        if (LAZY_IOREDIS.test(readFileSync(file, 'utf8'))) {
          failures.push(
            `${name}: ${file.slice(root.length + 1)} loads ioredis at runtime, but its ioredis peer is ${peer}`,
          )
        }
      }
    }
  }
  for (const [peer, needing] of Object.entries(ENTRY_PEERS)) {
    for (const [name, { manifest }] of workspace) {
      if (!manifest.peerDependencies?.[peer]) continue
      if (manifest.peerDependenciesMeta?.[peer]?.optional !== true)
        failures.push(`${name}: ${peer} is a peer only some entries need, it must be optional`)
      const target = join(base, `${name.replace('/', '+')}-without-${peer.replace('/', '+')}`)
      installWithout(peer, target, name)
      if (importIn(target, peer).ok)
        throw new Error(`${peer} is resolvable from ${target}: the check would prove nothing`)
      for (const specifier of entrySpecifiers(manifest)) {
        const result = importIn(target, specifier)
        const missing =
          !result.ok && result.code === 'ERR_MODULE_NOT_FOUND' && result.message.includes(`'${peer}'`)
        if (needing.includes(specifier)) {
          if (missing)
            console.log(`ok   ${specifier}: needs ${peer} (optional peer of this entry), as its import shows`)
          else
            failures.push(
              `${specifier}: expected to need ${peer}, but the import ${result.ok ? 'worked' : `failed otherwise: ${result.message}`} without it`,
            )
        } else if (result.ok) console.log(`ok   ${specifier}: loads without ${peer}`)
        else
          failures.push(
            `${specifier}: must load without ${peer}, but failed: ${result.code} ${result.message}`,
          )
      }
    }
  }
} finally {
  rmSync(base, { recursive: true, force: true })
}

if (failures.length > 0) {
  for (const failure of failures) console.error(`FAIL ${failure}`)
  process.exit(1)
}
