import { spawnSync } from 'node:child_process'
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { checkPackedPackage } from './check.js'
import { packPackage } from './pack.js'

/**
 * `tsx tooling/pack-check/src/cli.ts [packageDir]` (default: the current folder), run by each
 * published package's `check:publish` after its build. Packs the package once with pnpm, checks the
 * tarball's contents, then runs publint and attw on that same tarball, so all three judge exactly
 * what would be published. Exits 1 when anything is wrong.
 */
async function main(): Promise<number> {
  const packageDir = path.resolve(process.argv[2] ?? '.')
  const packed = await packPackage(packageDir)
  try {
    const { name } = JSON.parse(await readFile(path.join(packed.dir, 'package.json'), 'utf8'))
    const problems = await checkPackedPackage(packed.dir)
    const { files, bytes } = await unpackedSize(packed.dir)
    console.log(
      `[pack-check] ${name}: ${files} files, ${packed.packedBytes} bytes packed, ${bytes} bytes unpacked`,
    )
    for (const problem of problems) console.error(`[pack-check] ${name}: ${problem}`)
    const tools = [
      ['publint', 'run', packed.tarball, '--strict'],
      ['attw', packed.tarball, '--profile', 'esm-only'],
    ]
    let failed = problems.length > 0
    for (const [command, ...args] of tools) {
      const result = spawnSync(command!, args, { stdio: 'inherit' })
      if (result.status !== 0) {
        console.error(`[pack-check] ${name}: ${command} failed (${result.error?.message ?? result.status})`)
        failed = true
      }
    }
    return failed ? 1 : 0
  } finally {
    await packed.remove()
  }
}

async function unpackedSize(dir: string): Promise<{ files: number; bytes: number }> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  let files = 0
  let bytes = 0
  for (const entry of entries) {
    if (!entry.isFile()) continue
    files++
    bytes += (await stat(path.join(entry.parentPath, entry.name))).size
  }
  return { files, bytes }
}

process.exitCode = await main()
